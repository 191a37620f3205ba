//! Tests of `bind`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use crate::body::model::{parse, TokenBody};
use base64::Engine as _;
use serde_json::json;

// Generated once with `openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=client-a -days 3650`;
// the fingerprints are `openssl x509 -outform DER | sha256sum`.
const CERT_A: &str = "-----BEGIN CERTIFICATE-----
MIIDBzCCAe+gAwIBAgIUdrqver7zjkyl9bELPCWmubnK2GcwDQYJKoZIhvcNAQEL
BQAwEzERMA8GA1UEAwwIY2xpZW50LWEwHhcNMjYxMTI0MDIwMDM2WhcNMzYxMTIx
MDIwMDM2WjATMREwDwYDVQQDDAhjbGllbnQtYTCCASIwDQYJKoZIhvcNAQEBBQAD
ggEPADCCAQoCggEBAJcnCcWTwapmwSWwtq1NB4jd/oKyabObWHzoTS4TuLmSVpzs
8CywauwJOtkvhi9HiLU9VQa8sp/99vfyu/0IQhV1jNK0XWwv2oTxqU08FTn2C8Vm
zTt3b0/1IPiRnGcqGAjVnxpKgqNQnQKoX2msH51vp8O3yii0IdFu1HUmfJ3LcfiF
Jrq0etbF2SOK0LPqMH41GMY/yhttPU7xbiLsLtAvBuwz5g08C10cMrxp9YQ0hJjN
GQSni2GgC7qxH0XV2Y8Cu667AU/2OHGPG+Px6CEwL5LpQZEpl2s35mmmWmte43fA
6V3omLaRcPyYXFcVYgk9Jwh640Jyxs55Udq0PrMCAwEAAaNTMFEwHQYDVR0OBBYE
FJb59m45YZG6CXvt9dUHqU/pUdFbMB8GA1UdIwQYMBaAFJb59m45YZG6CXvt9dUH
qU/pUdFbMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEBAHxZfe2/
aJWpYIcytznGWR4LGsf+ytGdIqiWrRSKFFJ3UVM5gUPxf7iRjLqtUPKahbzXKfNp
scTCM7NDpu76ycvTCOgsxQbhjbkg8lMBH5XlMW9zr8wmnsluZHIa1en5WYXapK0N
L10EjgrsyIh0BDPFPfyiUgJdZSg8/PxOLTgzn0T+ood/WnSkJcHfyUDk1RBlCr/A
526OAIcMROuqtdQTuvPmDFz1PfWoMoL9sni7OlkhSn96G+ODPM248mMgPDiQ58Cy
iXC++vDwzNqvlXrHtyG7yalukyRPYvGgUbbT1aLkwWAWKptAGoR1hp3Jugg2Yq8z
2GR2WMkA+DB7STs=
-----END CERTIFICATE-----
";
const CERT_A_SHA256: &str = "c273bc762bc38ed953a350c75c48df4c917329517f38a61ba613ea421f30db78";

