//! kstoken against its peers, measured in one run so the ratios hold on a noisy machine.
//!
//! - `verify/<size>/*`: kstoken (PKI, PKIZ, pipeline), a floor of OpenSSL primitives that includes
//!   OpenSSL's CMS parser (`floor_with_cms_parse`: base64 decode + `d2i_CMS` + SHA-256 + one RSA
//!   verify) and its parts, OpenSSL's full in-process `CMS_verify`, and the `openssl cms -verify`
//!   subprocess keystoneclient spawns.
//! - `strict/<size>/*`: kstoken's PKI verify against the strict floor
//!   ([`kstoken_benches::floor`]: base64 decode + SHA-256 of the content + one RSA verify, nothing
//!   else) measured back to back, and each base64 decoder the floor could use.
//! - `sign/<size>/*`: kstoken PKI and PKIZ against one raw RSA sign and `openssl cms -sign`.
//! - `hash/*`: token-id hashing of the realistic token string.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use kstoken::body::bind::AuthContext;
use kstoken::revocation::RevokedEntry;
use kstoken::token_text::hash_hex;
use kstoken::{validate, HashAlgorithm, Policy, RevocationList, Signer, Verifier};
use kstoken_benches::floor::{Base64Decoder, StrictFloor};
use kstoken_benches::{pki, v3_body, SIZES};
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::hash::MessageDigest;
use openssl::md::Md;
use openssl::pkey::PKey;
use openssl::pkey_ctx::PkeyCtx;
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509;

