//! `kstoken sync --signing-dir DIR`: keeps a signing directory in keystonemiddleware's layout fresh
//! from keystone without a Python service, for cron or a systemd timer.
//!
//! Each run: the CA is fetched only when `cacert.pem` is missing (the first run trusts keystone's
//! answer, as keystonemiddleware does; install `cacert.pem` beforehand to pin it), and never
//! replaced by a fetch. The signing certificate is fetched every run and written when it changed,
//! only if every certificate of it chains to that CA now (the core's rule,
//! [`kstoken::Verifier::rotate`]). The signed revocation list is fetched with the service user's
//! token, verified with those certificates and kept signed, as keystone served it. Everything is
//! verified before it is written; files are replaced atomically. See `docs/sync.md`.

mod keystone;
mod signing_dir;

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use kstoken::body::bind::x509_fingerprint;
use kstoken::{unix_now, LimitKind, Limits, RevocationList, Verifier};

use crate::exit::{Failure, Outcome};
use crate::input::read_credential;
use crate::output::print_line;
use crate::stdio;
use keystone::{Credentials, Domain, Keystone, Named, Timeouts};
use signing_dir::{SigningDir, Written, CA_CERT, REVOCATION_LIST, SIGNING_CERT};

/// Arguments of `kstoken sync`: keystoneauth's password options, named and read from the
/// environment as openstackclient names them.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The signing directory (keystonemiddleware's `signing_dir`): signing_cert.pem, cacert.pem
    /// and revoked.signed.pem; created 0700 when missing.
    #[arg(long, value_name = "DIR")]
    pub signing_dir: PathBuf,
    /// Keystone's URL (`https://keystone:5000/v3`, or the root: `/v3` is added).
    #[arg(long, value_name = "URL", env = "OS_AUTH_URL")]
    pub os_auth_url: Option<String>,
    /// Authentication type: only `password` (or `v3password`) is supported.
    #[arg(long, value_name = "TYPE", env = "OS_AUTH_TYPE")]
    pub os_auth_type: Option<String>,
    /// The service user's name (with --os-user-domain-name or --os-user-domain-id).
    #[arg(long, value_name = "NAME", env = "OS_USERNAME")]
    pub os_username: Option<String>,
    /// The service user's id.
    #[arg(long, value_name = "ID", env = "OS_USER_ID")]
    pub os_user_id: Option<String>,
    /// The service user's password; prefer --password-file, which other users of the machine
    /// cannot read in the process list.
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "OS_PASSWORD",
        hide_env_values = true
    )]
    pub os_password: Option<String>,
    /// A file holding the service user's password (one line; a final newline is dropped); wins
    /// over OS_PASSWORD.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// The user's domain, by name.
    #[arg(long, value_name = "NAME", env = "OS_USER_DOMAIN_NAME")]
    pub os_user_domain_name: Option<String>,
    /// The user's domain, by id.
    #[arg(long, value_name = "ID", env = "OS_USER_DOMAIN_ID")]
    pub os_user_domain_id: Option<String>,
    /// The project the service token is scoped to, by name (with a project domain).
    #[arg(long, value_name = "NAME", env = "OS_PROJECT_NAME")]
    pub os_project_name: Option<String>,
    /// The project the service token is scoped to, by id.
    #[arg(long, value_name = "ID", env = "OS_PROJECT_ID")]
    pub os_project_id: Option<String>,
    /// The project's domain, by name.
    #[arg(long, value_name = "NAME", env = "OS_PROJECT_DOMAIN_NAME")]
    pub os_project_domain_name: Option<String>,
    /// The project's domain, by id.
    #[arg(long, value_name = "ID", env = "OS_PROJECT_DOMAIN_ID")]
    pub os_project_domain_id: Option<String>,
    /// CA bundle (PEM) that keystone's TLS certificate is checked with, instead of the system's.
    #[arg(long, value_name = "FILE", env = "OS_CACERT")]
    pub os_cacert: Option<PathBuf>,
    /// Fetch the certificates only: no credentials, no revocation list (keystone without
    /// revocation lists, or services that do not enforce them).
    #[arg(long)]
    pub certificates_only: bool,
    /// Seconds to wait for a connection to keystone.
    #[arg(long, value_name = "SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub connect_timeout: u64,
    /// Seconds one exchange with keystone may take, request to the last byte of the answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
    /// Print nothing on success (warnings and errors still go to standard error).
    #[arg(long, short)]
    pub quiet: bool,
}