const CERT_B: &str = "-----BEGIN CERTIFICATE-----
MIIDBzCCAe+gAwIBAgIUDGg+GvK/JpcQOKJBce5cL3hon2IwDQYJKoZIhvcNAQEL
BQAwEzERMA8GA1UEAwwIY2xpZW50LWIwHhcNMjYxMTI0MDIwMDM2WhcNMzYxMTIx
MDIwMDM2WjATMREwDwYDVQQDDAhjbGllbnQtYjCCASIwDQYJKoZIhvcNAQEBBQAD
ggEPADCCAQoCggEBAMrqsLbaARMJ+h4QbwZz4UxtRSune1IZ6Ch5PNM/9358OgfG
qY2ETgP1XrktgykRAqmdMRh/N7IBKx5/BIZoWlMXQaOjajxVxQD/6OqUCutXC2YB
KG3PpvTGaNs9QmAkS3yX66ZaOJt5OxvH9kiEtGu5/+o/iIhi8Qy6VrWhjU8AeCB1
qCSk2VWdAO0rI3juBbGkxN6g06yWTPwMjO1y4PkQz6OLNLu21S4N9b2ZVANkGv7u
P7s6DHHJg+DAcc/flHcX5ifteoAjzT8kZqcnR8lnFMwVdXVQ/DQVblUO/ybYm8NY
wQwC7gSOupkvnS0c1QoDePkL4OL7Zp4OSHVDORMCAwEAAaNTMFEwHQYDVR0OBBYE
FKMsvTTneM9FZ+3oR1QbOXlT6EUSMB8GA1UdIwQYMBaAFKMsvTTneM9FZ+3oR1Qb
OXlT6EUSMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEBAJ0SuVyZ
R/6cD666d2+pyMWJOCgylF7W9RLSLI9lMUQa5uwSlH1GCxWkosQdCRCM6SXP/fQC
dS4nhvGBub5lPwtDxpbc/IlyI+J+l3ggsP8uN1qZVcBm5cOh1Y60JB68jo+8W6Ns
jfdkmLLhYhRHXzp2aewAufWJnQLVsTK20ChxBgg4eIGADvzPQ623/kbt5DXi2NoK
QRfabqm7E0MEO7eesnfGgJFpLYOrx90DbuS5xZQhj3gkSDZST6/pFhSFLgA9qY0h
vA6gPt1N0h9UcvQ/QAe70p+bHZZ0qk3f2K/wMBXBYWbIGSKAnjZeKrPWa4oz4aVk
WC3kI1qhvbJnPRY=
-----END CERTIFICATE-----
";
const CERT_B_SHA256: &str = "f216b058b9a9c06af231c3f6e2ea53e762a2a5f9f2243ef77434291dd6536874";

/// DER of a PEM constant, decoded independently of [`certificate_der`].
#[test]
fn configured_modes_are_known_ones() {
    for ok in [
        "disabled",
        "permissive",
        "strict",
        "required",
        "kerberos",
        "x509",
    ] {
        assert_eq!(BindMode::parse_configured(ok), Ok(BindMode::parse(ok)));
    }
    for bad in ["Strict", "", "FOO", "kerberos,x509"] {
        let err = BindMode::parse_configured(bad).unwrap_err();
        assert!(
            err.to_string()
                .contains("expected disabled, permissive, strict, required"),
            "{err}"
        );
    }
}

fn der_of(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

const P: &str = "USER@REALM";

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn krb_ok() -> AuthContext<'static> {
    AuthContext {
        auth_type: Some("Negotiate"),
        remote_user: Some(P),
        client_cert: None,
    }
}

fn krb_not_ok() -> AuthContext<'static> {
    AuthContext {
        auth_type: Some("Negotiate"),
        remote_user: Some("OTHER@REALM"),
        client_cert: None,
    }
}

// The table's modes; `x509` stands for "any other name" in the original table.
fn modes() -> [BindMode; 7] {
    [
        BindMode::Disabled,
        BindMode::Permissive,
        BindMode::Strict,
        BindMode::Required,
        BindMode::Named("kerberos".into()),
        BindMode::Named("x509".into()),
        BindMode::Named("FOO".into()),
    ]
}

use BindRejection::*;
type Outcome = std::result::Result<(), BindRejection>;
const OK: Outcome = Ok(());

fn named(name: &str) -> Outcome {
    Err(ModeNotInBind(name.into()))
}

#[test]
fn mode_parsing_is_exact() {
    assert_eq!(BindMode::parse("disabled"), BindMode::Disabled);
    assert_eq!(BindMode::parse("permissive"), BindMode::Permissive);
    assert_eq!(BindMode::parse("strict"), BindMode::Strict);
    assert_eq!(BindMode::parse("required"), BindMode::Required);
    assert_eq!(
        BindMode::parse("kerberos"),
        BindMode::Named("kerberos".into())
    );
    assert_eq!(
        BindMode::parse("Permissive"),
        BindMode::Named("Permissive".into())
    );
    assert_eq!(
        BindMode::parse(" strict"),
        BindMode::Named(" strict".into())
    );
    assert_eq!(BindMode::parse(""), BindMode::Named(String::new()));
    assert_eq!(
        "STRICT".parse::<BindMode>().unwrap(),
        BindMode::Named("STRICT".into())
    );
    assert_eq!(BindMode::default(), BindMode::Permissive);
    for s in [
        "disabled",
        "permissive",
        "strict",
        "required",
        "x509",
        "Permissive",
        "",
    ] {
        assert_eq!(BindMode::parse(s).as_str(), s);
        assert_eq!(BindMode::parse(s).to_string(), s);
    }
}

