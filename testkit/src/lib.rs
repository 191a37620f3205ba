//! Dev-only helpers for kstoken tests: throw-away PKIs made with the `openssl` command-line tool,
//! and `openssl cms` run exactly as keystone runs it, to serve as an oracle.
//!
//! Everything here panics with openssl's stderr on failure: these are test helpers.
//! The `openssl` binary is taken from `$KSTOKEN_OPENSSL` when set, else from `PATH`.

#![warn(missing_docs)]

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::{Decode, Encode};

/// A temporary directory (removed on drop) in which certificates, keys and other files are written.
#[derive(Debug)]
pub struct Workdir {
    dir: tempfile::TempDir,
}

/// Key algorithm and size of a generated key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    /// RSA with the given modulus size in bits.
    Rsa(u32),
    /// ECDSA on NIST P-256 (prime256v1), named curve.
    EcP256,
    /// ECDSA on NIST P-384 (secp384r1), named curve.
    EcP384,
}

/// What certificate to make; `CertSpec::default()` is RSA-2048, `/CN=test`, v3, sha256, valid from
/// now-1d to now+3650d, random serial, no extensions.
///
/// Note: OpenSSL 3.0's `openssl ca` only writes a v3 certificate when it has at least one extension,
/// so a spec with `v1: false` that selects no extension still yields a v1 certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSpec {
    /// Key algorithm of the certificate's subject key.
    pub key: KeySpec,
    /// Subject DN in `openssl -subj` form, e.g. `/C=US/O=Test/CN=Signer` (order is preserved;
    /// UTF-8, written as UTF8String values).
    pub subject: String,
    /// Make an X.509 v1 certificate (no extensions at all; other extension fields must be unset).
    pub v1: bool,
    /// notBefore as `YYYYMMDDHHMMSSZ` (see [`openssl_time`]); `None` = now minus one day.
    pub not_before: Option<String>,
    /// notAfter as `YYYYMMDDHHMMSSZ` (see [`openssl_time`]); `None` = now plus 3650 days.
    pub not_after: Option<String>,
    /// Add `basicConstraints=critical,CA:TRUE` (and `keyUsage=keyCertSign,cRLSign` when `key_usage` is `None`).
    pub ca: bool,
    /// `keyUsage` value in openssl config syntax, e.g. `digitalSignature` or `critical,keyEncipherment`.
    pub key_usage: Option<String>,
    /// `extendedKeyUsage` value in openssl config syntax, e.g. `emailProtection` or `serverAuth`.
    pub ext_key_usage: Option<String>,
    /// Add `subjectKeyIdentifier=hash` (+ `authorityKeyIdentifier=keyid:always` when issued by another cert).
    pub ski_aki: bool,
    /// Extra extension lines in openssl config syntax, appended last, e.g. `nsCertType = server`.
    pub extra_extensions: Vec<String>,
    /// Certificate serial number; `None` = random (159 bits, `openssl ca -rand_serial`).
    pub serial: Option<u64>,
    /// Digest of the certificate signature (`openssl ca -md`), default `sha256`.
    pub md: String,
    /// Write the private key as PKCS#1 / SEC1 (`BEGIN RSA PRIVATE KEY` / `BEGIN EC PRIVATE KEY`) instead of PKCS#8.
    pub pkcs1_key: bool,
}

impl Default for CertSpec {
    fn default() -> Self {
        CertSpec {
            key: KeySpec::Rsa(2048),
            subject: "/CN=test".to_owned(),
            v1: false,
            not_before: None,
            not_after: None,
            ca: false,
            key_usage: None,
            ext_key_usage: None,
            ski_aki: false,
            extra_extensions: Vec::new(),
            serial: None,
            md: "sha256".to_owned(),
            pkcs1_key: false,
        }
    }
}

impl CertSpec {
    /// A CA root spec: defaults plus `ca: true` and `ski_aki: true`, with the given subject.
    pub fn ca_root(subject: &str) -> CertSpec {
        CertSpec {
            subject: subject.to_owned(),
            ca: true,
            ski_aki: true,
            ..CertSpec::default()
        }
    }