/// `Some(id)` or `Some(name)` of a pair of options, refusing both.
fn one_of(
    id: &Option<String>,
    name: &Option<String>,
    options: &str,
) -> Result<Option<Domain>, Failure> {
    match (id, name) {
        (Some(_), Some(_)) => Err(Failure::config(format!("give only one of {options}"))),
        (Some(id), None) => Ok(Some(Domain::Id(id.clone()))),
        (None, Some(name)) => Ok(Some(Domain::Name(name.clone()))),
        (None, None) => Ok(None),
    }
}

/// A user or project given by id, or by name with its domain.
fn named(
    id: &Option<String>,
    name: &Option<String>,
    domain_id: &Option<String>,
    domain_name: &Option<String>,
    what: &str,
) -> Result<Named, Failure> {
    let (id_opt, name_opt, domain_opts) = match what {
        "user" => (
            "--os-user-id (OS_USER_ID)",
            "--os-username (OS_USERNAME)",
            "--os-user-domain-name (OS_USER_DOMAIN_NAME) or --os-user-domain-id (OS_USER_DOMAIN_ID)",
        ),
        _ => (
            "--os-project-id (OS_PROJECT_ID)",
            "--os-project-name (OS_PROJECT_NAME)",
            "--os-project-domain-name (OS_PROJECT_DOMAIN_NAME) or --os-project-domain-id \
             (OS_PROJECT_DOMAIN_ID)",
        ),
    };
    match one_of(id, name, &format!("{id_opt} and {name_opt}"))? {
        Some(Domain::Id(id)) => Ok(Named::Id(id)),
        Some(Domain::Name(name)) => {
            let domain = one_of(domain_id, domain_name, domain_opts)?
                .ok_or_else(|| Failure::config(format!("{name_opt} needs {domain_opts}")))?;
            Ok(Named::Name(name, domain))
        }
        None => Err(Failure::config(format!(
            "the revocation list needs service credentials: {name_opt} or {id_opt} is missing \
             (or use --certificates-only)"
        ))),
    }
}

/// The service credentials from the options and environment (exit 3 when incomplete).
fn credentials(args: &SyncArgs) -> Result<Credentials, Failure> {
    if let Some(kind) = &args.os_auth_type {
        if kind != "password" && kind != "v3password" {
            return Err(Failure::config(format!(
                "OS_AUTH_TYPE {kind:?} is not supported: sync authenticates with a password \
                 (password or v3password)"
            )));
        }
    }
    let user = named(
        &args.os_user_id,
        &args.os_username,
        &args.os_user_domain_id,
        &args.os_user_domain_name,
        "user",
    )?;
    let project = named(
        &args.os_project_id,
        &args.os_project_name,
        &args.os_project_domain_id,
        &args.os_project_domain_name,
        "project",
    )?;
    let password = match (&args.password_file, &args.os_password) {
        (Some(path), _) => {
            let bytes = read_credential(path, "password file")?;
            let text = String::from_utf8(bytes).map_err(|_| {
                Failure::config(format!("password file {} is not UTF-8", path.display()))
            })?;
            let line = text
                .strip_suffix('\n')
                .map(|t| t.strip_suffix('\r').unwrap_or(t))
                .unwrap_or(&text);
            line.to_owned()
        }
        (None, Some(password)) => password.clone(),
        (None, None) => {
            return Err(Failure::config(
                "the revocation list needs the service user's password: --password-file or \
                 OS_PASSWORD (or use --certificates-only)",
            ))
        }
    };
    if password.is_empty() {
        return Err(Failure::config("the service user's password is empty"));
    }
    Ok(Credentials {
        user,
        password,
        project,
    })
}

/// What a run did, one line per file.
struct Report {
    lines: Vec<String>,
}

impl Report {
    fn file(&mut self, dir: &SigningDir, name: &str, written: Written, detail: &str) {
        let what = match written {
            Written::Created => "written",
            Written::Replaced => "replaced",
            Written::Unchanged => "unchanged",
        };
        let sep = if detail.is_empty() { "" } else { ": " };
        self.lines
            .push(format!("{}: {what}{sep}{detail}", dir.file(name).display()));
    }
}

