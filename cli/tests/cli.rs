//! Integration tests: run the built `kstoken` binary, with the `openssl` CLI as the oracle.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use kstoken_testkit::{cms_sign, cms_verify, Workdir};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors");
/// The fixed test clock (`docs/reference-behaviour.md#test-clock`): 2030-01-01T00:00:00Z.
const AT: &str = "1893456000";

fn vectors() -> PathBuf {
    std::env::var_os("KSTOKEN_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(VECTORS))
}

fn upstream(version: &str) -> PathBuf {
    vectors()
        .join("keystoneclient")
        .join(version)
        .join("examples/pki")
}

/// Starts `kstoken args...` with all three standard streams piped.
fn spawn<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_kstoken"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kstoken")
}

/// Runs `kstoken args...` with `stdin` (or an empty stdin).
fn kstoken<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: Option<&[u8]>) -> Output {
    let mut child = spawn(args);
    {
        let mut pipe = child.stdin.take().unwrap();
        if let Some(input) = stdin {
            // The command may exit before reading its input (an error found first).
            let _ = pipe.write_all(input);
        }
    }
    child.wait_with_output().unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn assert_code(out: &Output, expected: i32) {
    assert_eq!(
        code(out),
        expected,
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
}

/// A one-line `kstoken: ...` error on stderr.
#[track_caller]
fn assert_one_line_error(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "stderr: {err}");
    assert!(err.starts_with("kstoken: "), "stderr: {err}");
    assert!(err.contains(needle), "{needle:?} not in stderr: {err}");
}

/// A PKI made by `kstoken pki-setup` (1024-bit keys, to keep the tests fast).
struct Pki {
    dir: Workdir,
}

impl Pki {
    fn new() -> Pki {
        let dir = Workdir::new();
        let out = kstoken(
            &[
                "pki-setup".as_ref(),
                dir.path().join("ssl").as_os_str(),
                "--key-size".as_ref(),
                "1024".as_ref(),
            ],
            None,
        );
        assert_code(&out, 0);
        Pki { dir }
    }
    fn root(&self) -> PathBuf {
        self.dir.path().join("ssl")
    }
    fn cert(&self) -> PathBuf {
        self.root().join("certs/signing_cert.pem")
    }
    fn ca(&self) -> PathBuf {
        self.root().join("certs/ca.pem")
    }
    fn key(&self) -> PathBuf {
        self.root().join("private/signing_key.pem")
    }
    /// The signing certificate, CA and signing key paths, as text.
    fn paths(&self) -> [String; 3] {
        [self.cert(), self.ca(), self.key()].map(Self::s)
    }
    fn s(p: PathBuf) -> String {
        p.to_str().unwrap().to_owned()
    }
    fn sign_args(&self) -> Vec<String> {
        vec![
            "--cert".into(),
            Self::s(self.cert()),
            "--key".into(),
            Self::s(self.key()),
        ]
    }
    fn trust_args(&self) -> Vec<String> {
        vec![
            "--signing-cert".into(),
            Self::s(self.cert()),
            "--ca".into(),
            Self::s(self.ca()),
        ]
    }
    /// `kstoken sign` of `body` with extra flags; the token text (without the newline).
    fn sign(&self, body: &[u8], extra: &[&str]) -> String {
        let mut args = vec!["sign".to_owned()];
        args.extend(self.sign_args());
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let out = kstoken(&args, Some(body));
        assert_code(&out, 0);
        let text = stdout(&out);
        assert!(text.ends_with('\n'));
        text.trim_end().to_owned()
    }
    /// `kstoken verify <trust> extra...` with `stdin`.
    fn verify(&self, extra: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut args = vec!["verify".to_owned()];
        args.extend(self.trust_args());
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        kstoken(&args, stdin)
    }
}

const V3_BODY: &str = r#"{"token":{"methods":["password"],"expires_at":"2099-01-01T00:00:00.000000Z","issued_at":"2024-01-01T00:00:00.000000Z","audit_ids":["AUDIT-one"],"user":{"id":"u1","name":"alice","domain":{"id":"default","name":"Default"}},"project":{"id":"p1","name":"demo","domain":{"id":"default","name":"Default"}},"roles":[{"id":"r1","name":"admin"}],"bind":{"kerberos":"alice@EXAMPLE.COM"}}}"#;

const EXPIRED_BODY: &str = r#"{"token":{"expires_at":"2001-01-01T00:00:00Z","audit_ids":["old"],"user":{"id":"u1","name":"alice"}}}"#;

/// Flips one character in the middle of a PKI token (stays in the token alphabet).
fn tamper(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

// ---------------------------------------------------------------- help and usage

#[test]
fn help_documents_exit_codes_and_every_subcommand_has_help() {
    let out = kstoken(&["--help"], None);
    assert_code(&out, 0);
    let help = stdout(&out);
    assert!(help.contains("Exit codes:"), "{help}");
    for line in [
        "0  success",
        "1  token",
        "2  usage",
        "3  configuration",
        "4  I/O",
    ] {
        assert!(help.contains(line), "{line:?} missing from help");
    }
    for sub in [
        &["pki-setup"][..],
        &["sign"],
        &["verify"],
        &["inspect"],
        &["hash"],
        &["revocation"],
        &["revocation", "sign"],
        &["revocation", "verify"],
        &["revocation", "check"],
    ] {
        let mut args: Vec<&str> = sub.to_vec();
        args.push("--help");
        let out = kstoken(&args, None);
        assert_code(&out, 0);
        assert!(stdout(&out).contains("Usage: kstoken"), "{sub:?}");
    }
    let out = kstoken(&["--version"], None);
    assert_code(&out, 0);
}

#[test]
fn usage_errors_exit_2() {
    let pki = Pki::new();
    for args in [
        vec!["frobnicate"],
        vec![],
        vec!["sign"],
        vec!["verify", "--ca", "x"],
        vec!["hash", "--algorithm", "whirlpool", "MIIabc"],
        vec!["pki-setup"],
        vec!["pki-setup", "d", "--key-size", "big"],
    ] {
        let out = kstoken(&args, None);
        assert_code(&out, 2);
    }
    let mut args = vec!["verify".to_owned()];
    args.extend(pki.trust_args());
    args.extend([
        "--at".to_owned(),
        "next tuesday".to_owned(),
        "MII".to_owned(),
    ]);
    let out = kstoken(&args, None);
    assert_code(&out, 2);
    assert!(stderr(&out).contains("RFC 3339"));
    let mut args = vec!["sign".to_owned()];
    args.extend(pki.sign_args());
    args.extend(["--pkiz".to_owned(), "--pem".to_owned()]);
    assert_code(&kstoken(&args, Some(b"{}")), 2);
}

// ---------------------------------------------------------------- pki-setup

#[test]
fn pki_setup_writes_keystone_layout_with_private_modes() {
    let dir = Workdir::new();
    let root = dir.path().join("keystone/ssl");
    let out = kstoken(&["pki-setup".as_ref(), root.as_os_str()], None);
    assert_code(&out, 0);
    for file in [
        "certs/signing_cert.pem",
        "certs/ca.pem",
        "private/signing_key.pem",
        "private/cakey.pem",
    ] {
        let path = root.join(file);
        assert!(path.is_file(), "{file} missing");
        assert!(stdout(&out).contains(&path.display().to_string()));
    }
    #[cfg(unix)]
    {
        assert_eq!(mode(&root.join("private")), 0o700);
        assert_eq!(mode(&root.join("private/signing_key.pem")), 0o600);
        assert_eq!(mode(&root.join("private/cakey.pem")), 0o600);
    }
    // keystone's defaults: 2048-bit keys, the default subject, signing cert serial 1.
    let text = KitOpenssl::x509_text(&root.join("certs/signing_cert.pem"));
    assert!(text.contains("2048 bit"), "{text}");
    assert!(text.contains("Serial Number: 1 (0x1)"), "{text}");
    assert!(text.contains("CN = www.example.com"), "{text}");

    // openssl cms -sign with the generated key and cert, openssl cms -verify with the CA.
    let body = V3_BODY.as_bytes();
    let signed = cms_sign(
        &root.join("certs/signing_cert.pem"),
        &root.join("private/signing_key.pem"),
        body,
        "sha256",
    );
    assert!(signed.ok(), "{}", signed.stderr);
    let verified = cms_verify(
        &signed.stdout,
        &root.join("certs/signing_cert.pem"),
        &root.join("certs/ca.pem"),
        None,
    );
    assert!(verified.ok(), "{}", verified.stderr);
    assert_eq!(verified.stdout, body);

    // kstoken verifies what openssl signed.
    let out = kstoken(
        &[
            "verify".as_ref(),
            "--signing-cert".as_ref(),
            root.join("certs/signing_cert.pem").as_os_str(),
            "--ca".as_ref(),
            root.join("certs/ca.pem").as_os_str(),
        ],
        Some(&signed.stdout),
    );
    assert_code(&out, 0);
    assert_eq!(out.stdout, [body, b"\n"].concat());
}

/// `openssl x509 -text`, through the testkit's runner.
struct KitOpenssl;
impl KitOpenssl {
    fn x509_text(cert: &Path) -> String {
        let out = kstoken_testkit::run_openssl(
            &[
                "x509".as_ref(),
                "-noout".as_ref(),
                "-text".as_ref(),
                "-in".as_ref(),
                cert.as_os_str(),
            ],
            None,
        );
        assert!(out.ok(), "{}", out.stderr);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

#[test]
fn pki_setup_refuses_to_overwrite_unless_forced() {
    let pki = Pki::new();
    let key = pki.key();
    let before = std::fs::read(&key).unwrap();
    let out = kstoken(&["pki-setup".as_ref(), pki.root().as_os_str()], None);
    assert_code(&out, 3);
    assert_one_line_error(&out, "--force");
    assert_eq!(std::fs::read(&key).unwrap(), before, "key was overwritten");

    // Only one file present is enough to refuse.
    let other = Workdir::new();
    std::fs::create_dir_all(other.path().join("certs")).unwrap();
    other.write("certs/ca.pem", b"mine");
    let out = kstoken(
        &[
            "pki-setup".as_ref(),
            other.path().as_os_str(),
            "--key-size".as_ref(),
            "1024".as_ref(),
        ],
        None,
    );
    assert_code(&out, 3);
    assert_eq!(
        std::fs::read(other.path().join("certs/ca.pem")).unwrap(),
        b"mine"
    );
    assert!(!other.path().join("private/cakey.pem").exists());

    // --force overwrites, and tightens a loosened key file back to 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = kstoken(
        &[
            "pki-setup".as_ref(),
            pki.root().as_os_str(),
            "--force".as_ref(),
            "--key-size".as_ref(),
            "1024".as_ref(),
        ],
        None,
    );
    assert_code(&out, 0);
    assert_ne!(std::fs::read(&key).unwrap(), before);
    #[cfg(unix)]
    assert_eq!(mode(&key), 0o600);
}

#[test]
fn pki_setup_options_and_bad_values() {
    let dir = Workdir::new();
    let root = dir.path().join("custom");
    let out = kstoken(
        &[
            "pki-setup".as_ref(),
            root.as_os_str(),
            "--key-size".as_ref(),
            "1024".as_ref(),
            "--valid-days".as_ref(),
            "30".as_ref(),
            "--subject".as_ref(),
            "/C=DE/O=Acme/CN=keystone.acme.test".as_ref(),
        ],
        None,
    );
    assert_code(&out, 0);
    let text = KitOpenssl::x509_text(&root.join("certs/ca.pem"));
    assert!(text.contains("1024 bit"), "{text}");
    assert!(text.contains("CN = keystone.acme.test"), "{text}");

    let out = kstoken(
        &[
            "pki-setup".as_ref(),
            dir.path().join("small").as_os_str(),
            "--key-size".as_ref(),
            "512".as_ref(),
        ],
        None,
    );
    assert_code(&out, 3);
    assert_one_line_error(&out, "1024");
    let out = kstoken(
        &[
            "pki-setup".as_ref(),
            dir.path().join("subj").as_os_str(),
            "--key-size".as_ref(),
            "1024".as_ref(),
            "--subject".as_ref(),
            "no slashes".as_ref(),
        ],
        None,
    );
    assert_code(&out, 3);
}

// ---------------------------------------------------------------- sign and verify

#[test]
fn sign_then_verify_pki_pkiz_and_pem() {
    let pki = Pki::new();
    let body = V3_BODY.as_bytes();

    let token = pki.sign(body, &[]);
    assert!(token.starts_with("MII"), "{token}");
    // Text mode: the verified content is the body as signed (no line ends to canonicalise here).
    let out = pki.verify(&[&token], None);
    assert_code(&out, 0);
    assert_eq!(stdout(&out), format!("{V3_BODY}\n"));
    // Token on stdin, with a trailing newline and surrounding whitespace.
    let out = pki.verify(&[], Some(format!("  {token}\n\n").as_bytes()));
    assert_code(&out, 0);
    assert_eq!(stdout(&out), format!("{V3_BODY}\n"));
    let out = pki.verify(&["-"], Some(format!("{token}\n").as_bytes()));
    assert_code(&out, 0);

    let pkiz = pki.sign(body, &["--pkiz"]);
    assert!(pkiz.starts_with("PKIZ_"), "{pkiz}");
    let out = pki.verify(&[&pkiz], None);
    assert_code(&out, 0);
    assert_eq!(stdout(&out), format!("{V3_BODY}\n"));

    // --pem is byte-identical to openssl cms -sign, and openssl verifies it.
    let mut args = vec!["sign".to_owned()];
    args.extend(pki.sign_args());
    args.push("--pem".into());
    let out = kstoken(&args, Some(body));
    assert_code(&out, 0);
    let expected = cms_sign(&pki.cert(), &pki.key(), body, "sha256");
    assert!(expected.ok());
    assert_eq!(out.stdout, expected.stdout);
    let verified = cms_verify(&out.stdout, &pki.cert(), &pki.ca(), None);
    assert!(verified.ok(), "{}", verified.stderr);
    let out = pki.verify(&[], Some(&out.stdout));
    assert_code(&out, 0);

    // The PKI token is the PEM in token form.
    assert_eq!(
        token,
        kstoken::token_text::cms_to_token(&String::from_utf8(expected.stdout).unwrap())
    );

    // --pretty keeps key order and indents.
    let out = pki.verify(&["--pretty", &token], None);
    assert_code(&out, 0);
    let pretty = stdout(&out);
    assert!(
        pretty.starts_with(
            "{\n  \"token\": {\n    \"methods\": [\n      \"password\"\n    ],\n    \"expires_at\""
        ),
        "{pretty}"
    );
    let reparsed: serde_json::Value = serde_json::from_str(&pretty).unwrap();
    assert_eq!(
        reparsed,
        serde_json::from_str::<serde_json::Value>(V3_BODY).unwrap()
    );
}

#[test]
fn sign_options_digest_binary_and_input_file() {
    let pki = Pki::new();
    let body = b"line one\nline two\n";
    let file = pki.dir.write("body.txt", body);

    // --digest sha512 with the body from --in, byte-identical to openssl -md sha512.
    let mut args = vec!["sign".to_owned()];
    args.extend(pki.sign_args());
    args.extend(["--pem", "--digest", "sha512", "--in"].map(str::to_owned));
    args.push(file.to_str().unwrap().to_owned());
    let out = kstoken(&args, None);
    assert_code(&out, 0);
    assert_eq!(
        out.stdout,
        cms_sign(&pki.cert(), &pki.key(), body, "sha512").stdout
    );

    // Text mode turns LF into CRLF; --binary keeps the bytes.
    let text = pki.sign(body, &[]);
    let out = pki.verify(&[&text], None);
    assert_eq!(out.stdout, b"line one\r\nline two\r\n");
    let binary = pki.sign(body, &["--binary"]);
    let out = pki.verify(&[&binary], None);
    assert_eq!(out.stdout, body);
    assert_eq!(
        kstoken_testkit::cms_sign_binary(&pki.cert(), &pki.key(), body, "sha256").stdout,
        kstoken::token_text::token_to_cms(&binary).into_bytes()
    );
}

#[test]
fn sign_errors() {
    let pki = Pki::new();
    let missing = pki.dir.path().join("nope.pem");
    // Unreadable certificate or key: 3.
    let out = kstoken(
        &[
            "sign".as_ref(),
            "--cert".as_ref(),
            missing.as_os_str(),
            "--key".as_ref(),
            pki.key().as_os_str(),
        ],
        Some(b"{}"),
    );
    assert_code(&out, 3);
    assert_one_line_error(&out, "nope.pem");
    // A key that does not match the certificate: 3.
    let other = Pki::new();
    let out = kstoken(
        &[
            "sign".as_ref(),
            "--cert".as_ref(),
            pki.cert().as_os_str(),
            "--key".as_ref(),
            other.key().as_os_str(),
        ],
        Some(b"{}"),
    );
    assert_code(&out, 3);
    assert_one_line_error(&out, "does not match");
    // Garbage as a certificate: 3.
    let junk = pki.dir.write("junk.pem", b"not a certificate");
    let out = kstoken(
        &[
            "sign".as_ref(),
            "--cert".as_ref(),
            junk.as_os_str(),
            "--key".as_ref(),
            pki.key().as_os_str(),
        ],
        Some(b"{}"),
    );
    assert_code(&out, 3);
    // MD5 is refused for signatures: 3.
    let mut args = vec!["sign".to_owned()];
    args.extend(pki.sign_args());
    args.extend(["--digest".to_owned(), "md5".to_owned()]);
    assert_code(&kstoken(&args, Some(b"{}")), 3);
    // An unreadable --in file: 4.
    let mut args = vec!["sign".to_owned()];
    args.extend(pki.sign_args());
    args.extend(["--in".to_owned(), missing.to_str().unwrap().to_owned()]);
    let out = kstoken(&args, None);
    assert_code(&out, 4);
    assert_one_line_error(&out, "cannot read body");
}

#[test]
fn verify_rejections_and_configuration_errors() {
    let pki = Pki::new();
    let token = pki.sign(V3_BODY.as_bytes(), &[]);

    // Tampered token: 1, one line naming OpenSSL's reason or the decoding problem.
    let out = pki.verify(&[&tamper(&token)], None);
    assert_code(&out, 1);
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    // Garbage and empty input: 1.
    assert_code(&pki.verify(&["MIInot-a-token"], None), 1);
    assert_code(&pki.verify(&[], Some(b"\n")), 1);
    // A different PKI's token: signer not found.
    let other = Pki::new();
    let foreign = other.sign(V3_BODY.as_bytes(), &[]);
    let out = pki.verify(&[&foreign], None);
    assert_code(&out, 1);
    // Same subject, serial 1 in both: the signer is found but the signature does not match.
    assert_one_line_error(&out, "verification failed");
    // Before the certificates exist: 1, not yet valid.
    let out = pki.verify(&["--at", "0", &token], None);
    assert_code(&out, 1);
    assert_one_line_error(&out, "not yet valid");

    // Unreadable or unusable certificate files: 3.
    let missing = pki.dir.path().join("missing-ca.pem");
    let out = kstoken(
        &[
            "verify".as_ref(),
            "--signing-cert".as_ref(),
            pki.cert().as_os_str(),
            "--ca".as_ref(),
            missing.as_os_str(),
            token.as_ref(),
        ],
        None,
    );
    assert_code(&out, 3);
    assert_one_line_error(&out, "missing-ca.pem");
    let junk = pki.dir.write("junk.pem", b"junk");
    let out = kstoken(
        &[
            "verify".as_ref(),
            "--signing-cert".as_ref(),
            junk.as_os_str(),
            "--ca".as_ref(),
            pki.ca().as_os_str(),
            token.as_ref(),
        ],
        None,
    );
    assert_code(&out, 3);
    assert_one_line_error(&out, "certificate");
}

#[test]
fn verify_upstream_vectors() {
    let dir = upstream("6.0.0");
    let certs = [
        "--signing-cert".to_owned(),
        dir.join("certs/signing_cert.pem")
            .to_str()
            .unwrap()
            .to_owned(),
        "--ca".to_owned(),
        dir.join("certs/cacert.pem").to_str().unwrap().to_owned(),
    ];
    let pem = std::fs::read(dir.join("cms/auth_token_scoped.pem")).unwrap();
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("cms/auth_token_scoped.json")).unwrap())
            .unwrap();
    let token = kstoken::token_text::cms_to_token(std::str::from_utf8(&pem).unwrap());
    for (at, input) in [
        (AT, None),
        ("2030-01-01T00:00:00Z", None),
        (AT, Some(pem.as_slice())),
    ] {
        let mut args = vec!["verify".to_owned()];
        args.extend(certs.iter().cloned());
        args.extend(["--at".to_owned(), at.to_owned()]);
        if input.is_none() {
            args.push(token.clone());
        }
        let out = kstoken(&args, input);
        assert_code(&out, 0);
        // Signed in text mode: CRLF line ends; JSON-equal to the fixture.
        assert!(out.stdout.windows(2).any(|w| w == b"\r\n"));
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(got, expected);
    }
    // The same token after the certificates expired (2080): rejected.
    let mut args = vec!["verify".to_owned()];
    args.extend(certs.iter().cloned());
    args.extend(["--at".to_owned(), "3500000000".to_owned(), token]);
    let out = kstoken(&args, None);
    assert_code(&out, 1);
    assert_one_line_error(&out, "certificate has expired");

    // A PKIZ vector, with the 5.5.0 certificates it was signed with.
    let old = upstream("5.5.0");
    let pkiz = std::fs::read_to_string(old.join("cms/auth_token_scoped.pkiz")).unwrap();
    let out = kstoken(
        &[
            "verify".as_ref(),
            "--signing-cert".as_ref(),
            old.join("certs/signing_cert.pem").as_os_str(),
            "--ca".as_ref(),
            old.join("certs/cacert.pem").as_os_str(),
            "--at".as_ref(),
            AT.as_ref(),
            pkiz.trim().as_ref(),
        ],
        None,
    );
    assert_code(&out, 0);
    assert!(stdout(&out).contains("\"access\""));
}

#[test]
fn verify_batch_reports_summary_and_exit_code() {
    let pki = Pki::new();
    let a = pki.sign(V3_BODY.as_bytes(), &[]);
    let b = pki.sign(V3_BODY.as_bytes(), &["--pkiz"]);
    let c = pki.sign(EXPIRED_BODY.as_bytes(), &[]);
    let good = pki
        .dir
        .write("good.txt", format!("{a}\n\n{b}\r\n  {c}  \n").as_bytes());
    let out = pki.verify(
        &["--batch", good.to_str().unwrap(), "--allow-expired"],
        None,
    );
    assert_code(&out, 0);
    assert_eq!(stdout(&out), "3 valid, 0 invalid\n");
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    // Without --allow-expired the expired token is refused, in the pipeline's words.
    let out = pki.verify(&["--batch", good.to_str().unwrap()], None);
    assert_code(&out, 1);
    assert_eq!(stdout(&out), "2 valid, 1 invalid\n");
    assert_eq!(
        stderr(&out),
        "line 4: rejected at step expiry: Token has expired\n"
    );

    let mixed = pki.dir.write(
        "mixed.txt",
        format!("{a}\n{}\n{b}\ngarbage\n", tamper(&a)).as_bytes(),
    );
    let out = pki.verify(&["--batch", mixed.to_str().unwrap()], None);
    assert_code(&out, 1);
    assert_eq!(stdout(&out), "2 valid, 2 invalid\n");
    let err = stderr(&out);
    assert!(err.contains("line 2: "), "{err}");
    assert!(err.contains("line 4: "), "{err}");
    assert!(
        !err.contains("line 1:") && !err.contains("line 3:"),
        "{err}"
    );

    // The pipeline applies per token in a batch too: the expired body is rejected.
    let out = pki.verify(
        &["--bind-mode", "disabled", "--batch", good.to_str().unwrap()],
        None,
    );
    assert_code(&out, 1);
    assert_eq!(stdout(&out), "2 valid, 1 invalid\n");
    assert!(stderr(&out).contains("line 4: rejected at step expiry"));

    // An unreadable batch file: 4. A token argument together with --batch: usage.
    let out = pki.verify(&["--batch", "/nonexistent/tokens.txt"], None);
    assert_code(&out, 4);
    assert_code(
        &pki.verify(&["--batch", good.to_str().unwrap(), &a], None),
        2,
    );
}

// ---------------------------------------------------------------- validation pipeline

#[test]
fn verify_pipeline_names_the_rejecting_step() {
    let pki = Pki::new();
    let token = pki.sign(V3_BODY.as_bytes(), &[]);
    let expired = pki.sign(EXPIRED_BODY.as_bytes(), &[]);

    // Kerberos bind: matching negotiate user passes, anything else is rejected at bind.
    let ok = pki.verify(
        &[
            "--auth-type",
            "Negotiate",
            "--remote-user",
            "alice@EXAMPLE.COM",
            &token,
        ],
        None,
    );
    assert_code(&ok, 0);
    assert_eq!(stdout(&ok), format!("{V3_BODY}\n"));
    let out = pki.verify(
        &[
            "--remote-user",
            "mallory@EXAMPLE.COM",
            "--auth-type",
            "negotiate",
            &token,
        ],
        None,
    );
    assert_code(&out, 1);
    assert_one_line_error(&out, "rejected at step bind");
    let out = pki.verify(&["--bind-mode", "disabled", &token], None);
    assert_code(&out, 0);
    // A named mode the token is not bound with.
    let out = pki.verify(&["--bind-mode", "x509", &token], None);
    assert_code(&out, 1);
    assert_one_line_error(&out, "bind");
    // Required mode and an unbound token.
    let out = pki.verify(&["--bind-mode", "required", &expired], None);
    assert_code(&out, 1);
    assert_one_line_error(&out, "rejected at step expiry");

    // Plain verify refuses the expired body too, unless --allow-expired says otherwise.
    let out = pki.verify(&[&expired], None);
    assert_code(&out, 1);
    assert_one_line_error(&out, "rejected at step expiry: Token has expired");
    assert_code(&pki.verify(&["--allow-expired", &expired], None), 0);
    let out = pki.verify(&["--pipeline", &expired], None);
    assert_code(&out, 1);
    assert_one_line_error(&out, "rejected at step expiry");
    // ... and --at moves the clock for the body as well.
    let out = pki.verify(
        &["--pipeline", "--at", "2000-06-01T00:00:00Z", &expired],
        None,
    );
    assert_code(&out, 1);
    assert_one_line_error(&out, "signature");

    // Signature and detection steps.
    let out = pki.verify(&["--pipeline", &tamper(&token)], None);
    assert_code(&out, 1);
    assert_one_line_error(&out, "rejected at step signature");
    let out = pki.verify(&["--pipeline", "0123456789abcdef0123456789abcdef"], None);
    assert_code(&out, 1);
    assert_one_line_error(&out, "rejected at step detect");

    // x509 bind with a client certificate file.
    let mut value: serde_json::Value = serde_json::from_str(EXPIRED_BODY).unwrap();
    value["token"]["expires_at"] = "2099-01-01T00:00:00Z".into();
    let client = std::fs::read(pki.cert()).unwrap();
    kstoken::body::bind::add_x509_bind(&mut value, &client).unwrap();
    let bound = pki.sign(value.to_string().as_bytes(), &[]);
    let cert = pki.cert();
    let out = pki.verify(
        &[
            "--bind-mode",
            "strict",
            "--client-cert",
            cert.to_str().unwrap(),
            &bound,
        ],
        None,
    );
    assert_code(&out, 0);
    let out = pki.verify(
        &[
            "--bind-mode",
            "strict",
            "--client-cert",
            pki.ca().to_str().unwrap(),
            &bound,
        ],
        None,
    );
    assert_code(&out, 1);
    assert_one_line_error(&out, "x509");
    let out = pki.verify(&["--client-cert", "/nonexistent/client.pem", &bound], None);
    assert_code(&out, 3);
}

// ---------------------------------------------------------------- revocation

fn revocation_sign(pki: &Pki, entries: &str) -> PathBuf {
    let mut args = vec!["revocation".to_owned(), "sign".to_owned()];
    args.extend(pki.sign_args());
    let out = kstoken(&args, Some(entries.as_bytes()));
    assert_code(&out, 0);
    let name = format!(
        "list-{}.json",
        kstoken::token_text::hash_hex(entries.as_bytes(), kstoken::HashAlgorithm::Md5).unwrap()
    );
    pki.dir.write(&name, &out.stdout)
}

#[test]
fn revocation_sign_verify_and_check() {
    let pki = Pki::new();
    let token = pki.sign(V3_BODY.as_bytes(), &[]);
    let other = pki.sign(EXPIRED_BODY.as_bytes(), &[]);
    let md5 = kstoken::token_text::hash_hex(token.as_bytes(), kstoken::HashAlgorithm::Md5).unwrap();
    let sha256 =
        kstoken::token_text::hash_hex(token.as_bytes(), kstoken::HashAlgorithm::Sha256).unwrap();

    // sign: keystone's response body; openssl verifies the embedded PEM; the JSON is keystone's.
    let by_hash = revocation_sign(
        &pki,
        &format!(r#"[{{"id": "{md5}", "expires": "2099-01-01T00:00:00Z"}}]"#),
    );
    let response: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&by_hash).unwrap()).unwrap();
    let pem = response["signed"].as_str().unwrap();
    let verified = cms_verify(pem.as_bytes(), &pki.cert(), &pki.ca(), None);
    assert!(verified.ok(), "{}", verified.stderr);
    let expected_json =
        format!(r#"{{"revoked": [{{"expires": "2099-01-01T00:00:00Z", "id": "{md5}"}}]}}"#);
    assert_eq!(verified.stdout, expected_json.as_bytes());

    // verify prints the list.
    let mut args = vec!["revocation".to_owned(), "verify".to_owned()];
    args.extend(pki.trust_args());
    args.push(by_hash.to_str().unwrap().to_owned());
    let out = kstoken(&args, None);
    assert_code(&out, 0);
    assert_eq!(stdout(&out), format!("{expected_json}\n"));
    // verify of a tampered list: 1.
    let tampered = pki.dir.write(
        "tampered.json",
        std::fs::read_to_string(&by_hash)
            .unwrap()
            .replacen("MII", "MIJ", 1)
            .as_bytes(),
    );
    let mut args = vec!["revocation".to_owned(), "verify".to_owned()];
    args.extend(pki.trust_args());
    args.push(tampered.to_str().unwrap().to_owned());
    assert_code(&kstoken(&args, None), 1);

    let check = |list: &Path, extra: &[&str], token: &str| {
        let mut args = vec!["revocation".to_owned(), "check".to_owned()];
        args.extend(pki.trust_args());
        args.extend(["--list".to_owned(), list.to_str().unwrap().to_owned()]);
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args.push(token.to_owned());
        kstoken(&args, None)
    };
    // By md5 hash (the default algorithm).
    let out = check(&by_hash, &[], &token);
    assert_code(&out, 1);
    assert!(stdout(&out).starts_with("revoked"), "{}", stdout(&out));
    let out = check(&by_hash, &[], &other);
    assert_code(&out, 0);
    assert_eq!(stdout(&out), "not revoked\n");
    // By sha256 only when asked for.
    let by_sha = revocation_sign(
        &pki,
        &format!(r#"{{"revoked": [{{"id": "{sha256}", "expires": "2099-01-01T00:00:00Z"}}]}}"#),
    );
    assert_code(&check(&by_sha, &[], &token), 0);
    assert_code(
        &check(&by_sha, &["--hash-algorithms", "md5,sha256"], &token),
        1,
    );
    // By audit id.
    let by_audit = revocation_sign(
        &pki,
        r#"[{"id": "x", "expires": "2099-01-01T00:00:00Z", "audit_id": "AUDIT-one"}]"#,
    );
    let out = check(&by_audit, &[], &token);
    assert_code(&out, 1);
    assert!(stdout(&out).contains("audit id AUDIT-one"));

    // The pipeline uses the list too.
    let list = by_hash.to_str().unwrap();
    let out = pki.verify(
        &["--revocation-list", list, "--bind-mode", "disabled", &token],
        None,
    );
    assert_code(&out, 1);
    assert_one_line_error(&out, "rejected at step revocation (token hash)");
    let out = pki.verify(
        &[
            "--revocation-list",
            by_audit.to_str().unwrap(),
            "--bind-mode",
            "disabled",
            &token,
        ],
        None,
    );
    assert_code(&out, 1);
    assert_one_line_error(&out, "rejected at step revocation (audit id)");
    let out = pki.verify(
        &[
            "--revocation-list",
            list,
            "--bind-mode",
            "disabled",
            &tamper(&token),
        ],
        None,
    );
    assert_code(&out, 1);
    assert_one_line_error(&out, "rejected at step signature");
    // A revocation list that does not verify is a configuration error.
    let out = pki.verify(
        &["--revocation-list", tampered.to_str().unwrap(), &token],
        None,
    );
    assert_code(&out, 3);

    // Bad entries and bad key: 1 and 3.
    let mut args = vec!["revocation".to_owned(), "sign".to_owned()];
    args.extend(pki.sign_args());
    let out = kstoken(&args, Some(br#"[{"expires": "2099-01-01T00:00:00Z"}]"#));
    assert_code(&out, 1);
    assert_one_line_error(&out, "neither id nor audit_id");
    let out = kstoken(&args, Some(b"not json"));
    assert_code(&out, 1);
    let out = kstoken(
        &[
            "revocation".as_ref(),
            "sign".as_ref(),
            "--cert".as_ref(),
            pki.cert().as_os_str(),
            "--key".as_ref(),
            "/nonexistent/key.pem".as_ref(),
        ],
        Some(b"[]"),
    );
    assert_code(&out, 3);
}

#[test]
fn revocation_sign_takes_only_what_a_verified_list_may_hold() {
    let pki = Pki::new();
    let mut args = vec!["revocation".to_owned(), "sign".to_owned()];
    args.extend(pki.sign_args());
    for (entries, needle) in [
        (
            r#"[{"id": "x", "extra": 1}]"#,
            r#"unexpected member "extra""#,
        ),
        (
            r#"{"revoked": [], "more": []}"#,
            r#"unexpected member "more""#,
        ),
        (r#"{}"#, r#"no "revoked" member"#),
        (r#"[{"id": 5}]"#, r#""id" is not a string"#),
    ] {
        let out = kstoken(&args, Some(entries.as_bytes()));
        assert_code(&out, 1);
        assert_one_line_error(&out, needle);
    }
    // The list alone and keystone's document sign the same list.
    let mut verify = vec!["revocation".to_owned(), "verify".to_owned()];
    verify.extend(pki.trust_args());
    verify.push("-".to_owned());
    let lists: Vec<String> = [&br#"[{"id": "x"}]"#[..], br#" {"revoked": [{"id": "x"}]}"#]
        .into_iter()
        .map(|entries| {
            let signed = kstoken(&args, Some(entries));
            assert_code(&signed, 0);
            let out = kstoken(&verify, Some(&signed.stdout));
            assert_code(&out, 0);
            stdout(&out)
        })
        .collect();
    let expected = "{\"revoked\": [{\"id\": \"x\"}]}\n";
    assert_eq!(lists, [expected, expected]);
}

#[test]
fn revocation_verify_upstream_list() {
    let dir = upstream("6.0.0");
    let pem = std::fs::read(dir.join("cms/revocation_list.pem")).unwrap();
    let out = kstoken(
        &[
            "revocation".as_ref(),
            "verify".as_ref(),
            "--signing-cert".as_ref(),
            dir.join("certs/signing_cert.pem").as_os_str(),
            "--ca".as_ref(),
            dir.join("certs/cacert.pem").as_os_str(),
            "--at".as_ref(),
            AT.as_ref(),
            "-".as_ref(),
        ],
        Some(&pem),
    );
    assert_code(&out, 0);
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("cms/revocation_list.json")).unwrap())
            .unwrap();
    assert_eq!(got, expected);
}

// ---------------------------------------------------------------- inspect and hash

#[test]
fn inspect_decodes_without_verifying() {
    let pki = Pki::new();
    let token = pki.sign(V3_BODY.as_bytes(), &[]);
    let out = kstoken(&["inspect", &token], None);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(text.starts_with("NOT VERIFIED"), "{text}");
    let md5 = kstoken::token_text::hash_hex(token.as_bytes(), kstoken::HashAlgorithm::Md5).unwrap();
    let sha256 =
        kstoken::token_text::hash_hex(token.as_bytes(), kstoken::HashAlgorithm::Sha256).unwrap();
    for needle in [
        "form:                  PKI",
        &format!("token length:          {} characters", token.len()),
        "DER size:",
        "digest algorithm:    sha256",
        "signature algorithm: rsaEncryption",
        "issuer:              CN=www.example.com,O=Unset,L=Unset,ST=Unset,C=US",
        "serial:              01",
        &md5,
        &sha256,
        "token version:         v3",
        "expires:               2099-01-01T00:00:00Z (not expired now)",
        "audit ids:             AUDIT-one",
        "user:                  alice (id u1)",
        "scope:                 project demo (id p1)",
        "roles:                 admin",
        r#"bind:                  {"kerberos":"alice@EXAMPLE.COM"}"#,
        "content:\n{\n  \"token\": {\n    \"methods\"",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }

    // A tampered token still decodes (nothing is verified), PKIZ and PEM too, from stdin.
    let tampered = pki.sign(V3_BODY.replace("alice", "mallo").as_bytes(), &[]);
    assert_code(&kstoken(&["inspect", &tampered], None), 0);
    let pkiz = pki.sign(V3_BODY.as_bytes(), &["--pkiz"]);
    let out = kstoken(&["inspect"], Some(format!("{pkiz}\n").as_bytes()));
    assert_code(&out, 0);
    assert!(stdout(&out).contains("form:                  PKIZ"));
    let pem = kstoken::token_text::token_to_cms(&token);
    let out = kstoken(&["inspect"], Some(pem.as_bytes()));
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("CMS PEM"));
    assert!(
        text.contains(&md5),
        "the token id is the hash of the token form"
    );

    // Non-token content is shown, not refused.
    let plain = pki.sign(b"hello world", &[]);
    let out = kstoken(&["inspect", &plain], None);
    assert_code(&out, 0);
    assert!(stdout(&out).contains("not a keystone token body"));
    assert!(stdout(&out).contains("hello world"));

    // Not a token: 1.
    let out = kstoken(&["inspect", "hello"], None);
    assert_code(&out, 1);
    assert_one_line_error(&out, "not a PKI or PKIZ token");
    let out = kstoken(&["inspect", "MIIthis-is-not-base64!"], None);
    assert_code(&out, 1);
}

#[test]
fn inspect_upstream_vector() {
    let dir = upstream("6.0.0");
    let pem = std::fs::read_to_string(dir.join("cms/auth_v3_token_scoped.pem")).unwrap();
    let token = kstoken::token_text::cms_to_token(&pem);
    let out = kstoken(&["inspect", &token], None);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("audit ids:             VcxU2JYqT8OzfUVvrjEITQ, qNUTIJntTzO1-XUk5STybw"),
        "{text}"
    );
    assert!(
        text.contains("expires:               2038-01-18T21:14:07Z"),
        "{text}"
    );
    assert!(text.contains("digest algorithm:    sha256"), "{text}");
}

#[test]
fn hash_follows_cms_hash_token() {
    let pki = Pki::new();
    let token = pki.sign(V3_BODY.as_bytes(), &[]);
    let md5 = kstoken::token_text::hash_hex(token.as_bytes(), kstoken::HashAlgorithm::Md5).unwrap();
    let sha256 =
        kstoken::token_text::hash_hex(token.as_bytes(), kstoken::HashAlgorithm::Sha256).unwrap();

    let out = kstoken(&["hash", &token], None);
    assert_code(&out, 0);
    assert_eq!(stdout(&out), format!("{md5}\n"));
    let out = kstoken(
        &["hash", "--algorithm", "md5,sha256"],
        Some(format!("{token}\n").as_bytes()),
    );
    assert_code(&out, 0);
    assert_eq!(stdout(&out), format!("{md5}\n{sha256}\n"));
    let out = kstoken(&["hash", "-a", "SHA256", "-a", "md5", &token], None);
    assert_eq!(stdout(&out), format!("{sha256}\n{md5}\n"));
    // A PKIZ token is hashed too.
    let pkiz = pki.sign(V3_BODY.as_bytes(), &["--pkiz"]);
    let out = kstoken(&["hash", &pkiz], None);
    assert_eq!(
        stdout(&out).trim(),
        kstoken::token_text::hash_hex(pkiz.as_bytes(), kstoken::HashAlgorithm::Md5).unwrap()
    );
    // Other tokens (UUID, Fernet) come back unchanged, once per algorithm.
    let uuid = "0123456789abcdef0123456789abcdef";
    let out = kstoken(&["hash", "-a", "md5,sha1", uuid], None);
    assert_eq!(stdout(&out), format!("{uuid}\n{uuid}\n"));
    // Upstream: the derived hashes of EXPECTED.json.
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(vectors().join("EXPECTED.json")).unwrap()).unwrap();
    let entry = &expected["files"]["keystoneclient/6.0.0/examples/pki/cms/auth_token_revoked.pem"];
    let pem =
        std::fs::read_to_string(upstream("6.0.0").join("cms/auth_token_revoked.pem")).unwrap();
    let revoked = kstoken::token_text::cms_to_token(&pem);
    let out = kstoken(&["hash", "-a", "md5,sha256", &revoked], None);
    assert_eq!(
        stdout(&out),
        format!(
            "{}\n{}\n",
            entry["token_md5"].as_str().unwrap(),
            entry["token_sha256"].as_str().unwrap()
        )
    );
    // Empty input: 1.
    assert_code(&kstoken(&["hash"], Some(b"")), 1);
}

// ---------------------------------------------------------------- bounded inputs (issue 14, item 3)

/// A sparse file of `size` bytes of zeros (no newline, no disk blocks).
fn sparse_file(dir: &Workdir, name: &str, size: u64) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::File::create(&path).unwrap().set_len(size).unwrap();
    path
}

/// Address space allowed for each run below (`ulimit -v`, RLIMIT_AS): the largest limit (a signed
/// revocation list's 64 MiB, read with at most one doubling of the buffer) plus the process, its
/// libraries and the batch threads, with room to spare. Before the bounded reads these runs grew to 3.4 to
/// 5.4 GB; under the cap an allocation that large fails, which shows as another message or an
/// abort instead of the expected clean exit.
const ADDRESS_SPACE_KIB: u64 = 384 * 1024;

/// Runs `kstoken args...` with standard input from `stdin` and its address space capped at
/// [`ADDRESS_SPACE_KIB`].
fn kstoken_capped<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: &Path) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_kstoken"))
        .args(args)
        .stdin(std::fs::File::open(stdin).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn every_input_is_read_with_a_bound() {
    let pki = Pki::new();
    let token = pki.sign(V3_BODY.as_bytes(), &[]);
    let sparse = sparse_file(&pki.dir, "sparse-3g", 3 << 30);
    let sparse = sparse.to_str().unwrap();
    let [cert, ca, key] = pki.paths();
    let [cert, ca, key] = [cert.as_str(), ca.as_str(), key.as_str()];
    let credential = "certificate, key or bundle length limit of 16777216 bytes";
    let token_limit = "token length limit of 1048576 bytes";
    let json_limit = "JSON size limit of 1048576 bytes";
    let list_limit = "revocation list length limit of 67108864 bytes";
    let trust = format!("--signing-cert {cert} --ca {ca}");
    let signing = format!("--cert {cert} --key {key}");
    // (command line, standard input from this file, exit code, stderr must contain); no path or
    // token here has a space.
    let cases = [
        (
            format!("verify --signing-cert /dev/zero --ca {ca} {token}"),
            "/dev/null",
            3,
            format!("signing certificate /dev/zero exceeds the {credential}"),
        ),
        (
            format!("verify --signing-cert {cert} --ca {sparse} {token}"),
            "/dev/null",
            3,
            format!("CA certificate {sparse} exceeds the {credential}"),
        ),
        (
            format!("sign --cert /dev/zero --key {key}"),
            "/dev/null",
            3,
            format!("signing certificate /dev/zero exceeds the {credential}"),
        ),
        (
            format!("sign --cert {cert} --key {sparse}"),
            "/dev/null",
            3,
            format!("signing key {sparse} exceeds the {credential}"),
        ),
        (
            format!("verify {trust}"),
            "/dev/zero",
            1,
            format!("token from standard input exceeds the {token_limit}"),
        ),
        (
            format!("verify {trust} --pipeline"),
            sparse,
            1,
            format!("token from standard input exceeds the {token_limit}"),
        ),
        (
            "hash".to_owned(),
            "/dev/zero",
            1,
            format!("token from standard input exceeds the {token_limit}"),
        ),
        (
            "inspect".to_owned(),
            "/dev/zero",
            1,
            format!("token from standard input exceeds the {token_limit}"),
        ),
        (
            format!("sign {signing}"),
            "/dev/zero",
            1,
            "body from standard input exceeds the content length limit of 1048576 bytes".to_owned(),
        ),
        (
            format!("sign {signing} --in {sparse}"),
            "/dev/null",
            1,
            format!("body {sparse} exceeds the content length limit of 1048576 bytes"),
        ),
        (
            format!("revocation sign {signing}"),
            "/dev/zero",
            1,
            format!("revocation entries from standard input exceeds the {json_limit}"),
        ),
        (
            format!("revocation verify {trust} /dev/zero"),
            "/dev/null",
            1,
            format!("revocation list /dev/zero exceeds the {list_limit}"),
        ),
        (
            format!("revocation check {trust} --list {sparse} {token}"),
            "/dev/null",
            3,
            format!("revocation list {sparse} exceeds the {list_limit}"),
        ),
        (
            format!("verify {trust} --revocation-list /dev/zero {token}"),
            "/dev/null",
            3,
            format!("revocation list /dev/zero exceeds the {list_limit}"),
        ),
        (
            format!("verify {trust} --client-cert /dev/zero {token}"),
            "/dev/null",
            3,
            format!("client certificate /dev/zero exceeds the {credential}"),
        ),
    ];
    for (command, stdin, expected, needle) in &cases {
        let args: Vec<&str> = command.split_whitespace().collect();
        let out = kstoken_capped(&args, Path::new(stdin));
        assert_code(&out, *expected);
        assert_one_line_error(&out, needle);
        assert!(out.stdout.is_empty(), "{command}: {}", stdout(&out));
    }

    // A 3 GiB batch file that is one line: one invalid token, counted, memory bounded.
    let command = format!("verify {trust} --batch {sparse}");
    let args: Vec<&str> = command.split_whitespace().collect();
    let out = kstoken_capped(&args, Path::new("/dev/null"));
    assert_code(&out, 1);
    assert_eq!(stdout(&out), "0 valid, 1 invalid\n");
    assert_eq!(
        stderr(&out),
        format!("line 1: token on this line exceeds the {token_limit}\n")
    );
}

#[test]
fn help_states_the_core_limits() {
    let help = stdout(&kstoken(&["--help"], None));
    let limits = kstoken::Limits::default();
    let mib = |what| limits.max(what) >> 20;
    for needle in [
        format!(
            "certificates, keys and CA bundles {} MiB",
            mib(kstoken::LimitKind::CredentialLength)
        ),
        format!("token {} MiB", mib(kstoken::LimitKind::TokenLength)),
        format!(
            "a body to sign {} MiB",
            mib(kstoken::LimitKind::ContentLength)
        ),
        format!(
            "revocation entries {} MiB",
            mib(kstoken::LimitKind::JsonSize)
        ),
        format!(
            "a signed revocation list {} MiB",
            mib(kstoken::LimitKind::RevocationListLength)
        ),
        "signed as it is".to_owned(),
    ] {
        assert!(help.contains(&needle), "{needle:?} not in {help}");
    }
}

#[test]
fn batch_streams_lines_of_any_length_in_order() {
    let pki = Pki::new();
    let token = pki.sign(V3_BODY.as_bytes(), &[]);
    let mut file = Vec::new();
    file.extend_from_slice(format!("{token}\n").as_bytes());
    file.extend(std::iter::repeat_n(b'A', (1 << 20) + 1));
    file.extend_from_slice(format!("\n\n \t{token}\r\n").as_bytes());
    file.extend_from_slice(b"MII\xff\xfe\n");
    file.extend(std::iter::repeat_n(b' ', 1 << 20));
    file.extend_from_slice(format!("\n{token}").as_bytes());
    let path = pki.dir.write("mixed.txt", &file);
    let expect = |out: &Output| {
        assert_code(out, 1);
        assert_eq!(stdout(out), "3 valid, 2 invalid\n");
        let err = stderr(out);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{err}");
        assert_eq!(
            lines[0],
            "line 2: token on this line exceeds the token length limit of 1048576 bytes"
        );
        assert_eq!(lines[1], "line 5: token is not UTF-8 text");
    };
    expect(&pki.verify(&["--batch", path.to_str().unwrap()], None));
    expect(&pki.verify(&["--batch", "-"], Some(&file)));
}

#[cfg(target_os = "linux")]
#[test]
fn batch_memory_does_not_grow_with_the_file() {
    // 400 lines of 256 KiB (100 MiB, close to the address space allowed), refused cheaply (not
    // UTF-8): the whole file was read into memory, and copied, before.
    let pki = Pki::new();
    let mut line = vec![0xFF; 256 << 10];
    line.push(b'\n');
    let path = pki.dir.path().join("many.txt");
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for _ in 0..400 {
            file.write_all(&line).unwrap();
        }
    }
    let (cert, ca) = (pki.cert(), pki.ca());
    let out = kstoken_capped(
        &[
            "verify".as_ref(),
            "--signing-cert".as_ref(),
            cert.as_os_str(),
            "--ca".as_ref(),
            ca.as_os_str(),
            "--batch".as_ref(),
            path.as_os_str(),
        ],
        Path::new("/dev/null"),
    );
    assert_code(&out, 1);
    assert_eq!(stdout(&out), "0 valid, 400 invalid\n");
    let expected: String = (1..=400)
        .map(|n| format!("line {n}: token is not UTF-8 text\n"))
        .collect();
    assert_eq!(stderr(&out), expected);
}