/// The reference's decision table, one row per mode: [none/{}, K krb ok, K krb not ok, FOO only, K + FOO krb ok].
#[test]
fn decision_table() {
    let k = map(json!({"kerberos": P}));
    let foo = map(json!({"FOO": "BAR"}));
    let k_foo = map(json!({"kerberos": P, "FOO": "BAR"}));
    let empty = Map::new();
    let unsupported = || -> Outcome { Err(UnsupportedBindType("FOO".into())) };
    let expected: [[Outcome; 5]; 7] = [
        [OK, OK, OK, OK, OK],
        [OK, OK, Err(KerberosMismatch), OK, OK],
        [OK, OK, Err(KerberosMismatch), unsupported(), unsupported()],
        [
            Err(MissingBind),
            OK,
            Err(KerberosMismatch),
            unsupported(),
            unsupported(),
        ],
        [
            Err(MissingBind),
            OK,
            Err(KerberosMismatch),
            named("kerberos"),
            unsupported(),
        ],
        [
            Err(MissingBind),
            named("x509"),
            named("x509"),
            named("x509"),
            named("x509"),
        ],
        // A named mode equal to an unknown type passes the presence check and fails in the loop.
        [
            Err(MissingBind),
            named("FOO"),
            named("FOO"),
            unsupported(),
            unsupported(),
        ],
    ];
    for (mode, row) in modes().iter().zip(expected) {
        let [none, k_ok, k_not_ok, foo_only, k_foo_ok] = row;
        assert_eq!(enforce(mode, None, &krb_ok()), none, "{mode}: none");
        assert_eq!(enforce(mode, Some(&empty), &krb_ok()), none, "{mode}: {{}}");
        assert_eq!(enforce(mode, Some(&k), &krb_ok()), k_ok, "{mode}: K krb ok");
        assert_eq!(
            enforce(mode, Some(&k), &krb_not_ok()),
            k_not_ok,
            "{mode}: K krb not ok"
        );
        assert_eq!(
            enforce(mode, Some(&foo), &krb_ok()),
            foo_only,
            "{mode}: FOO"
        );
        assert_eq!(
            enforce(mode, Some(&k_foo), &krb_ok()),
            k_foo_ok,
            "{mode}: K + FOO"
        );
    }
}

#[test]
fn capitalised_permissive_is_a_named_mode() {
    let mode = BindMode::parse("Permissive");
    let k = map(json!({"kerberos": P}));
    assert_eq!(enforce(&mode, None, &krb_ok()), Err(MissingBind));
    assert_eq!(enforce(&mode, Some(&k), &krb_ok()), named("Permissive"));
    assert_eq!(
        enforce(&mode, Some(&map(json!({"FOO": 1}))), &krb_ok()),
        named("Permissive")
    );
    assert_eq!(
        enforce(&mode, Some(&map(json!({"Permissive": 1}))), &krb_ok()),
        Err(UnsupportedBindType("Permissive".into()))
    );
}

#[test]
fn empty_named_mode_acts_like_required() {
    // Python's `if name and name not in bind` skips the check for the empty string.
    let mode = BindMode::parse("");
    assert_eq!(enforce(&mode, None, &krb_ok()), Err(MissingBind));
    assert_eq!(
        enforce(&mode, Some(&map(json!({"kerberos": P}))), &krb_ok()),
        OK
    );
    assert_eq!(
        enforce(&mode, Some(&map(json!({"FOO": 1}))), &krb_ok()),
        Err(UnsupportedBindType("FOO".into()))
    );
}