/// Runs `kstoken sync`.
pub fn run(args: &SyncArgs) -> Outcome {
    let auth_url = args.os_auth_url.as_deref().ok_or_else(|| {
        Failure::config("keystone's URL is missing: --os-auth-url or OS_AUTH_URL")
    })?;
    // The credentials are checked before anything else happens, so a cron job that lost them
    // fails at once with the option to set.
    let credentials = if args.certificates_only {
        None
    } else {
        Some(credentials(args)?)
    };
    let cacert = args
        .os_cacert
        .as_deref()
        .map(|p| read_credential(p, "--os-cacert bundle"))
        .transpose()?;
    let timeouts = Timeouts {
        connect: Duration::from_secs(args.connect_timeout),
        exchange: Duration::from_secs(args.timeout),
    };
    let keystone = Keystone::new(auth_url, cacert.as_deref(), timeouts)?;
    let mut warnings = Vec::new();
    let dir = SigningDir::open(&args.signing_dir, &mut warnings)?;
    for warning in &warnings {
        stdio::print_error(&format!("kstoken: warning: {warning}\n"));
    }
    let limits = Limits::default();
    let mut report = Report { lines: Vec::new() };

    // The certificates: the CA as trusted (or fetched once), the signing bundle checked against it.
    let trusted_ca = dir.read(CA_CERT, "CA certificate")?;
    let ca = match &trusted_ca {
        Some(ca) => ca.clone(),
        None => keystone.certificate("ca", limits.max(LimitKind::CredentialLength))?,
    };
    // A verifier that trusts the CA bundle (built with the CA as its placeholder signer, replaced
    // at once): an unusable CA is told apart from an unusable signing certificate.
    let trusting = Verifier::new_with_limits(&ca, &ca, limits).map_err(|e| {
        if trusted_ca.is_some() {
            Failure::config(format!(
                "{} cannot be used: {}; replace it with keystone's CA bundle",
                dir.file(CA_CERT).display(),
                e.detail()
            ))
        } else {
            Failure::refused(format!(
                "keystone's CA ({}) was refused: {}; nothing was written",
                keystone.url("OS-SIMPLE-CERT/ca"),
                e.detail()
            ))
        }
    })?;
    let signing = keystone.certificate("certificates", limits.max(LimitKind::CredentialLength))?;
    let verifier = trusting
        .rotate(&signing, unix_now())
        .map_err(|e| refused_certificates(&keystone, &dir, trusted_ca.as_deref(), &e))?;
    if trusted_ca.is_none() {
        let written = dir.write(CA_CERT, &ca)?;
        report.file(
            &dir,
            CA_CERT,
            written,
            "fetched from keystone (first use: trusted as served)",
        );
    }
    let written = dir.write(SIGNING_CERT, &signing)?;
    report.file(&dir, SIGNING_CERT, written, "");

    // The revocation list, verified with those certificates.
    if let Some(credentials) = &credentials {
        let token = keystone.authenticate(credentials)?;
        let body = keystone.revocation_list(&token, limits.max(LimitKind::RevocationListLength))?;
        let list = RevocationList::from_signed(&body, &verifier, unix_now()).map_err(|e| {
            let reason = match &e {
                // the core's Display says "malformed token": what is malformed is the list
                kstoken::Error::Malformed(detail) => format!("malformed: {detail}"),
                other => other.to_string(),
            };
            Failure::refused(format!(
                "the revocation list from {} was refused: {reason}; {} is kept",
                keystone.url("auth/tokens/OS-PKI/revoked"),
                dir.file(REVOCATION_LIST).display()
            ))
        })?;
        let written = dir.write(REVOCATION_LIST, &body)?;
        if written == Written::Unchanged {
            // Same list: its file's time says when it was last confirmed.
            dir.touch(REVOCATION_LIST)?;
        }
        report.file(
            &dir,
            REVOCATION_LIST,
            written,
            &format!("{} entries, verified", list.len()),
        );
    }
    if !args.quiet {
        for line in &report.lines {
            print_line(line)?;
        }
    }
    Ok(())
}

/// The failure for keystone's signing certificates not chaining to the CA (6): the core's reason,
/// and when keystone now serves another CA, that CA's fingerprint and how to take it on purpose.
fn refused_certificates(
    keystone: &Keystone,
    dir: &SigningDir,
    trusted_ca: Option<&[u8]>,
    err: &kstoken::Error,
) -> Failure {
    let ca_path = dir.file(CA_CERT);
    let mut message = format!(
        "keystone's signing certificate ({}) was refused: {}; nothing was written",
        keystone.url("OS-SIMPLE-CERT/certificates"),
        err.detail()
    );
    if let Some(trusted) = trusted_ca {
        let ca_url = keystone.url("OS-SIMPLE-CERT/ca");
        let limit = Limits::default().max(LimitKind::CredentialLength);
        if let Ok(served) = keystone.certificate("ca", limit) {
            if served != trusted {
                let fingerprint = x509_fingerprint(&served)
                    .map(|f| format!(" (SHA-256 {f})"))
                    .unwrap_or_default();
                message.push_str(&format!(
                    ". Keystone now serves a CA{fingerprint} at {ca_url} other than the one in {path}: if \
                     keystone's PKI was rebuilt on purpose, check that CA out of band and install \
                     it as {path} (or remove {path}: the next sync trusts keystone's CA as served)",
                    path = ca_path.display(),
                ));
            }
        }
    }
    Failure::refused(message)
}