fn openssl_cli(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

fn benches(c: &mut Criterion) {
    let pki = pki();
    let dir = std::env::temp_dir().join(format!("kstoken-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert_path = dir.join("signing_cert.pem");
    let key_path = dir.join("signing_key.pem");
    let ca_path = dir.join("ca.pem");
    std::fs::write(&cert_path, &pki.signing_cert_pem).unwrap();
    std::fs::write(&key_path, &pki.signing_key_pem).unwrap();
    std::fs::write(&ca_path, &pki.ca_cert_pem).unwrap();
    let (cert_s, key_s, ca_s) = (
        cert_path.to_str().unwrap(),
        key_path.to_str().unwrap(),
        ca_path.to_str().unwrap(),
    );

    let signer = Signer::new(&pki.signing_cert_pem, &pki.signing_key_pem).unwrap();
    let verifier = Verifier::new(&pki.signing_cert_pem, &pki.ca_cert_pem).unwrap();
    let signing_cert = X509::from_pem(&pki.signing_cert_pem).unwrap();
    let public_key = signing_cert.public_key().unwrap();
    let private_key = PKey::private_key_from_pem(&pki.signing_key_pem).unwrap();
    let mut certs = Stack::new().unwrap();
    certs.push(signing_cert.clone()).unwrap();
    let mut store = X509StoreBuilder::new().unwrap();
    store
        .add_cert(X509::from_pem(&pki.ca_cert_pem).unwrap())
        .unwrap();
    let store = store.build();
    let revocations = RevocationList::from_entries(
        (0..100)
            .map(|i| RevokedEntry {
                id: Some(format!("{i:032x}")),
                expires: Some("2099-01-01T00:00:00Z".into()),
                audit_id: Some(format!("audit{i}")),
            })
            .collect(),
    )
    .unwrap();
    // The large token's DER is over 16 KiB, which the upstream `MII` rule does not recognise.
    let policy = Policy {
        detection: kstoken::DetectionRule::Lenient,
        ..Policy::default()
    };
    let auth = AuthContext {
        auth_type: None,
        remote_user: None,
        client_cert: None,
    };

    for (size, services) in SIZES {
        let body = v3_body(services);
        let pki_token = signer.sign_pki(&body).unwrap();
        let pkiz_token = signer.sign_pkiz(&body).unwrap();
        let der = signer.sign_der(&body).unwrap();
        let pem = signer.sign_pem(&body).unwrap();
        let standard_b64: String = pki_token.replace('-', "/");
        let document = kstoken::cms::parse(&der).unwrap();
        let signature = document.signers[0].signature.clone();
        let content = document.content.clone();
        let now = kstoken::unix_now();

        let mut group = c.benchmark_group(format!("verify/{size}"));
        group.measurement_time(Duration::from_secs(3));
        group.warm_up_time(Duration::from_secs(1));
        group.bench_function("kstoken_pki", |b| {
            b.iter(|| verifier.verify_at(pki_token.as_bytes(), now).unwrap())
        });
        group.bench_function("kstoken_pkiz", |b| {
            b.iter(|| verifier.verify_at(pkiz_token.as_bytes(), now).unwrap())
        });
        group.bench_function("kstoken_pipeline", |b| {
            b.iter(|| {
                validate(
                    &pki_token,
                    &verifier,
                    Some(&revocations),
                    &policy,
                    &auth,
                    now,
                )
                .unwrap()
            })
        });
        // The hash `validate` must compute (the policy's md5), for the pipeline's target ratio.
        group.bench_function("token_hash_md5", |b| {
            b.iter(|| hash_hex(pki_token.as_bytes(), HashAlgorithm::Md5).unwrap())
        });
        // kstoken.middleware's native call: uncached (verify, body, identity headers, catalog) and
        // a cache hit (expiry, bind, headers), offline mode.
        let middleware = |cache: bool| {
            let config = kstoken::auth_token::Config {
                policy: policy.clone(),
                cache: if cache {
                    kstoken::auth_token::Config::default().cache
                } else {
                    None
                },
                ..kstoken::auth_token::Config::default()
            };
            let a = kstoken::auth_token::Authenticator::new(config);
            a.set_verifier(Some(std::sync::Arc::new(
                Verifier::new(&pki.signing_cert_pem, &pki.ca_cert_pem).unwrap(),
            )));
            a
        };
        let credentials = kstoken::auth_token::Credentials {
            user_token: Some(pki_token.as_bytes()),
            ..Default::default()
        };
        let now_us = now * 1_000_000;
        let uncached = middleware(false);
        group.bench_function("kstoken_authenticate", |b| {
            b.iter(|| uncached.authenticate(&credentials, now_us, None))
        });
        let cached = middleware(true);
        group.bench_function("kstoken_authenticate_cached", |b| {
            b.iter(|| cached.authenticate(&credentials, now_us, None))
        });
        group.bench_function("floor_with_cms_parse", |b| {
            b.iter(|| {
                let der = openssl::base64::decode_block(&standard_b64).unwrap();
                let parsed = CmsContentInfo::from_der(&der).unwrap();
                let digest = openssl::hash::hash(MessageDigest::sha256(), &content).unwrap();
                let mut ctx = PkeyCtx::new(&public_key).unwrap();
                ctx.verify_init().unwrap();
                ctx.set_signature_md(Md::sha256()).unwrap();
                assert!(ctx.verify(&digest, &signature).unwrap());
                drop(parsed);
            })
        });
        group.bench_function("floor_base64", |b| {
            b.iter(|| openssl::base64::decode_block(&standard_b64).unwrap())
        });
        group.bench_function("floor_cms_parse", |b| {
            b.iter(|| CmsContentInfo::from_der(&der).unwrap())
        });
        let compressed = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE,
            &pkiz_token.as_bytes()[5..],
        )
        .unwrap();
        group.bench_function("floor_inflate", |b| {
            b.iter(|| {
                let mut out = Vec::with_capacity(compressed.len() * 4);
                std::io::Read::read_to_end(
                    &mut flate2::read::ZlibDecoder::new(&compressed[..]),
                    &mut out,
                )
                .unwrap();
                out
            })
        });
        group.bench_function("floor_sha256", |b| {
            b.iter(|| openssl::hash::hash(MessageDigest::sha256(), &content).unwrap())
        });
        let digest = openssl::hash::hash(MessageDigest::sha256(), &content).unwrap();
        group.bench_function("floor_rsa_verify", |b| {
            b.iter(|| {
                let mut ctx = PkeyCtx::new(&public_key).unwrap();
                ctx.verify_init().unwrap();
                ctx.set_signature_md(Md::sha256()).unwrap();
                ctx.verify(&digest, &signature).unwrap()
            })
        });
        group.bench_function("openssl_cms_verify", |b| {
            b.iter(|| {
                let mut cms = CmsContentInfo::from_der(&der).unwrap();
                let mut out = Vec::new();
                cms.verify(
                    Some(&certs),
                    Some(&store),
                    None,
                    Some(&mut out),
                    CMSOptions::empty(),
                )
                .unwrap();
                out
            })
        });
        group.sample_size(10);
        group.bench_function("openssl_cli_verify", |b| {
            b.iter(|| {
                openssl_cli(
                    &[
                        "cms",
                        "-verify",
                        "-certfile",
                        cert_s,
                        "-CAfile",
                        ca_s,
                        "-inform",
                        "PEM",
                        "-nosmimecap",
                        "-nodetach",
                        "-nocerts",
                        "-noattr",
                    ],
                    pem.as_bytes(),
                )
            })
        });
        group.finish();

        let mut group = c.benchmark_group(format!("sign/{size}"));
        group.measurement_time(Duration::from_secs(3));
        group.warm_up_time(Duration::from_secs(1));
        group.bench_function("kstoken_pki", |b| {
            b.iter(|| signer.sign_pki(&body).unwrap())
        });
        group.bench_function("kstoken_pkiz", |b| {
            b.iter(|| signer.sign_pkiz(&body).unwrap())
        });
        group.bench_function("raw_rsa_sign", |b| {
            b.iter(|| {
                let mut ctx = PkeyCtx::new(&private_key).unwrap();
                ctx.sign_init().unwrap();
                ctx.set_signature_md(Md::sha256()).unwrap();
                let mut sig = Vec::new();
                ctx.sign_to_vec(&digest, &mut sig).unwrap();
                sig
            })
        });
        group.sample_size(10);
        group.bench_function("openssl_cli_sign", |b| {
            b.iter(|| {
                openssl_cli(
                    &[
                        "cms",
                        "-sign",
                        "-signer",
                        cert_s,
                        "-inkey",
                        key_s,
                        "-outform",
                        "PEM",
                        "-nosmimecap",
                        "-nodetach",
                        "-nocerts",
                        "-noattr",
                        "-md",
                        "sha256",
                    ],
                    &body,
                )
            })
        });
        group.finish();

        if size == "realistic" {
            let mut group = c.benchmark_group("hash");
            group.measurement_time(Duration::from_secs(2));
            for alg in [HashAlgorithm::Md5, HashAlgorithm::Sha256] {
                group.bench_with_input(
                    BenchmarkId::new("kstoken", alg.name()),
                    &pki_token,
                    |b, t| b.iter(|| hash_hex(t.as_bytes(), alg)),
                );
            }
            group.finish();
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The strict floor of verification next to kstoken's verify, per size: the ratio the verify target
/// is measured by. A separate group, measured back to back, so the ratio suffers less from drift.
fn strict_floor(c: &mut Criterion) {
    let pki = pki();
    let signer = Signer::new(&pki.signing_cert_pem, &pki.signing_key_pem).unwrap();
    let verifier = Verifier::new(&pki.signing_cert_pem, &pki.ca_cert_pem).unwrap();
    let key = X509::from_pem(&pki.signing_cert_pem)
        .unwrap()
        .public_key()
        .unwrap();
    let now = kstoken::unix_now();
    for (size, services) in SIZES {
        let token = signer.sign_pki(&v3_body(services)).unwrap();
        let floor = StrictFloor::new(&token, key.clone());
        let mut group = c.benchmark_group(format!("strict/{size}"));
        group.measurement_time(Duration::from_secs(3));
        group.warm_up_time(Duration::from_secs(1));
        group.bench_function("strict_floor", |b| {
            b.iter(|| assert!(floor.run(Base64Decoder::FASTEST)))
        });
        group.bench_function("kstoken_pki", |b| {
            b.iter(|| verifier.verify_at(token.as_bytes(), now).unwrap())
        });
        for decoder in Base64Decoder::ALL {
            group.bench_function(decoder.name(), |b| {
                b.iter(|| decoder.decode(floor.token()).unwrap())
            });
        }
        group.finish();
    }
}

criterion_group!(tokens, benches, strict_floor);
criterion_main!(tokens);
