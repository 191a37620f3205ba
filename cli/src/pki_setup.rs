//! `kstoken pki-setup DIR`: keystone-manage pki_setup's CA and signing certificate, on any OpenSSL.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use kstoken::pki_setup::{self, PkiOptions};

use crate::exit::{Failure, Outcome};
use crate::output::print_line;

/// Arguments of `kstoken pki-setup`.
#[derive(Debug, Args)]
pub struct PkiSetupArgs {
    /// Directory to populate: DIR/certs/{signing_cert,ca}.pem and DIR/private/{signing_key,cakey}.pem.
    pub dir: PathBuf,
    /// RSA key size in bits of both keys (keystone's `[signing] key_size`; 1024 to 8192).
    #[arg(long, value_name = "BITS", default_value_t = pki_setup::DEFAULT_KEY_BITS)]
    pub key_size: u32,
    /// Validity of both certificates in days (keystone's `[signing] valid_days`; at least 1, and
    /// ending by 9999-12-31).
    #[arg(long, value_name = "DAYS", default_value_t = pki_setup::DEFAULT_VALID_DAYS)]
    pub valid_days: u32,
    /// Subject of both certificates, in `openssl -subj` form (keystone's `[signing] cert_subject`).
    #[arg(long, value_name = "SUBJECT", default_value = pki_setup::DEFAULT_SUBJECT)]
    pub subject: String,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// The four files, as (path relative to DIR, is a private key).
const LAYOUT: [(&str, bool); 4] = [
    ("certs/signing_cert.pem", false),
    ("certs/ca.pem", false),
    ("private/signing_key.pem", true),
    ("private/cakey.pem", true),
];

/// Runs `kstoken pki-setup`.
///
/// Option values that cannot make a working PKI are refused by the core's rules before anything
/// else ([`PkiOptions::validate`]), as configuration errors (3) like every refused option value.
pub fn run(args: &PkiSetupArgs) -> Outcome {
    let options = PkiOptions {
        key_bits: args.key_size,
        valid_days: args.valid_days,
        subject: args.subject.clone(),
    };
    // generate fails only with an invalid argument or an OpenSSL failure, both told by their detail.
    let refused =
        |e: kstoken::Error| Failure::config(format!("cannot generate the PKI: {}", e.detail()));
    options.validate().map_err(refused)?;
    check_overwrite(args)?;
    let pki = pki_setup::generate(&options).map_err(refused)?;
    // Generation takes a while: someone may have created the files meanwhile.
    check_overwrite(args)?;

    let certs = args.dir.join("certs");
    let private = args.dir.join("private");
    create_dir(&certs, 0o755, false)?;
    create_dir(&private, 0o700, true)?;
    let contents: [&[u8]; 4] = [
        &pki.signing_cert_pem,
        &pki.ca_cert_pem,
        &pki.signing_key_pem,
        &pki.ca_key_pem,
    ];
    for ((relative, secret), bytes) in LAYOUT.iter().zip(contents) {
        let path = args.dir.join(relative);
        write_file(&path, bytes, if *secret { 0o600 } else { 0o644 })?;
        print_line(&format!("wrote {}", path.display()))?;
    }
    Ok(())
}

fn check_overwrite(args: &PkiSetupArgs) -> Outcome {
    if args.force {
        return Ok(());
    }
    let existing: Vec<String> = LAYOUT
        .iter()
        .map(|(relative, _)| args.dir.join(relative))
        .filter(|p| p.symlink_metadata().is_ok())
        .map(|p| p.display().to_string())
        .collect();
    if existing.is_empty() {
        Ok(())
    } else {
        Err(Failure::config(format!(
            "refusing to overwrite {} (use --force)",
            existing.join(", ")
        )))
    }
}

/// Creates `path` (and its parents) with `mode`; with `enforce`, an existing directory gets `mode` too.
fn create_dir(path: &Path, mode: u32, enforce: bool) -> Outcome {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(mode);
    }
    builder
        .create(path)
        .map_err(|e| Failure::io(format!("cannot create {}: {e}", path.display())))?;
    if enforce {
        set_mode(path, mode)?;
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Outcome {
    let io_err = |e: std::io::Error| Failure::io(format!("cannot write {}: {e}", path.display()));
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    // An existing file keeps its mode on open: tighten it before writing a key into it.
    if path.symlink_metadata().is_ok() {
        set_mode(path, mode)?;
    }
    let mut file = options.open(path).map_err(io_err)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_err)?;
    set_mode(path, mode)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Outcome {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| Failure::io(format!("cannot set the mode of {}: {e}", path.display())))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Outcome {
    Ok(())
}