    /// A default spec (no extensions, hence v1) with the given subject.
    pub fn with_subject(subject: &str) -> CertSpec {
        CertSpec {
            subject: subject.to_owned(),
            ..CertSpec::default()
        }
    }
}

/// A generated certificate and its private key, as PEM bytes and as files in the [`Workdir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The certificate, PEM (`BEGIN CERTIFICATE`).
    pub cert_pem: Vec<u8>,
    /// The private key, PEM (PKCS#8 unless `pkcs1_key` was set), unencrypted.
    pub key_pem: Vec<u8>,
    /// Path of the certificate file (`<name>_cert.pem`).
    pub cert_path: PathBuf,
    /// Path of the private key file (`<name>_key.pem`).
    pub key_path: PathBuf,
}

/// Result of running the `openssl` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpensslOutcome {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output, raw.
    pub stdout: Vec<u8>,
    /// Standard error, lossily decoded as UTF-8.
    pub stderr: String,
}

impl OpensslOutcome {
    /// True when the exit code is 0.
    pub fn ok(&self) -> bool {
        self.code == 0
    }
}

impl Default for Workdir {
    fn default() -> Self {
        Workdir::new()
    }
}

impl Workdir {
    /// Creates a fresh temporary directory.
    pub fn new() -> Workdir {
        let dir = tempfile::Builder::new()
            .prefix("kstoken-testkit-")
            .tempdir()
            .unwrap_or_else(|e| panic!("kstoken-testkit: cannot create temporary directory: {e}"));
        Workdir { dir }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `bytes` to the file `name` in the directory and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, bytes)
            .unwrap_or_else(|e| panic!("kstoken-testkit: cannot write {}: {e}", path.display()));
        path
    }

    /// Makes a self-signed certificate exactly as `spec` says (use `ca: true` or `v1: true` for a usable trust anchor).
    pub fn self_signed(&self, name: &str, spec: &CertSpec) -> Issued {
        let ext = extension_lines(spec, false);
        self.make_cert(name, spec, None, &ext)
    }

    /// Makes a certificate for `spec` signed by `issuer` (issuer DN and key taken from `issuer`).
    pub fn issue(&self, name: &str, spec: &CertSpec, issuer: &Issued) -> Issued {
        let ext = extension_lines(spec, true);
        self.make_cert(name, spec, Some(issuer), &ext)
    }

    /// An empty v2 CRL issued by `issuer` (`openssl ca -gencrl`), DER.
    pub fn crl(&self, issuer: &Issued) -> Vec<u8> {
        let scratch = tempfile::Builder::new()
            .prefix(".crl-")
            .tempdir_in(self.path())
            .unwrap_or_else(|e| panic!("kstoken-testkit: cannot create scratch directory: {e}"));
        let s = scratch.path();
        write_file(&s.join("index.txt"), b"");
        let conf = format!(
            "[ca]\ndefault_ca = ca_default\n[ca_default]\ndatabase = {}\n\
             default_md = sha256\ndefault_crl_days = 30\ncrl_extensions = crl_ext\n\
             [crl_ext]\nauthorityKeyIdentifier = keyid:always\n",
            s.join("index.txt").display()
        );
        let conf_path = s.join("crl.cnf");
        write_file(&conf_path, conf.as_bytes());
        let pem_path = s.join("crl.pem");
        let der_path = s.join("crl.der");
        let args: [&OsStr; 10] = [
            "ca".as_ref(),
            "-gencrl".as_ref(),
            "-config".as_ref(),
            conf_path.as_ref(),
            "-cert".as_ref(),
            issuer.cert_path.as_ref(),
            "-keyfile".as_ref(),
            issuer.key_path.as_ref(),
            "-out".as_ref(),
            pem_path.as_ref(),
        ];
        must(&args, None, "generate CRL");
        let args: [&OsStr; 7] = [
            "crl".as_ref(),
            "-in".as_ref(),
            pem_path.as_ref(),
            "-outform".as_ref(),
            "DER".as_ref(),
            "-out".as_ref(),
            der_path.as_ref(),
        ];
        must(&args, None, "convert CRL to DER");
        read_file(&der_path)
    }

    /// Generates the key, CSR and certificate with `openssl genpkey`, `req` and `ca`.
    fn make_cert(
        &self,
        name: &str,
        spec: &CertSpec,
        issuer: Option<&Issued>,
        ext: &[String],
    ) -> Issued {
        let key_path = self.path().join(format!("{name}_key.pem"));
        let cert_path = self.path().join(format!("{name}_cert.pem"));
        let scratch = tempfile::Builder::new()
            .prefix(&format!(".{name}-ca-"))
            .tempdir_in(self.path())
            .unwrap_or_else(|e| panic!("kstoken-testkit: cannot create scratch directory: {e}"));
        let s = scratch.path();

        // Key.
        let mut gen: Vec<OsString> = vec!["genpkey".into()];
        match spec.key {
            KeySpec::Rsa(bits) => {
                gen.extend(["-algorithm".into(), "RSA".into(), "-pkeyopt".into()]);
                gen.push(format!("rsa_keygen_bits:{bits}").into());
            }
            KeySpec::EcP256 | KeySpec::EcP384 => {
                let curve = if spec.key == KeySpec::EcP256 {
                    "P-256"
                } else {
                    "P-384"
                };
                gen.extend(["-algorithm".into(), "EC".into(), "-pkeyopt".into()]);
                gen.push(format!("ec_paramgen_curve:{curve}").into());
                gen.extend(["-pkeyopt".into(), "ec_param_enc:named_curve".into()]);
            }
        }
        let pkcs8_path = s.join("key.p8.pem");
        gen.extend(["-out".into(), pkcs8_path.clone().into_os_string()]);
        must(&gen, None, "generate key");
        if spec.pkcs1_key {
            let args: [&OsStr; 6] = [
                "pkey".as_ref(),
                "-in".as_ref(),
                pkcs8_path.as_ref(),
                "-traditional".as_ref(),
                "-out".as_ref(),
                key_path.as_ref(),
            ];
            must(&args, None, "convert key to PKCS#1");
        } else {
            std::fs::copy(&pkcs8_path, &key_path).unwrap_or_else(|e| {
                panic!("kstoken-testkit: cannot write {}: {e}", key_path.display())
            });
        }

        // Config: req + ca sections, policy accepting anything, extension section.
        if spec.v1 && !ext.is_empty() {
            panic!("kstoken-testkit: CertSpec for {name:?} asks for v1 and for extensions {ext:?}");
        }
        let mut conf = String::from(
            "[req]\ndistinguished_name = req_dn\nstring_mask = utf8only\nprompt = no\n[req_dn]\n\
             [ca]\ndefault_ca = ca_default\n[ca_default]\n",
        );
        let _ = writeln!(conf, "dir = {}", s.display());
        conf.push_str(
            "database = $dir/index.txt\nnew_certs_dir = $dir\nserial = $dir/serial\n\
             default_md = sha256\npolicy = policy_anything\nunique_subject = no\n\
             copy_extensions = none\nstring_mask = utf8only\nemail_in_dn = yes\n\
             [policy_anything]\ncountryName = optional\nstateOrProvinceName = optional\n\
             localityName = optional\norganizationName = optional\n\
             organizationalUnitName = optional\ncommonName = optional\nemailAddress = optional\n\
             [cert_ext]\n",
        );
        for line in ext {
            conf.push_str(line);
            conf.push('\n');
        }
        let conf_path = s.join("openssl.cnf");
        write_file(&conf_path, conf.as_bytes());
        write_file(&s.join("index.txt"), b"");
        if let Some(serial) = spec.serial {
            let mut hex = format!("{serial:X}");
            if hex.len() % 2 == 1 {
                hex.insert(0, '0');
            }
            write_file(&s.join("serial"), format!("{hex}\n").as_bytes());
        }

        // CSR.
        let csr_path = s.join("req.csr");
        // `-utf8`: a subject with non-ASCII characters is read as UTF-8, not byte by byte.
        let args: [&OsStr; 11] = [
            "req".as_ref(),
            "-new".as_ref(),
            "-utf8".as_ref(),
            "-config".as_ref(),
            conf_path.as_ref(),
            "-key".as_ref(),
            key_path.as_ref(),
            "-subj".as_ref(),
            spec.subject.as_ref(),
            "-out".as_ref(),
            csr_path.as_ref(),
        ];
        must(&args, None, "create CSR");

        // Certificate.
        let now = unix_now();
        let not_before = spec
            .not_before
            .clone()
            .unwrap_or_else(|| openssl_time(now - 86_400));
        let not_after = spec
            .not_after
            .clone()
            .unwrap_or_else(|| openssl_time(now + 3650 * 86_400));
        let mut args: Vec<OsString> = ["ca", "-batch", "-notext", "-preserveDN", "-config"]
            .iter()
            .map(OsString::from)
            .collect();
        args.push(conf_path.clone().into_os_string());
        args.extend(["-in".into(), csr_path.into_os_string()]);
        args.extend(["-out".into(), cert_path.clone().into_os_string()]);
        args.extend(["-startdate".into(), not_before.into()]);
        args.extend(["-enddate".into(), not_after.into()]);
        args.extend(["-md".into(), OsString::from(&spec.md)]);
        if spec.serial.is_none() {
            args.push("-rand_serial".into());
        }
        if !ext.is_empty() {
            args.extend(["-extensions".into(), "cert_ext".into()]);
        }
        match issuer {
            None => {
                args.push("-selfsign".into());
                args.extend(["-keyfile".into(), key_path.clone().into_os_string()]);
            }
            Some(iss) => {
                args.extend(["-cert".into(), iss.cert_path.clone().into_os_string()]);
                args.extend(["-keyfile".into(), iss.key_path.clone().into_os_string()]);
            }
        }
        must(&args, None, &format!("sign certificate {name:?}"));

        Issued {
            cert_pem: read_file(&cert_path),
            key_pem: read_file(&key_path),
            cert_path,
            key_path,
        }
    }
}