#[test]
fn kerberos_matching_details() {
    let k = map(json!({"kerberos": P}));
    let ctx = |auth_type, remote_user| AuthContext {
        auth_type,
        remote_user,
        client_cert: None,
    };
    for mode in [
        BindMode::Permissive,
        BindMode::Strict,
        BindMode::Required,
        BindMode::parse("kerberos"),
    ] {
        for auth in ["negotiate", "Negotiate", "NEGOTIATE", "nEgOtIaTe"] {
            assert_eq!(
                enforce(&mode, Some(&k), &ctx(Some(auth), Some(P))),
                OK,
                "{mode} {auth}"
            );
        }
        let rejects = [
            ctx(None, Some(P)),
            ctx(Some("Basic"), Some(P)),
            ctx(Some(" negotiate"), Some(P)),
            ctx(Some("negotiate "), Some(P)),
            ctx(Some(""), Some(P)),
            ctx(Some("Negotiate"), None),
            ctx(Some("Negotiate"), Some("user@realm")),
            ctx(Some("Negotiate"), Some("USER@REALM ")),
            ctx(Some("Negotiate"), Some("USER")),
            ctx(Some("Negotiate"), Some("")),
        ];
        for c in rejects {
            assert_eq!(
                enforce(&mode, Some(&k), &c),
                Err(KerberosMismatch),
                "{mode} {c:?}"
            );
        }
        // The identifier must be a JSON string.
        for id in [json!(null), json!(1), json!([P]), json!({"principal": P})] {
            let b = map(json!({"kerberos": id}));
            assert_eq!(
                enforce(&mode, Some(&b), &krb_ok()),
                Err(KerberosMismatch),
                "{mode} {id}"
            );
        }
    }
    assert_eq!(enforce(&BindMode::Disabled, Some(&k), &ctx(None, None)), OK);
}

fn x509_bind(fp: &str) -> Map<String, Value> {
    map(json!({"x509": {"sha256": fp}}))
}

#[test]
fn fingerprints_match_openssl() {
    assert_eq!(x509_fingerprint(CERT_A.as_bytes()).unwrap(), CERT_A_SHA256);
    assert_eq!(x509_fingerprint(&der_of(CERT_A)).unwrap(), CERT_A_SHA256);
    assert_eq!(x509_fingerprint(CERT_B.as_bytes()).unwrap(), CERT_B_SHA256);
    assert_eq!(x509_fingerprint(&der_of(CERT_B)).unwrap(), CERT_B_SHA256);
    let crlf = CERT_A.replace('\n', "\r\n");
    assert_eq!(x509_fingerprint(crlf.as_bytes()).unwrap(), CERT_A_SHA256);
    let with_text = format!("subject=CN = client-a\n\n{CERT_A}\ntrailing words\n");
    assert_eq!(
        x509_fingerprint(with_text.as_bytes()).unwrap(),
        CERT_A_SHA256
    );
}

