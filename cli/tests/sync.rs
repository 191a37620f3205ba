//! `kstoken sync` against a keystone on 127.0.0.1: a small HTTP server in the test process that
//! answers keystone's OS-SIMPLE-CERT, password authentication and OS-PKI revocation-list endpoints
//! from state the tests change (rotation, a rebuilt PKI, forged lists, oversized answers), and
//! stands for keystone down or silent. The command is the real binary, run as cron would run it.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kstoken::revocation::{self, RevokedEntry};
use kstoken::Signer;
use kstoken_testkit::{keystone_pki, CertSpec, Issued, Workdir};

const USER: &str = "kstoken-svc";
const PASSWORD: &str = "secret-svc";
const TOKEN: &str = "gAAAAservicetoken";
const MIB: u64 = 1 << 20;

/// How an endpoint answers.
#[derive(Clone)]
enum Answer {
    /// 200 with this body.
    Body(Vec<u8>),
    /// 200 announcing this Content-Length, then nothing: the connection stays open until the
    /// client closes it, so only a client that refuses by the announced length returns at once.
    Announced(u64),
    /// 200 without a length (`Connection: close`), zeros for as long as the client reads.
    Endless,
    /// This status, empty body.
    Status(u16),
}

struct State {
    ca: Answer,
    certificates: Answer,
    revoked: Answer,
    requests: Vec<String>,
}

/// The keystone stand-in: a thread accepting connections on 127.0.0.1, one thread per request.
struct Keystone {
    port: u16,
    state: Arc<Mutex<State>>,
    /// Body bytes written by the endless and announced answers (what a client made us send).
    streamed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Keystone {
    fn start(ca: &Issued, signing: &Issued, revoked: Vec<u8>) -> Keystone {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            ca: Answer::Body(ca.cert_pem.clone()),
            certificates: Answer::Body(signing.cert_pem.clone()),
            revoked: Answer::Body(revoked),
            requests: Vec::new(),
        }));
        let streamed = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, n, st) = (state.clone(), streamed.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let (s, n) = (s.clone(), n.clone());
                    thread::spawn(move || serve(conn, &s, &n));
                }
            }
        });
        Keystone {
            port,
            state,
            streamed,
            stop,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v3", self.port)
    }

    fn set(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap());
    }

    fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }
}

impl Drop for Keystone {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>, streamed: &AtomicU64) {
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let request = line.trim_end().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        let (name, value) = h.split_once(':').unwrap_or((&h, ""));
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length.min(64 * 1024)];
    let _ = reader.read_exact(&mut body);
    let mut out = conn;
    let answer = {
        let mut st = state.lock().unwrap();
        st.requests.push(request.clone());
        match request.split(' ').take(2).collect::<Vec<_>>()[..] {
            ["GET", "/v3/OS-SIMPLE-CERT/ca"] => st.ca.clone(),
            ["GET", "/v3/OS-SIMPLE-CERT/certificates"] => st.certificates.clone(),
            ["POST", "/v3/auth/tokens?nocatalog"] => {
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let user = &json["auth"]["identity"]["password"]["user"];
                let scoped = json["auth"]["scope"]["project"]["name"] == "service";
                if user["name"] == USER && user["password"] == PASSWORD && scoped {
                    let _ = write!(
                        out,
                        "HTTP/1.1 201 Created\r\nX-Subject-Token: {TOKEN}\r\n\
                         Content-Type: application/json\r\nContent-Length: 2\r\n\
                         Connection: close\r\n\r\n{{}}"
                    );
                    return;
                }
                Answer::Status(401)
            }
            ["GET", "/v3/auth/tokens/OS-PKI/revoked"] => {
                if header("x-auth-token").as_deref() == Some(TOKEN) {
                    st.revoked.clone()
                } else {
                    Answer::Status(401)
                }
            }
            _ => Answer::Status(404),
        }
    };
    let zeros = [b'0'; 64 * 1024];
    let stream_zeros = |out: &mut TcpStream| {
        while out.write_all(&zeros).is_ok() {
            streamed.fetch_add(zeros.len() as u64, Ordering::SeqCst);
        }
    };
    match answer {
        Answer::Body(b) => {
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                b.len()
            );
            let _ = out.write_all(&b);
        }
        Answer::Status(code) => {
            let _ = write!(
                out,
                "HTTP/1.1 {code} Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
        Answer::Announced(n) => {
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n"
            );
            // until the client closes (or the 10 s read timeout)
            let _ = out.read(&mut [0; 1]);
        }
        Answer::Endless => {
            let _ = write!(out, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            stream_zeros(&mut out);
        }
    }
    let _ = out.shutdown(Shutdown::Write);
}