/// The extension config lines for `spec` (`issued` = signed by another certificate).
fn extension_lines(spec: &CertSpec, issued: bool) -> Vec<String> {
    let mut ext = Vec::new();
    if spec.ca {
        ext.push("basicConstraints = critical,CA:TRUE".to_owned());
    }
    match (&spec.key_usage, spec.ca) {
        (Some(ku), _) => ext.push(format!("keyUsage = {ku}")),
        (None, true) => ext.push("keyUsage = keyCertSign,cRLSign".to_owned()),
        (None, false) => {}
    }
    if let Some(eku) = &spec.ext_key_usage {
        ext.push(format!("extendedKeyUsage = {eku}"));
    }
    if spec.ski_aki {
        ext.push("subjectKeyIdentifier = hash".to_owned());
        if issued {
            ext.push("authorityKeyIdentifier = keyid:always".to_owned());
        }
    }
    ext.extend(spec.extra_extensions.iter().cloned());
    ext
}

/// Keystone-style PKI as `keystone-manage pki_setup` makes it (`docs/reference-behaviour.md#pki-setup`): returns (ca, signer), files `ca_*.pem` / `signing_*.pem`.
///
/// Both have subject `/C=US/ST=Unset/L=Unset/O=Unset/CN=www.example.com` and RSA keys of `key_bits`.
/// The CA has keystone's `v3_ca` extensions (`basicConstraints=CA:TRUE`, SKI hash, AKI `keyid:always,issuer`);
/// the signing cert has `usr_cert` (`basicConstraints=CA:FALSE`, SKI hash, AKI `keyid:always`) and serial 1.
pub fn keystone_pki(dir: &Workdir, key_bits: u32) -> (Issued, Issued) {
    let subject = "/C=US/ST=Unset/L=Unset/O=Unset/CN=www.example.com".to_owned();
    let ca_spec = CertSpec {
        key: KeySpec::Rsa(key_bits),
        subject: subject.clone(),
        ..CertSpec::default()
    };
    let ca_ext = [
        "basicConstraints = CA:TRUE",
        "subjectKeyIdentifier = hash",
        "authorityKeyIdentifier = keyid:always,issuer",
    ]
    .map(String::from);
    let ca = dir.make_cert("ca", &ca_spec, None, &ca_ext);
    let signer_spec = CertSpec {
        key: KeySpec::Rsa(key_bits),
        subject,
        serial: Some(1),
        ..CertSpec::default()
    };
    let signer_ext = [
        "basicConstraints = CA:FALSE",
        "subjectKeyIdentifier = hash",
        "authorityKeyIdentifier = keyid:always",
    ]
    .map(String::from);
    let signer = dir.make_cert("signing", &signer_spec, Some(&ca), &signer_ext);
    (ca, signer)
}