#[test]
fn bad_certificates_are_invalid_arguments() {
    let der = der_of(CERT_A);
    let mut trailing = der.clone();
    trailing.push(0);
    let two = format!("{CERT_A}{CERT_B}");
    let bad_b64 = CERT_A.replace("MIID", "MI*D");
    let no_end = CERT_A.replace("-----END CERTIFICATE-----", "");
    let key = CERT_A.replace("CERTIFICATE", "PRIVATE KEY");
    let inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"not a certificate".to_vec(),
        der[..der.len() - 1].to_vec(),
        trailing,
        two.into_bytes(),
        bad_b64.into_bytes(),
        no_end.into_bytes(),
        key.into_bytes(),
        b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n".to_vec(),
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
        b"\xff-----BEGIN CERTIFICATE-----".to_vec(),
    ];
    for input in inputs {
        assert!(
            matches!(x509_fingerprint(&input), Err(Error::InvalidArgument(_))),
            "{:?}",
            String::from_utf8_lossy(&input)
        );
        let mut body = json!({"token": {}});
        assert!(matches!(
            add_x509_bind(&mut body, &input),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(
            body,
            json!({"token": {}}),
            "a failed add leaves the body alone"
        );
    }
}

/// Our rows: [x509 ok (PEM), x509 ok (DER), other cert, no cert, K ok + x509 ok, K ok + other cert].
#[test]
fn x509_decision_rows() {
    let der_a = der_of(CERT_A);
    let x = x509_bind(CERT_A_SHA256);
    let kx = map(json!({"kerberos": P, "x509": {"sha256": CERT_A_SHA256}}));
    fn with_cert(cert: Option<&[u8]>) -> AuthContext<'_> {
        AuthContext {
            client_cert: cert,
            ..krb_ok()
        }
    }
    let pem = Some(CERT_A.as_bytes());
    let der = Some(der_a.as_slice());
    let other = Some(CERT_B.as_bytes());
    let expected: [[Outcome; 6]; 7] = [
        [OK, OK, OK, OK, OK, OK],
        [
            OK,
            OK,
            Err(X509Mismatch),
            Err(X509Mismatch),
            OK,
            Err(X509Mismatch),
        ],
        [
            OK,
            OK,
            Err(X509Mismatch),
            Err(X509Mismatch),
            OK,
            Err(X509Mismatch),
        ],
        [
            OK,
            OK,
            Err(X509Mismatch),
            Err(X509Mismatch),
            OK,
            Err(X509Mismatch),
        ],
        [
            named("kerberos"),
            named("kerberos"),
            named("kerberos"),
            named("kerberos"),
            OK,
            Err(X509Mismatch),
        ],
        [
            OK,
            OK,
            Err(X509Mismatch),
            Err(X509Mismatch),
            OK,
            Err(X509Mismatch),
        ],
        [
            named("FOO"),
            named("FOO"),
            named("FOO"),
            named("FOO"),
            named("FOO"),
            named("FOO"),
        ],
    ];
    for (mode, row) in modes().iter().zip(expected) {
        let [pem_ok, der_ok, other_cert, no_cert, k_x_ok, k_x_other] = row;
        assert_eq!(
            enforce(mode, Some(&x), &with_cert(pem)),
            pem_ok,
            "{mode}: PEM"
        );
        assert_eq!(
            enforce(mode, Some(&x), &with_cert(der)),
            der_ok,
            "{mode}: DER"
        );
        assert_eq!(
            enforce(mode, Some(&x), &with_cert(other)),
            other_cert,
            "{mode}: other"
        );
        assert_eq!(
            enforce(mode, Some(&x), &with_cert(None)),
            no_cert,
            "{mode}: none"
        );
        assert_eq!(
            enforce(mode, Some(&kx), &with_cert(pem)),
            k_x_ok,
            "{mode}: K + x509"
        );
        assert_eq!(
            enforce(mode, Some(&kx), &with_cert(other)),
            k_x_other,
            "{mode}: K + other"
        );
    }
    // A matching certificate does not excuse a kerberos mismatch, nor the reverse.
    let ctx = AuthContext {
        client_cert: pem,
        ..krb_not_ok()
    };
    assert_eq!(
        enforce(&BindMode::Strict, Some(&kx), &ctx),
        Err(KerberosMismatch)
    );
    // x509 + FOO: permissive ignores FOO, the named x509 mode does not.
    let xf = map(json!({"x509": {"sha256": CERT_A_SHA256}, "FOO": "BAR"}));
    assert_eq!(
        enforce(&BindMode::Permissive, Some(&xf), &with_cert(pem)),
        OK
    );
    assert_eq!(
        enforce(&BindMode::parse("x509"), Some(&xf), &with_cert(pem)),
        Err(UnsupportedBindType("FOO".into()))
    );
}