/// keystone's PKI: the CA, the signing certificate and its key.
struct Pki {
    _dir: Workdir,
    ca: Issued,
    signing: Issued,
}

fn new_pki() -> Pki {
    let dir = Workdir::new();
    let (ca, signing) = keystone_pki(&dir, 2048);
    Pki {
        _dir: dir,
        ca,
        signing,
    }
}

/// A second signing certificate from `pki`'s CA: a rotation.
fn rotated(pki: &Pki) -> Issued {
    pki._dir.issue(
        "rotated",
        &CertSpec::with_subject("/CN=keystone signing 2"),
        &pki.ca,
    )
}

fn entry(id: &str) -> RevokedEntry {
    RevokedEntry {
        id: Some(id.to_owned()),
        expires: Some("2099-01-01T00:00:00Z".to_owned()),
        audit_id: None,
    }
}

/// keystone's signed list body, signed by `signer`.
fn signed_list(signer: &Issued, ids: &[&str]) -> Vec<u8> {
    let signer = Signer::new(&signer.cert_pem, &signer.key_pem).unwrap();
    let entries: Vec<RevokedEntry> = ids.iter().map(|id| entry(id)).collect();
    revocation::sign(&signer, &entries).unwrap().into_bytes()
}

/// A working directory with the password file; the signing directory is `<dir>/signing`.
struct Setup {
    work: Workdir,
}

impl Setup {
    fn new() -> Setup {
        let work = Workdir::new();
        work.write("password", format!("{PASSWORD}\n").as_bytes());
        Setup { work }
    }

    fn signing_dir(&self) -> PathBuf {
        self.work.path().join("signing")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.signing_dir().join(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.file(name)).unwrap()
    }