#[test]
fn batch_reports_each_line_as_it_is_read() {
    let pki = Pki::new();
    let token = pki.sign(V3_BODY.as_bytes(), &[]);
    let mut args = vec!["verify".to_owned()];
    args.extend(pki.trust_args());
    args.extend(["--batch".to_owned(), "-".to_owned()]);
    let mut child = spawn(&args);
    let mut input = child.stdin.take().unwrap();
    let errors = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(errors).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    // The verdict of the first line arrives while the input is still open.
    input.write_all(b"garbage\n").unwrap();
    input.flush().unwrap();
    let first = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("no verdict for line 1 while the batch input stays open");
    assert!(first.starts_with("line 1: "), "{first}");
    input
        .write_all(format!("{token}\nbad\n").as_bytes())
        .unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    let rest: Vec<String> = rx.try_iter().collect();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1 valid, 2 invalid\n");
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert!(rest[0].starts_with("line 3: "), "{rest:?}");
}

// ---------------------------------------------------------------- standard streams (issue 14, item 12)

/// Runs `kstoken args...` from `sh` with `redirect` (`>&-`, `<&-`, `</dev/null`, ...) applied.
fn kstoken_redirected(args: &[&str], redirect: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("exec \"$0\" \"$@\" {redirect}"))
        .arg(env!("CARGO_BIN_EXE_kstoken"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn closed_or_unwritable_standard_output_is_an_io_error() {
    let pki = Pki::new();
    let token = pki.sign(V3_BODY.as_bytes(), &[]);
    let body = pki.dir.write("body.json", V3_BODY.as_bytes());
    let batch = pki.dir.write("batch.txt", format!("{token}\n").as_bytes());
    let list = revocation_sign(&pki, "[]");
    let new_dir = pki.dir.path().join("new-pki");
    let [cert, ca, key] = pki.paths();
    let trust = format!("--signing-cert {cert} --ca {ca}");
    let sign = format!("sign --cert {cert} --key {key} --in {}", body.display());
    // No path or token here has a space.
    let command_lines = [
        sign.clone(),
        format!("verify {trust} {token}"),
        format!("verify {trust} --bind-mode disabled {token}"),
        format!("verify {trust} --batch {}", batch.display()),
        format!("inspect {token}"),
        format!("hash {token}"),
        format!("revocation verify {trust} {}", list.display()),
        format!("pki-setup {} --key-size 1024", new_dir.display()),
    ];
    let commands: Vec<Vec<&str>> = command_lines
        .iter()
        .map(|c| c.split_whitespace().collect())
        .collect();
    let sign: Vec<&str> = sign.split_whitespace().collect();
    for args in &commands {
        // Every command succeeds with its output going somewhere...
        let out = kstoken_redirected(args, ">/dev/null");
        assert_code(&out, 0);
        std::fs::remove_dir_all(&new_dir).ok();
        // ... and fails with 4 when it cannot: closed, or full.
        let out = kstoken_redirected(args, ">&-");
        assert_code(&out, 4);
        assert_one_line_error(&out, "standard output is closed");
        std::fs::remove_dir_all(&new_dir).ok();
        if Path::new("/dev/full").exists() {
            let out = kstoken_redirected(args, ">/dev/full");
            assert_code(&out, 4);
            assert_one_line_error(&out, "cannot write standard output");
            std::fs::remove_dir_all(&new_dir).ok();
        }
    }
    // Open read-only: writes fail with EBADF, which Rust's own stdout would report as success.
    let out = kstoken_redirected(&sign, "1</dev/null");
    assert_code(&out, 4);
    assert_one_line_error(&out, "cannot write standard output");
    // stdout given to a child as /dev/null (Python's subprocess.DEVNULL opens it read-write) is
    // not mistaken for a closed one.
    let out = Command::new(env!("CARGO_BIN_EXE_kstoken"))
        .args(&sign)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_code(&out, 0);
}

#[test]
fn a_reader_that_goes_away_is_silent_but_not_success() {
    let pki = Pki::new();
    let token = pki.sign(V3_BODY.as_bytes(), &[]);
    for args in [vec!["inspect"], vec!["hash"]] {
        let mut child = spawn(&args);
        // The reader goes away before the command has its input, so before it writes (`| head`).
        drop(child.stdout.take());
        let mut input = child.stdin.take().unwrap();
        input.write_all(token.as_bytes()).unwrap();
        drop(input);
        let out = child.wait_with_output().unwrap();
        assert_code(&out, 4);
        assert!(out.stderr.is_empty(), "{}", stderr(&out));
    }
}

#[test]
fn closed_standard_input_is_an_io_error_and_empty_input_is_not() {
    let pki = Pki::new();
    let token = pki.sign(V3_BODY.as_bytes(), &[]);
    let [cert, ca, key] = pki.paths();
    let [cert, ca, key] = [cert.as_str(), ca.as_str(), key.as_str()];
    let sign = vec!["sign", "--cert", cert, "--key", key];
    let verify = vec!["verify", "--signing-cert", cert, "--ca", ca];
    let mut batch = verify.clone();
    batch.extend(["--batch", "-"]);
    let mut revocation_sign = vec!["revocation"];
    revocation_sign.extend(&sign);
    for args in [
        sign.clone(),
        verify.clone(),
        batch,
        vec!["inspect"],
        vec!["hash"],
        revocation_sign,
    ] {
        let out = kstoken_redirected(&args, "<&-");
        assert_code(&out, 4);
        assert_one_line_error(&out, "standard input is closed");
        assert!(out.stdout.is_empty());
    }
    // An empty body is a body: signed, and it verifies to empty content (printed as one newline),
    // as `openssl cms -sign < /dev/null` does.
    let out = kstoken_redirected(&sign, "</dev/null");
    assert_code(&out, 0);
    let empty = stdout(&out);
    let out = pki.verify(&[empty.trim_end()], None);
    assert_code(&out, 0);
    assert_eq!(stdout(&out), "\n");
    // An empty token is not a token.
    let out = kstoken_redirected(&["hash"], "</dev/null");
    assert_code(&out, 1);
    assert_one_line_error(&out, "no token given");
    let mut args = verify.clone();
    args.push(&token);
    assert_code(&kstoken_redirected(&args, "<&-"), 0);
}

// ---------------------------------------------------------------- whitespace (issue 14, item 7)

#[test]
fn surrounding_whitespace_is_ignored_wherever_a_token_is_taken() {
    let pki = Pki::new();
    let token = pki.sign(V3_BODY.as_bytes(), &[]);
    let pkiz = pki.sign(V3_BODY.as_bytes(), &["--pkiz"]);
    let md5 =
        |t: &str| kstoken::token_text::hash_hex(t.as_bytes(), kstoken::HashAlgorithm::Md5).unwrap();
    let list = revocation_sign(
        &pki,
        &format!(
            r#"[{{"id": "{}", "expires": "2099-01-01T00:00:00Z"}}, {{"id": "{}", "expires": "2099-01-01T00:00:00Z"}}]"#,
            md5(&token),
            md5(&pkiz)
        ),
    );
    let mut verify = vec!["verify".to_owned()];
    verify.extend(pki.trust_args());
    let mut pipeline = verify.clone();
    pipeline.extend([
        "--pipeline".to_owned(),
        "--bind-mode".to_owned(),
        "disabled".to_owned(),
    ]);
    let mut check = vec!["revocation".to_owned(), "check".to_owned()];
    check.extend(pki.trust_args());
    check.extend(["--list".to_owned(), list.to_str().unwrap().to_owned()]);
    let hash = vec!["hash".to_owned(), "-a".to_owned(), "md5,sha256".to_owned()];
    let inspect = vec!["inspect".to_owned()];
    for (command, expected_code) in [
        (&verify, 0),
        (&pipeline, 0),
        (&hash, 0),
        (&inspect, 0),
        (&check, 1),
    ] {
        for bare in [&token, &pkiz] {
            let mut args = command.clone();
            args.push(bare.clone());
            let reference = kstoken(&args, None);
            assert_code(&reference, expected_code);
            for padded in [format!(" {bare}\n"), format!("\t{bare} \r\n\n")] {
                let mut args = command.clone();
                args.push(padded.clone());
                let as_argument = kstoken(&args, None);
                let on_stdin = kstoken(command, Some(padded.as_bytes()));
                for out in [&as_argument, &on_stdin] {
                    assert_code(out, expected_code);
                    assert_eq!(out.stdout, reference.stdout, "{command:?} {padded:?}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------- pki-setup rules (issue 14, item 12)

#[test]
fn pki_setup_refuses_options_that_cannot_make_a_working_pki() {
    let dir = Workdir::new();
    let root = dir.path().join("ssl");
    let root_arg = root.to_str().unwrap();
    let refused = |extra: &[&str], needles: &[&str]| -> String {
        let mut args = vec!["pki-setup", root_arg];
        if !extra.contains(&"--key-size") {
            args.extend(["--key-size", "1024"]);
        }
        args.extend(extra);
        let out = kstoken(&args, None);
        assert_code(&out, 3);
        for needle in needles {
            assert_one_line_error(&out, needle);
        }
        assert!(!root.exists(), "{extra:?} wrote files");
        stderr(&out)
    };
    refused(
        &["--valid-days", "0"],
        &["validity of 0 days", "at least 1 day"],
    );
    refused(&["--subject", "/"], &["names no attribute", "/CN="]);
    refused(&["--subject", "/CN="], &["attribute CN has no value"]);
    refused(&["--subject", "/NOPE=x"], &["unknown attribute \"NOPE\""]);
    refused(&["--subject", "/C=USA"], &["string too long"]);
    refused(&["--key-size", "20000"], &["20000 bits", "8192"]);
    refused(&["--key-size", "1023"], &["1023 bits", "1024"]);
    let message = refused(
        &["--valid-days", "99999999"],
        &["validity of 99999999 days", "after 9999-12-31", "at most"],
    );
    // The largest value the message names works, and tokens verify with it.
    let largest: u32 = message
        .split("at most ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no largest value in {message}"));
    let out = kstoken(
        &[
            "pki-setup",
            root_arg,
            "--key-size",
            "1024",
            "--valid-days",
            &largest.to_string(),
        ],
        None,
    );
    assert_code(&out, 0);
    let text = KitOpenssl::x509_text(&root.join("certs/signing_cert.pem"));
    assert!(text.contains("Not After : Dec 31"), "{text}");
    assert!(text.contains("9999 GMT"), "{text}");
    // dir/ssl is the layout Pki uses.
    let pki = Pki { dir };
    let token = pki.sign(V3_BODY.as_bytes(), &[]);
    assert_code(&pki.verify(&[&token], None), 0);
}

// ---------------------------------------------------------------- operators' reports (issue 18)

#[test]
fn verify_refuses_an_expired_token_unless_allowed() {
    let pki = Pki::new();
    let expired = pki.sign(EXPIRED_BODY.as_bytes(), &[]);
    let out = pki.verify(&[&expired], None);
    assert_code(&out, 1);
    // The step is said once.
    assert_eq!(
        stderr(&out),
        "kstoken: rejected at step expiry: Token has expired\n"
    );
    assert!(out.stdout.is_empty());
    let out = pki.verify(&["--allow-expired", &expired], None);
    assert_code(&out, 0);
    assert_eq!(stdout(&out), format!("{EXPIRED_BODY}\n"));
    // --at before the expiry: valid then (the certificates were made now, so the chain is
    // checked at a time they are not valid yet: the signature step refuses, not expiry).
    let out = pki.verify(&["--at", "2000-12-31T00:00:00Z", &expired], None);
    assert_code(&out, 1);
    assert_one_line_error(&out, "rejected at step signature");
    // --allow-expired is not a pipeline option.
    assert_code(
        &pki.verify(&["--allow-expired", "--pipeline", &expired], None),
        2,
    );
    // Signed content that is no token body has no expiry: verified as a document.
    let doc = pki.sign(b"hello", &[]);
    let out = pki.verify(&[&doc], None);
    assert_code(&out, 0);
    assert_eq!(stdout(&out), "hello\n");
}

#[test]
fn verify_says_not_a_pki_token_as_inspect_does() {
    let pki = Pki::new();
    let fernet = "gAAAAABlZ-Wk3rOB0wZ8K1GFpmcd6lHCCmP_1ATyF1zTy8Cg_w";
    let uuid = "0123456789abcdef0123456789abcdef";
    let inspect = kstoken(&["inspect", fernet], None);
    assert_code(&inspect, 1);
    let words = stderr(&inspect)
        .trim_end()
        .trim_start_matches("kstoken: ")
        .to_owned();
    assert!(words.starts_with("not a PKI or PKIZ token"), "{words}");
    for token in [fernet, uuid] {
        for pipeline in [false, true] {
            let mut args = vec![token];
            if pipeline {
                args.insert(0, "--pipeline");
            }
            let out = pki.verify(&args, None);
            assert_code(&out, 1);
            assert_eq!(
                stderr(&out),
                format!("kstoken: rejected at step detect (form): {words}\n"),
                "{token} pipeline={pipeline}"
            );
        }
    }
}

#[test]
fn a_file_name_given_as_token_says_how_to_give_the_file() {
    let pki = Pki::new();
    let token = pki.sign(V3_BODY.as_bytes(), &[]);
    let file = pki.dir.write("token.txt", token.as_bytes());
    let name = file.to_str().unwrap();
    let trust = pki.trust_args();
    for command in [vec!["verify"], vec!["inspect"], vec!["hash"]] {
        let mut args: Vec<String> = command.iter().map(|s| (*s).to_owned()).collect();
        if command[0] == "verify" {
            args.extend(trust.clone());
        }
        args.push(name.to_owned());
        let out = kstoken(&args, None);
        assert_code(&out, 2);
        assert_one_line_error(&out, &format!("< {name}` or `--in {name}"));
        args.pop();
        args.extend(["--in".to_owned(), name.to_owned()]);
        let out = kstoken(&args, None);
        assert_code(&out, 0);
    }
    // A name that is no file is not taken for one: it is an invalid token.
    let out = pki.verify(&["no-such-file.txt"], None);
    assert_code(&out, 1);
}

#[test]
fn a_wrong_ca_is_a_configuration_error() {
    let pki = Pki::new();
    let token = pki.sign(V3_BODY.as_bytes(), &[]);
    let ssl = pki.dir.path().join("ssl");
    let signing = ssl.join("certs/signing_cert.pem");
    let run = |ca: &Path| {
        kstoken(
            &[
                "verify".as_ref(),
                "--signing-cert".as_ref(),
                signing.as_os_str(),
                "--ca".as_ref(),
                ca.as_os_str(),
                token.as_ref(),
            ],
            None,
        )
    };
    // The signing certificate given as the CA: not a CA of the signer (was exit 1, per token).
    let out = run(&signing);
    assert_code(&out, 3);
    assert_one_line_error(&out, "is not a CA of the signing certificate");
    // Another PKI's CA.
    let other = Pki::new();
    let out = run(&other.dir.path().join("ssl/certs/ca.pem"));
    assert_code(&out, 3);
    assert_one_line_error(&out, "is not a CA of the signing certificate");
    // Unreadable, and not PEM at all.
    assert_code(&run(Path::new("/nonexistent/ca.pem")), 3);
    assert_code(&run(&ssl.join("private/cakey.pem")), 3);
    assert_code(&run(&ssl.join("certs/ca.pem")), 0);
}

#[test]
fn batch_refusals_are_worded_alike_with_and_without_the_pipeline() {
    let pki = Pki::new();
    // Unbound: the pipeline's default bind mode would refuse the kerberos bind of V3_BODY.
    let unbound = V3_BODY.replace(r#","bind":{"kerberos":"alice@EXAMPLE.COM"}"#, "");
    let good = pki.sign(unbound.as_bytes(), &[]);
    let expired = pki.sign(EXPIRED_BODY.as_bytes(), &[]);
    let file = pki.dir.write(
        "batch.txt",
        format!(
            "{good}\n{}\n{expired}\ngAAAAABlZ-Wk3rOB0wZ8K1GFpmcd6lHCCm\nMIIgarbage\n",
            tamper(&good)
        )
        .as_bytes(),
    );
    let plain = pki.verify(&["--batch", file.to_str().unwrap()], None);
    let piped = pki.verify(&["--pipeline", "--batch", file.to_str().unwrap()], None);
    assert_code(&plain, 1);
    assert_code(&piped, 1);
    assert_eq!(stdout(&plain), "1 valid, 4 invalid\n");
    assert_eq!(stdout(&plain), stdout(&piped));
    assert_eq!(stderr(&plain), stderr(&piped));
    for step in [
        "line 2: rejected at step signature",
        "line 3: rejected at step expiry:",
        "line 4: rejected at step detect",
    ] {
        assert!(stderr(&plain).contains(step), "{step}: {}", stderr(&plain));
    }
}

#[test]
fn a_bind_mode_that_cannot_work_is_refused() {
    let pki = Pki::new();
    let token = pki.sign(V3_BODY.as_bytes(), &[]);
    for mode in ["Strict", "FOO", ""] {
        let out = pki.verify(&["--bind-mode", mode, &token], None);
        assert_code(&out, 3);
        assert_one_line_error(&out, "expected disabled, permissive, strict, required");
    }
}

#[test]
fn man_pages_and_completions_list_every_subcommand() {
    let dir = Workdir::new();
    let out = kstoken(&["generate-docs".as_ref(), dir.path().as_os_str()], None);
    assert_code(&out, 0);
    // The subcommands, as `kstoken --help` lists them.
    let help = stdout(&kstoken(&["--help"], None));
    let commands: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    assert_eq!(
        commands,
        [
            "pki-setup",
            "sign",
            "verify",
            "inspect",
            "hash",
            "revocation",
            "sync"
        ]
    );
    let main = std::fs::read_to_string(dir.path().join("man/kstoken.1")).unwrap();
    let bash = std::fs::read_to_string(dir.path().join("completions/kstoken.bash")).unwrap();
    let zsh = std::fs::read_to_string(dir.path().join("completions/_kstoken")).unwrap();
    let fish = std::fs::read_to_string(dir.path().join("completions/kstoken.fish")).unwrap();
    for name in &commands {
        // roff escapes the dash: \fBkstoken\-verify\fR(1)
        let reference = format!("kstoken\\-{}", name.replace('-', "\\-"));
        assert!(main.contains(&reference), "kstoken.1 lacks {reference}");
        let page = dir.path().join(format!("man/kstoken-{name}.1"));
        let text = std::fs::read_to_string(&page).unwrap();
        assert!(text.contains(".SH SYNOPSIS"), "{}", page.display());
        for completion in [&bash, &zsh, &fish] {
            assert!(completion.contains(name.as_str()), "{name} not completed");
        }
    }
    // The hidden generator is in neither, and the exit codes are in the page.
    assert!(!main.contains("generate"));
    assert!(main.contains("Exit codes"));
    assert!(
        std::fs::read_to_string(dir.path().join("man/kstoken-verify.1"))
            .unwrap()
            .contains("allow\\-expired")
    );
}