/// `openssl cms -sign -signer C -inkey K -outform PEM -nosmimecap -nodetach -nocerts -noattr -md MD`, data on stdin.
pub fn cms_sign(cert: &Path, key: &Path, data: &[u8], md: &str) -> OpensslOutcome {
    cms_sign_args(cert, key, data, md, "PEM", &[])
}

/// Like [`cms_sign`] with `-binary` added (no MIME text canonicalisation of the content).
pub fn cms_sign_binary(cert: &Path, key: &Path, data: &[u8], md: &str) -> OpensslOutcome {
    cms_sign_args(cert, key, data, md, "PEM", &["-binary"])
}

/// Like [`cms_sign`] with `-stream` and `-outform FORM` (`PEM` or `DER`): BER with indefinite
/// lengths and the content as a constructed OCTET STRING of segments (4096 bytes in OpenSSL 3.0).
pub fn cms_sign_stream(
    cert: &Path,
    key: &Path,
    data: &[u8],
    md: &str,
    outform: &str,
) -> OpensslOutcome {
    cms_sign_args(cert, key, data, md, outform, &["-stream"])
}

/// Runs `openssl cms -sign` with keystone's flags, the output form and extra arguments.
fn cms_sign_args(
    cert: &Path,
    key: &Path,
    data: &[u8],
    md: &str,
    outform: &str,
    extra: &[&str],
) -> OpensslOutcome {
    let mut args: Vec<&OsStr> = vec![
        "cms".as_ref(),
        "-sign".as_ref(),
        "-signer".as_ref(),
        cert.as_ref(),
        "-inkey".as_ref(),
        key.as_ref(),
        "-outform".as_ref(),
        outform.as_ref(),
        "-nosmimecap".as_ref(),
        "-nodetach".as_ref(),
        "-nocerts".as_ref(),
        "-noattr".as_ref(),
        "-md".as_ref(),
        md.as_ref(),
    ];
    args.extend(extra.iter().map(|a| OsStr::new(*a)));
    run_openssl(&args, Some(data))
}