    /// `kstoken sync` with the service credentials in OS_* variables, as cron runs it.
    fn sync(&self, keystone: &str, extra: &[&str]) -> (Output, Duration) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kstoken"));
        cmd.env_clear()
            .arg("sync")
            .arg("--signing-dir")
            .arg(self.signing_dir())
            .arg("--password-file")
            .arg(self.work.path().join("password"))
            .args(extra)
            .env("OS_AUTH_URL", keystone)
            .env("OS_USERNAME", USER)
            .env("OS_USER_DOMAIN_NAME", "Default")
            .env("OS_PROJECT_NAME", "service")
            .env("OS_PROJECT_DOMAIN_NAME", "Default");
        let start = Instant::now();
        let out = cmd.output().unwrap();
        (out, start.elapsed())
    }
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// (inode, modification time in ns) of a file: what tells a rewrite from no write at all.
fn stamp(path: &Path) -> (u64, i128) {
    let m = std::fs::metadata(path).unwrap();
    (
        m.ino(),
        i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
    )
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// The written list verifies as a reader of the directory checks it (`kstoken revocation verify`).
fn list_verifies(setup: &Setup) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kstoken"))
        .args(["revocation", "verify", "--signing-cert"])
        .arg(setup.file("signing_cert.pem"))
        .arg("--ca")
        .arg(setup.file("cacert.pem"))
        .arg(setup.file("revoked.signed.pem"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn an_empty_directory_gets_the_certificates_and_the_list() {
    let pki = new_pki();
    let list = signed_list(&pki.signing, &["0123abcd"]);
    let keystone = Keystone::start(&pki.ca, &pki.signing, list.clone());
    let setup = Setup::new();
    let (out, _) = setup.sync(&keystone.url(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(setup.read("cacert.pem"), pki.ca.cert_pem);
    assert_eq!(setup.read("signing_cert.pem"), pki.signing.cert_pem);
    assert_eq!(setup.read("revoked.signed.pem"), list);
    assert_eq!(mode(&setup.signing_dir()), 0o700);
    for name in ["cacert.pem", "signing_cert.pem", "revoked.signed.pem"] {
        assert_eq!(mode(&setup.file(name)), 0o600, "{name}");
    }
    let report = stdout(&out);
    assert!(
        report.contains("cacert.pem: written: fetched from keystone (first use"),
        "{report}"
    );
    assert!(report.contains("revoked.signed.pem: written: 1 entries, verified"));
    assert!(list_verifies(&setup).contains("0123abcd"));
    // no temporary file left behind
    assert_eq!(std::fs::read_dir(setup.signing_dir()).unwrap().count(), 3);
    assert_eq!(
        keystone.requests(),
        [
            "GET /v3/OS-SIMPLE-CERT/ca HTTP/1.1",
            "GET /v3/OS-SIMPLE-CERT/certificates HTTP/1.1",
            "POST /v3/auth/tokens?nocatalog HTTP/1.1",
            "GET /v3/auth/tokens/OS-PKI/revoked HTTP/1.1",
        ]
    );
}

#[test]
fn a_second_run_with_nothing_changed_rewrites_nothing() {
    let pki = new_pki();
    let keystone = Keystone::start(&pki.ca, &pki.signing, signed_list(&pki.signing, &["aa"]));
    let setup = Setup::new();
    assert_eq!(code(&setup.sync(&keystone.url(), &[]).0), 0);
    let before: Vec<_> = ["cacert.pem", "signing_cert.pem", "revoked.signed.pem"]
        .iter()
        .map(|n| stamp(&setup.file(n)))
        .collect();
    thread::sleep(Duration::from_millis(50));
    let (out, _) = setup.sync(&keystone.url(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("signing_cert.pem: unchanged"));
    // the CA is not even fetched again
    assert_eq!(
        keystone
            .requests()
            .iter()
            .filter(|r| r.contains("/ca "))
            .count(),
        1
    );
    assert_eq!(stamp(&setup.file("cacert.pem")), before[0]);
    assert_eq!(stamp(&setup.file("signing_cert.pem")), before[1]);
    // The same list is not rewritten (same inode), but its time says when it was last confirmed.
    let list = stamp(&setup.file("revoked.signed.pem"));
    assert_eq!(list.0, before[2].0);
    assert!(list.1 > before[2].1, "{list:?} {:?}", before[2]);
    assert!(stdout(&out).contains("revoked.signed.pem: unchanged: 1 entries, verified"));
}

#[test]
fn a_rotation_under_the_same_ca_is_taken_in() {
    let pki = new_pki();
    let keystone = Keystone::start(&pki.ca, &pki.signing, signed_list(&pki.signing, &["aa"]));
    let setup = Setup::new();
    assert_eq!(code(&setup.sync(&keystone.url(), &[]).0), 0);
    let ca_before = stamp(&setup.file("cacert.pem"));
    let new = rotated(&pki);
    keystone.set(|s| {
        s.certificates = Answer::Body(new.cert_pem.clone());
        s.revoked = Answer::Body(signed_list(&new, &["aa", "bb"]));
    });
    let (out, _) = setup.sync(&keystone.url(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(setup.read("signing_cert.pem"), new.cert_pem);
    assert_eq!(stamp(&setup.file("cacert.pem")), ca_before);
    assert!(stdout(&out).contains("signing_cert.pem: replaced"));
    assert!(stdout(&out).contains("revoked.signed.pem: replaced: 2 entries, verified"));
    assert!(list_verifies(&setup).contains("bb"));
}

#[test]
fn a_new_ca_from_keystone_is_refused_and_nothing_is_written() {
    let pki = new_pki();
    let keystone = Keystone::start(&pki.ca, &pki.signing, signed_list(&pki.signing, &["aa"]));
    let setup = Setup::new();
    assert_eq!(code(&setup.sync(&keystone.url(), &[]).0), 0);
    let names = ["cacert.pem", "signing_cert.pem", "revoked.signed.pem"];
    let before: Vec<_> = names
        .iter()
        .map(|n| (setup.read(n), stamp(&setup.file(n))))
        .collect();
    // keystone's PKI rebuilt: a new CA with the same subject, a signing certificate with serial 1
    let rebuilt = new_pki();
    keystone.set(|s| {
        s.ca = Answer::Body(rebuilt.ca.cert_pem.clone());
        s.certificates = Answer::Body(rebuilt.signing.cert_pem.clone());
        s.revoked = Answer::Body(signed_list(&rebuilt.signing, &[]));
    });
    let (out, _) = setup.sync(&keystone.url(), &[]);
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    let message = stderr(&out);
    let fingerprint = kstoken::body::bind::x509_fingerprint(&rebuilt.ca.cert_pem).unwrap();
    for needle in [
        "keystone's signing certificate",
        "does not chain to the trusted CA",
        "nothing was written",
        fingerprint.as_str(),
        "check that CA out of band and install it as",
        "cacert.pem",
    ] {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }
    for (name, (bytes, st)) in names.iter().zip(&before) {
        assert_eq!(&setup.read(name), bytes, "{name}");
        assert_eq!(&stamp(&setup.file(name)), st, "{name}");
    }
    // no list was asked for with the refused certificates
    assert!(!keystone.requests()[4..]
        .iter()
        .any(|r| r.contains("revoked")));
}

#[test]
fn a_forged_or_unsigned_list_is_refused_and_the_old_one_kept() {
    let pki = new_pki();
    let keystone = Keystone::start(&pki.ca, &pki.signing, signed_list(&pki.signing, &["aa"]));
    let setup = Setup::new();
    assert_eq!(code(&setup.sync(&keystone.url(), &[]).0), 0);
    let old = setup.read("revoked.signed.pem");
    let old_stamp = stamp(&setup.file("revoked.signed.pem"));
    let rogue = new_pki();
    for (what, body) in [
        ("forged", signed_list(&rogue.signing, &[])),
        ("unsigned", br#"{"revoked": []}"#.to_vec()),
        (
            "garbage",
            br#"{"signed": "-----BEGIN CMS-----\nAAAA\n-----END CMS-----\n"}"#.to_vec(),
        ),
    ] {
        keystone.set(|s| s.revoked = Answer::Body(body));
        let (out, _) = setup.sync(&keystone.url(), &[]);
        assert_eq!(code(&out), 6, "{what}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("the revocation list from")
                && stderr(&out).contains("was refused")
                && stderr(&out).contains("revoked.signed.pem is kept"),
            "{what}: {}",
            stderr(&out)
        );
        assert_eq!(setup.read("revoked.signed.pem"), old, "{what}");
        assert_eq!(
            stamp(&setup.file("revoked.signed.pem")),
            old_stamp,
            "{what}"
        );
    }
}

#[test]
fn keystone_down_is_exit_5_at_once() {
    let setup = Setup::new();
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (out, elapsed) = setup.sync(&format!("http://127.0.0.1:{port}/v3"), &[]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("keystone unreachable"),
        "{}",
        stderr(&out)
    );
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    // the directory was made, nothing was written in it
    assert_eq!(std::fs::read_dir(setup.signing_dir()).unwrap().count(), 0);
}

#[test]
fn a_silent_keystone_is_exit_5_after_the_timeout() {
    let setup = Setup::new();
    // accepts connections (the kernel's backlog) and never answers
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/v3",
        silent.local_addr().unwrap().port()
    );
    let (out, elapsed) = setup.sync(&url, &["--timeout", "2", "--connect-timeout", "2"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("keystone unreachable"),
        "{}",
        stderr(&out)
    );
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(15),
        "{elapsed:?}"
    );
    drop(silent);
}

#[test]
fn a_huge_answer_is_refused_by_the_limit_without_reading_it() {
    let pki = new_pki();
    let keystone = Keystone::start(&pki.ca, &pki.signing, signed_list(&pki.signing, &["aa"]));
    let setup = Setup::new();
    assert_eq!(code(&setup.sync(&keystone.url(), &[]).0), 0);
    let old = setup.read("revoked.signed.pem");
    // Announced: refused from Content-Length before the body is read. The server sends no body
    // byte, so a client that waited for one would time out (exit 5) instead.
    keystone.set(|s| s.revoked = Answer::Announced(1 << 30));
    let (out, elapsed) = setup.sync(&keystone.url(), &["--timeout", "8"]);
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is over the limit of 67108864 bytes: refused"),
        "{}",
        stderr(&out)
    );
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    // unannounced: read up to the list limit (64 MiB), then refused
    keystone.set(|s| s.revoked = Answer::Endless);
    let (out, elapsed) = setup.sync(&keystone.url(), &[]);
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert!(stderr(&out).contains("is over the limit of 67108864 bytes: refused"));
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    // What the server got out is the limit plus what the sockets' buffers held, far from 1 GiB.
    let streamed = keystone.streamed.load(Ordering::SeqCst);
    assert!(streamed < 96 * MIB, "{streamed} bytes streamed");
    assert_eq!(setup.read("revoked.signed.pem"), old);
    // a certificate answer over the credential limit (16 MiB) is refused the same way
    keystone.set(|s| s.certificates = Answer::Announced(1 << 30));
    let (out, elapsed) = setup.sync(&keystone.url(), &["--timeout", "8"]);
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    assert!(stderr(&out).contains("over the limit of 16777216 bytes"));
}

#[test]
fn configuration_errors_are_exit_3_with_the_option_to_set() {
    let pki = new_pki();
    let keystone = Keystone::start(&pki.ca, &pki.signing, signed_list(&pki.signing, &[]));
    let setup = Setup::new();
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kstoken"));
        cmd.env_clear()
            .args(["sync", "--signing-dir"])
            .arg(setup.signing_dir())
            .args(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let url = keystone.url();
    let out = run(&[], &[]);
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("--os-auth-url or OS_AUTH_URL"));
    let out = run(&[("OS_AUTH_URL", &url), ("OS_USERNAME", USER)], &[]);
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).contains("--os-username (OS_USERNAME) needs --os-user-domain-name"),
        "{}",
        stderr(&out)
    );
    let creds = [
        ("OS_AUTH_URL", url.as_str()),
        ("OS_USERNAME", USER),
        ("OS_USER_DOMAIN_NAME", "Default"),
        ("OS_PROJECT_NAME", "service"),
        ("OS_PROJECT_DOMAIN_NAME", "Default"),
    ];
    let out = run(&creds, &[]);
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("--password-file or OS_PASSWORD"));
    // a wrong password: keystone's 401, told as the credentials to check
    let wrong = [creds.as_slice(), &[("OS_PASSWORD", "wrong")]].concat();
    let out = run(&wrong, &[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("keystone refused the service credentials"));
    // nothing checked before the credentials were refused is lost: the certificates were written
    assert!(setup.file("signing_cert.pem").exists());
    assert!(!setup.file("revoked.signed.pem").exists());
    let out = run(&[("OS_AUTH_URL", &url), ("OS_AUTH_TYPE", "token")], &[]);
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("OS_AUTH_TYPE \"token\" is not supported"));
    // OS_PASSWORD works as well as the file, flags as well as the variables
    let out = run(
        &[("OS_PASSWORD", PASSWORD)],
        &[
            "--os-auth-url",
            &url,
            "--os-username",
            USER,
            "--os-user-domain-id",
            "default",
            "--os-project-name",
            "service",
            "--os-project-domain-name",
            "Default",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(setup.file("revoked.signed.pem").exists());
}

#[test]
fn certificates_only_needs_no_credentials() {
    let pki = new_pki();
    let keystone = Keystone::start(&pki.ca, &pki.signing, signed_list(&pki.signing, &[]));
    let setup = Setup::new();
    let out = Command::new(env!("CARGO_BIN_EXE_kstoken"))
        .env_clear()
        .args(["sync", "--certificates-only", "--quiet", "--signing-dir"])
        .arg(setup.signing_dir())
        .env("OS_AUTH_URL", format!("http://127.0.0.1:{}", keystone.port))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(setup.read("signing_cert.pem"), pki.signing.cert_pem);
    assert!(!setup.file("revoked.signed.pem").exists());
    assert!(!keystone
        .requests()
        .iter()
        .any(|r| r.contains("auth/tokens")));
}

#[test]
fn an_existing_directory_with_another_mode_is_used_with_a_warning() {
    let pki = new_pki();
    let keystone = Keystone::start(&pki.ca, &pki.signing, signed_list(&pki.signing, &[]));
    let setup = Setup::new();
    std::fs::create_dir(setup.signing_dir()).unwrap();
    std::fs::set_permissions(setup.signing_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (out, _) = setup.sync(&keystone.url(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("kstoken: warning: signing directory")
            && stderr(&out).contains("has mode 755, not 700"),
        "{}",
        stderr(&out)
    );
    // the operator's mode is left as it is
    assert_eq!(mode(&setup.signing_dir()), 0o755);
    assert_eq!(mode(&setup.file("signing_cert.pem")), 0o600);
}