#[test]
fn x509_identifier_must_be_exact() {
    let ctx = AuthContext {
        client_cert: Some(CERT_A.as_bytes()),
        ..AuthContext::default()
    };
    for mode in [
        BindMode::Permissive,
        BindMode::Required,
        BindMode::parse("x509"),
    ] {
        let bad = [
            json!({"x509": {"sha256": CERT_A_SHA256.to_uppercase()}}),
            json!({"x509": {"sha256": format!("{CERT_A_SHA256} ")}}),
            json!({"x509": {"sha256": &CERT_A_SHA256[..63]}}),
            json!({"x509": {"sha1": CERT_A_SHA256}}),
            json!({"x509": {}}),
            json!({"x509": CERT_A_SHA256}),
            json!({"x509": [CERT_A_SHA256]}),
            json!({"x509": null}),
        ];
        for b in bad {
            assert_eq!(
                enforce(&mode, Some(&map(b.clone())), &ctx),
                Err(X509Mismatch),
                "{mode} {b}"
            );
        }
        // Extra keys next to sha256 are tolerated.
        let extra = map(json!({"x509": {"sha256": CERT_A_SHA256, "note": "x"}}));
        assert_eq!(enforce(&mode, Some(&extra), &ctx), OK);
        // An unparsable client certificate never matches.
        let garbage = AuthContext {
            client_cert: Some(b"garbage"),
            ..AuthContext::default()
        };
        assert_eq!(
            enforce(&mode, Some(&x509_bind(CERT_A_SHA256)), &garbage),
            Err(X509Mismatch)
        );
    }
}

#[test]
fn add_binds_v2_and_v3() {
    let mut v2 = json!({"access": {"token": {"id": "placeholder"}, "user": {}}});
    add_kerberos_bind(&mut v2, P).unwrap();
    assert_eq!(v2["access"]["token"]["bind"], json!({"kerberos": P}));
    add_x509_bind(&mut v2, CERT_A.as_bytes()).unwrap();
    assert_eq!(
        v2["access"]["token"]["bind"],
        json!({"kerberos": P, "x509": {"sha256": CERT_A_SHA256}})
    );
    assert_eq!(bind_of(&v2), v2["access"]["token"]["bind"].as_object());

    let mut v3 = json!({"token": {"methods": ["external"], "bind": {"FOO": "BAR"}}});
    add_x509_bind(&mut v3, &der_of(CERT_B)).unwrap();
    add_kerberos_bind(&mut v3, "first@REALM").unwrap();
    add_kerberos_bind(&mut v3, P).unwrap();
    assert_eq!(
        v3["token"]["bind"],
        json!({"FOO": "BAR", "kerberos": P, "x509": {"sha256": CERT_B_SHA256}})
    );
    assert_eq!(v3["token"]["methods"], json!(["external"]));

    let mut null_bind = json!({"token": {"bind": null}});
    add_kerberos_bind(&mut null_bind, P).unwrap();
    assert_eq!(null_bind, json!({"token": {"bind": {"kerberos": P}}}));
}