/// `openssl cms -verify -certfile S -CAfile CA -inform PEM -nosmimecap -nodetach -nocerts -noattr [-attime T]`, PEM on stdin.
pub fn cms_verify(
    pem: &[u8],
    certfile: &Path,
    cafile: &Path,
    attime: Option<i64>,
) -> OpensslOutcome {
    cms_verify_form(pem, certfile, cafile, attime, "PEM")
}

/// Like [`cms_verify`] with `-inform FORM` (`PEM` or `DER`) for the document on stdin.
pub fn cms_verify_form(
    input: &[u8],
    certfile: &Path,
    cafile: &Path,
    attime: Option<i64>,
    inform: &str,
) -> OpensslOutcome {
    let attime = attime.map(|t| t.to_string());
    let mut args: Vec<&OsStr> = vec![
        "cms".as_ref(),
        "-verify".as_ref(),
        "-certfile".as_ref(),
        certfile.as_ref(),
        "-CAfile".as_ref(),
        cafile.as_ref(),
        "-inform".as_ref(),
        inform.as_ref(),
        "-nosmimecap".as_ref(),
        "-nodetach".as_ref(),
        "-nocerts".as_ref(),
        "-noattr".as_ref(),
    ];
    if let Some(t) = &attime {
        args.push("-attime".as_ref());
        args.push(t.as_ref());
    }
    run_openssl(&args, Some(input))
}

/// OpenSSL's verification failure reason from stderr (e.g. `certificate has expired`, `content verify error`); `None` when none found.
///
/// Prefers the X.509 `Verify error:<reason>` detail; otherwise the reason field of the last
/// `…:error:<code>:<lib>:<func>:<reason>:<file>:<line>:…` line.
pub fn verify_reason(stderr: &str) -> Option<String> {
    const VERIFY: &str = "Verify error:";
    for line in stderr.lines() {
        if let Some(pos) = line.find(VERIFY) {
            let reason = line.get(pos + VERIFY.len()..).unwrap_or("").trim();
            if !reason.is_empty() {
                return Some(reason.to_owned());
            }
        }
    }
    stderr.lines().rev().find_map(|line| {
        let pos = line.find(":error:")?;
        // After ":error:" come code, library, function, reason, file, line, data.
        let mut fields = line.get(pos + ":error:".len()..)?.splitn(5, ':');
        let reason = fields.nth(3)?.trim();
        (!reason.is_empty()).then(|| reason.to_owned())
    })
}