#[test]
fn add_bind_errors() {
    for mut body in [
        json!({}),
        json!([]),
        json!("token"),
        json!({"access": {}}),
        json!({"access": {"token": 1}}),
        json!({"token": []}),
        json!({"token": {}, "access": {"token": {}}}),
        json!({"token": {"bind": "kerberos"}}),
        json!({"access": {"token": {"bind": []}}}),
    ] {
        let before = body.clone();
        assert!(
            matches!(
                add_kerberos_bind(&mut body, P),
                Err(Error::InvalidArgument(_))
            ),
            "{before}"
        );
        assert!(
            matches!(
                add_x509_bind(&mut body, CERT_A.as_bytes()),
                Err(Error::InvalidArgument(_))
            ),
            "{before}"
        );
        assert_eq!(body, before);
    }
    let mut body = json!({"token": {}});
    assert!(matches!(
        add_kerberos_bind(&mut body, ""),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(body, json!({"token": {}}));
}

#[test]
fn bind_of_both_versions() {
    assert_eq!(
        bind_of(&json!({"token": {"bind": {"FOO": "BAR"}}})),
        Some(&map(json!({"FOO": "BAR"})))
    );
    assert_eq!(
        bind_of(&json!({"access": {"token": {"bind": {"kerberos": P}}}})),
        Some(&map(json!({"kerberos": P})))
    );
    assert_eq!(bind_of(&json!({"token": {}})), None);
    assert_eq!(bind_of(&json!({"access": {"token": {}}})), None);
    assert_eq!(bind_of(&json!({"token": {"bind": "kerberos"}})), None);
    assert_eq!(bind_of(&json!({"token": {"bind": null}})), None);
    assert_eq!(bind_of(&json!([])), None);
    assert_eq!(bind_of(&json!({"access": []})), None);
    // A body with both v2 and v3 keys has no single reading: refused, as body::parse does.
    let both = json!({"token": {"bind": {"a": 1}}, "access": {"token": {"bind": {"b": 2}}}});
    assert_eq!(bind_of(&both), None);
    assert!(parse(&serde_json::to_vec(&both).unwrap(), &Limits::default()).is_err());
}

#[test]
fn round_trip_through_body_parse() {
    let mut v3 = json!({"token": {"expires_at": "2038-01-18T21:14:07Z", "user": {"id": "u"}}});
    add_kerberos_bind(&mut v3, P).unwrap();
    add_x509_bind(&mut v3, CERT_A.as_bytes()).unwrap();
    let bytes = serde_json::to_vec(&v3).unwrap();
    let body: TokenBody = parse(&bytes, &Limits::default()).unwrap();
    assert_eq!(body.bind.as_ref(), bind_of(&v3));
    let ctx = AuthContext {
        client_cert: Some(CERT_A.as_bytes()),
        ..krb_ok()
    };
    assert_eq!(enforce(&BindMode::Required, body.bind.as_ref(), &ctx), OK);
    assert_eq!(
        enforce(&BindMode::parse("x509"), body.bind.as_ref(), &ctx),
        OK
    );
    assert_eq!(
        enforce(
            &BindMode::Required,
            body.bind.as_ref(),
            &AuthContext {
                client_cert: None,
                ..ctx
            }
        ),
        Err(X509Mismatch)
    );
}

#[test]
fn sections_from_json_text_under_limits() {
    let l = Limits::default();
    assert_eq!(parse_section(b"null", &l), Ok(None));
    assert_eq!(
        parse_section(br#" {"kerberos": "u@R"} "#, &l),
        Ok(Some(map(json!({"kerberos": "u@R"}))))
    );
    for bad in [&b"[]"[..], b"\"kerberos\"", b"1", b"{", b"", b"\xff"] {
        assert!(
            matches!(parse_section(bad, &l), Err(Error::Malformed(_))),
            "{bad:?}"
        );
    }
    let tight = Limits {
        max_json_depth: 2,
        max_json_len: 32,
        ..l
    };
    assert!(matches!(
        parse_section(br#"{"x509": {"sha256": ["deep"]}}"#, &tight),
        Err(Error::LimitExceeded { .. })
    ));
    assert!(matches!(
        parse_section(
            format!("{{\"k\": \"{}\"}}", "a".repeat(40)).as_bytes(),
            &tight
        ),
        Err(Error::LimitExceeded { .. })
    ));
}

#[test]
fn rejection_names_and_codes() {
    let all = [
        MissingBind,
        ModeNotInBind("x".into()),
        KerberosMismatch,
        X509Mismatch,
        UnsupportedBindType("FOO".into()),
    ];
    let names: Vec<&str> = all.iter().map(BindRejection::as_str).collect();
    assert_eq!(
        names,
        [
            "missing_bind",
            "mode_not_in_bind",
            "kerberos_mismatch",
            "x509_mismatch",
            "unsupported_bind_type"
        ]
    );
    assert!(all.iter().all(|r| r.code() == 303));
}

#[test]
fn rejection_messages() {
    assert_eq!(
        MissingBind.to_string(),
        "token is not bound but the bind mode requires it"
    );
    assert_eq!(
        named("x509").unwrap_err().to_string(),
        "token is not bound with the required bind type \"x509\""
    );
    assert_eq!(
        KerberosMismatch.to_string(),
        "kerberos bind does not match the authenticated user"
    );
    assert_eq!(
        X509Mismatch.to_string(),
        "x509 bind does not match the client certificate"
    );
    assert_eq!(
        UnsupportedBindType("FOO".into()).to_string(),
        "unsupported bind type \"FOO\""
    );
    let e: &dyn std::error::Error = &KerberosMismatch;
    assert!(e.source().is_none());
}