/// The output of `openssl version`, trimmed (e.g. `OpenSSL 3.0.19 27 Jan 2026 (Library: …)`).
pub fn openssl_version() -> String {
    let out = must(&["version"], None, "query version");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs `openssl` with `args`, feeding `stdin` (or nothing) on standard input; panics only if it cannot be started.
pub fn run_openssl<S: AsRef<OsStr>>(args: &[S], stdin: Option<&[u8]>) -> OpensslOutcome {
    let bin = std::env::var_os("KSTOKEN_OPENSSL").unwrap_or_else(|| "openssl".into());
    let mut child = Command::new(&bin)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("kstoken-testkit: cannot run {}: {e}", bin.to_string_lossy()));
    let writer = match (child.stdin.take(), stdin) {
        (Some(mut pipe), Some(data)) => {
            let data = data.to_vec();
            // A separate thread avoids a pipe deadlock on large inputs; EPIPE is ignored
            // (openssl may exit before reading everything, its exit code tells why).
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
            }))
        }
        _ => None,
    };
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("kstoken-testkit: waiting for openssl failed: {e}"));
    if let Some(w) = writer {
        let _ = w.join();
    }
    OpensslOutcome {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs openssl and panics with its command line and stderr unless it exits 0.
fn must<S: AsRef<OsStr>>(args: &[S], stdin: Option<&[u8]>, what: &str) -> OpensslOutcome {
    let out = run_openssl(args, stdin);
    if !out.ok() {
        let cmd: Vec<_> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        panic!(
            "kstoken-testkit: openssl failed to {what} (exit {}): openssl {}\n{}",
            out.code,
            cmd.join(" "),
            out.stderr
        );
    }
    out
}

/// Current time in seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// Formats a Unix time as `YYYYMMDDHHMMSSZ` (UTC), the form `CertSpec::not_before`/`not_after` take.
pub fn openssl_time(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Decodes a DER CMS ContentInfo holding SignedData, lets `edit` change the SignedData, and
/// encodes the result as DER: for documents OpenSSL accepts but no signer writes.
pub fn edit_signed_data(der: &[u8], edit: impl FnOnce(&mut SignedData)) -> Vec<u8> {
    let info = ContentInfo::from_der(der).expect("kstoken-testkit: not a DER ContentInfo");
    let mut signed: SignedData = info
        .content
        .decode_as()
        .expect("kstoken-testkit: not a DER SignedData");
    edit(&mut signed);
    ContentInfo {
        content_type: info.content_type,
        content: der::Any::encode_from(&signed).expect("kstoken-testkit: cannot encode SignedData"),
    }
    .to_der()
    .expect("kstoken-testkit: cannot encode ContentInfo")
}

/// Hand-built ASN.1 encodings, DER and BER, for documents no encoder writes (one-byte tags only).
pub mod asn1 {
    /// The DER (minimal) length octets of `n`.
    pub fn length(n: usize) -> Vec<u8> {
        if n < 0x80 {
            return vec![n as u8];
        }
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        let mut out = vec![0x80 | bytes.len() as u8];
        out.extend(bytes);
        out
    }

    /// A TLV with a definite, minimal length.
    pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend(length(content.len()));
        out.extend_from_slice(content);
        out
    }

    /// A TLV with an indefinite length (`tag` must be constructed), closed by end-of-contents.
    pub fn indefinite(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag, 0x80];
        out.extend_from_slice(content);
        out.extend([0, 0]);
        out
    }

    /// Splits the DER TLV at the start of `der` into its tag, its content and the bytes after it.
    ///
    /// Panics on anything but a one-byte tag with a definite length that fits.
    pub fn split(der: &[u8]) -> (u8, &[u8], &[u8]) {
        let (tag, first) = (der[0], der[1]);
        let (len, head) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let n = usize::from(first & 0x7f);
            assert!(
                (1..=4).contains(&n),
                "kstoken-testkit: not a definite DER length"
            );
            let len = der[2..2 + n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, 2 + n)
        };
        (tag, &der[head..head + len], &der[head + len..])
    }

    /// The TLVs (each whole) that make up a constructed value's DER content.
    pub fn children(mut content: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        while !content.is_empty() {
            let (_, _, rest) = split(content);
            out.push(&content[..content.len() - rest.len()]);
            content = rest;
        }
        out
    }

    /// `der` with every constructed value re-encoded with an indefinite length, as a streaming
    /// encoder writes BER (primitive values, OCTET STRINGs included, are kept as they are).
    pub fn to_indefinite(der: &[u8]) -> Vec<u8> {
        let (tag, content, rest) = split(der);
        assert!(rest.is_empty(), "kstoken-testkit: bytes after the TLV");
        if tag & 0x20 == 0 {
            return der.to_vec();
        }
        let inner: Vec<u8> = children(content)
            .into_iter()
            .flat_map(to_indefinite)
            .collect();
        indefinite(tag, &inner)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn encodings() {
            assert_eq!(length(5), [5]);
            assert_eq!(length(0x80), [0x81, 0x80]);
            assert_eq!(length(0x1234), [0x82, 0x12, 0x34]);
            let der = tlv(
                0x30,
                &[tlv(0x04, b"ab"), tlv(0x31, &tlv(0x02, &[1]))].concat(),
            );
            assert_eq!(children(split(&der).1).len(), 2);
            assert_eq!(
                to_indefinite(&der),
                [&[0x30, 0x80, 0x04, 2, b'a', b'b', 0x31, 0x80, 0x02, 1, 1, 0, 0, 0, 0][..]]
                    .concat()
            );
        }
    }
}

/// Writes a file or panics.
fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes)
        .unwrap_or_else(|e| panic!("kstoken-testkit: cannot write {}: {e}", path.display()));
}

/// Reads a file or panics.
fn read_file(path: &Path) -> Vec<u8> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("kstoken-testkit: cannot read {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formatting() {
        assert_eq!(openssl_time(0), "19700101000000Z");
        assert_eq!(openssl_time(1_600_000_000), "20200913122640Z");
        assert_eq!(openssl_time(951_782_400), "20000229000000Z");
        assert_eq!(openssl_time(2_524_608_000), "20500101000000Z");
        assert_eq!(openssl_time(-1), "19691231235959Z");
    }

    #[test]
    fn reason_parsing() {
        let expired = "Warning: -nodetach option is ignored for non-signing operation\n\
            CMS Verification failure\n\
            80EBBDC86D7F0000:error:17000064:CMS routines:cms_signerinfo_verify_cert:certificate verify error:../crypto/cms/cms_smime.c:289:Verify error: certificate has expired\n";
        assert_eq!(
            verify_reason(expired).as_deref(),
            Some("certificate has expired")
        );
        let content = "Warning: -nodetach option is ignored for non-signing operation\n\
            CMS Verification failure\n\
            800B920ECF7F0000:error:0200008A:rsa routines:RSA_padding_check_PKCS1_type_1:invalid padding:../crypto/rsa/rsa_pk1.c:75:\n\
            800B920ECF7F0000:error:1700009E:CMS routines:CMS_SignerInfo_verify_content:verification failure:../crypto/cms/cms_sd.c:1026:\n\
            800B920ECF7F0000:error:1700006D:CMS routines:CMS_verify:content verify error:../crypto/cms/cms_smime.c:455:\n";
        assert_eq!(
            verify_reason(content).as_deref(),
            Some("content verify error")
        );
        let not_found = "CMS Verification failure\n\
            80DBAEBEF77F0000:error:1700008A:CMS routines:CMS_verify:signer certificate not found:../crypto/cms/cms_smime.c:346:\n";
        assert_eq!(
            verify_reason(not_found).as_deref(),
            Some("signer certificate not found")
        );
        assert_eq!(verify_reason("CMS Verification successful\n"), None);
    }
}
