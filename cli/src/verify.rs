//! `kstoken verify`: verifies tokens (one, or a batch) and prints the signed body.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kstoken::bind::{AuthContext, BindMode};
use kstoken::pipeline::{self, Policy, ValidateError};
use kstoken::{form, unix_now, HashAlgorithms, RevocationList, Verifier};

use crate::exit::{Failure, Outcome, INVALID};
use crate::input::{
    merge_algorithms, parse_algorithms, parse_time, pretty_json, print_content, print_error,
    print_line, read_config, read_input, token_text, write_stdout,
};

/// Arguments of `kstoken verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Signing certificate bundle, PEM (keystone's `[signing] certfile`; `openssl cms -certfile`).
    #[arg(long, value_name = "FILE")]
    pub signing_cert: PathBuf,
    /// CA bundle, PEM (keystone's `[signing] ca_certs`; `openssl cms -CAfile`).
    #[arg(long, value_name = "FILE")]
    pub ca: PathBuf,
    /// Verify as of TIME (Unix seconds or RFC 3339) instead of now, like `openssl cms -attime`.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<i64>,
    /// Print the verified body as indented JSON.
    #[arg(long)]
    pub pretty: bool,
    /// Verify every token of FILE (one per line; blank lines skipped) and print a summary.
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    pub batch: Option<PathBuf>,
    /// The token (PKI, PKIZ or CMS PEM text); read from standard input when absent or `-`.
    pub token: Option<String>,
    /// Run keystonemiddleware's whole validation (revocation, signature, body, expiry, bind) even
    /// without any of the options below, which imply it.
    #[arg(long, help_heading = "Validation pipeline")]
    pub pipeline: bool,
    /// enforce_token_bind: disabled, permissive (default), strict, required, or a bind type name.
    #[arg(long, value_name = "MODE", help_heading = "Validation pipeline")]
    pub bind_mode: Option<String>,
    /// REMOTE_USER the web server authenticated (checked against a kerberos bind).
    #[arg(long, value_name = "USER", help_heading = "Validation pipeline")]
    pub remote_user: Option<String>,
    /// AUTH_TYPE of the request, e.g. Negotiate (a kerberos bind needs negotiate).
    #[arg(long, value_name = "TYPE", help_heading = "Validation pipeline")]
    pub auth_type: Option<String>,
    /// TLS client certificate, PEM or DER (checked against an x509 bind).
    #[arg(long, value_name = "FILE", help_heading = "Validation pipeline")]
    pub client_cert: Option<PathBuf>,
    /// Signed revocation list: keystone's `{"signed": ...}` response or its CMS PEM, verified
    /// with the same certificates.
    #[arg(long, value_name = "FILE", help_heading = "Validation pipeline")]
    pub revocation_list: Option<PathBuf>,
    /// hash_algorithms: token hashes checked against the revocation list (default md5).
    #[arg(
        long,
        value_name = "ALG[,ALG...]",
        value_parser = parse_algorithms,
        help_heading = "Validation pipeline"
    )]
    pub hash_algorithms: Vec<HashAlgorithms>,
}

impl VerifyArgs {
    fn wants_pipeline(&self) -> bool {
        self.pipeline
            || self.bind_mode.is_some()
            || self.remote_user.is_some()
            || self.auth_type.is_some()
            || self.client_cert.is_some()
            || self.revocation_list.is_some()
            || !self.hash_algorithms.is_empty()
    }
}

/// The validation pipeline's configuration.
struct PipelineConfig {
    policy: Policy,
    revocations: Option<RevocationList>,
    remote_user: Option<String>,
    auth_type: Option<String>,
    client_cert: Option<Vec<u8>>,
}

/// What to check a token with.
struct Checker {
    verifier: Verifier,
    at: Option<i64>,
    pipeline: Option<PipelineConfig>,
}

impl Checker {
    /// The verified content, or why the token is invalid, with the exit code to use.
    fn check(&self, token: &str) -> Result<Vec<u8>, Failure> {
        let at = self.at.unwrap_or_else(unix_now);
        let Some(config) = &self.pipeline else {
            return self
                .verifier
                .verify_at(token.as_bytes(), at)
                .map_err(|e| Failure::from_token_error(&e));
        };
        // The pipeline works on the token text as sent; CMS PEM is turned into its PKI token.
        let token = form::wire_token(token);
        let auth = AuthContext {
            auth_type: config.auth_type.as_deref(),
            remote_user: config.remote_user.as_deref(),
            client_cert: config.client_cert.as_deref(),
        };
        pipeline::validate(
            token.as_bytes(),
            &self.verifier,
            config.revocations.as_ref(),
            &config.policy,
            &auth,
            at,
        )
        .map(|validated| validated.content)
        .map_err(|e| match e {
            ValidateError::Rejected(rejection) => {
                let step = rejection.step();
                Failure::invalid(format!(
                    "rejected at step {} [{step}]: {rejection}",
                    step.description()
                ))
            }
            ValidateError::InvalidArgument(e) => Failure::from_token_error(&e),
        })
    }
}

/// Loads what the pipeline options name.
fn pipeline_config(
    args: &VerifyArgs,
    verifier: &Verifier,
) -> Result<Option<PipelineConfig>, Failure> {
    if !args.wants_pipeline() {
        return Ok(None);
    }
    let mut policy = Policy::default();
    if let Some(mode) = &args.bind_mode {
        policy.bind_mode = BindMode::parse(mode);
    }
    if !args.hash_algorithms.is_empty() {
        policy.hash_algorithms = merge_algorithms(&args.hash_algorithms)?;
    }
    let revocations = match &args.revocation_list {
        Some(path) => {
            let signed = read_config(path, "revocation list")?;
            let at = args.at.unwrap_or_else(unix_now);
            let list = RevocationList::from_signed(&signed, verifier, at).map_err(|e| {
                Failure::config(format!(
                    "cannot use the revocation list {}: {e}",
                    path.display()
                ))
            })?;
            Some(list)
        }
        None => None,
    };
    let client_cert = match &args.client_cert {
        Some(path) => Some(read_config(path, "client certificate")?),
        None => None,
    };
    Ok(Some(PipelineConfig {
        policy,
        revocations,
        remote_user: args.remote_user.clone(),
        auth_type: args.auth_type.clone(),
        client_cert,
    }))
}

/// Runs `kstoken verify`.
pub fn run(args: &VerifyArgs) -> Outcome {
    let signing_cert = read_config(&args.signing_cert, "signing certificate")?;
    let ca = read_config(&args.ca, "CA certificate")?;
    let verifier = Verifier::new(&signing_cert, &ca)
        .map_err(|e| Failure::from_config_error("cannot load the certificates", &e))?;
    let pipeline = pipeline_config(args, &verifier)?;
    let checker = Checker {
        verifier,
        at: args.at,
        pipeline,
    };
    match &args.batch {
        Some(path) => run_batch(&checker, &read_input(path, "batch file")?),
        None => {
            let token = token_text(args.token.as_deref())?;
            let content = checker.check(&token)?;
            if args.pretty {
                if let Some(json) = pretty_json(&content) {
                    return print_line(&json);
                }
            }
            print_content(&content)
        }
    }
}

/// Verifies one token per line, in parallel, with a progress bar on a terminal.
fn run_batch(checker: &Checker, file: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(file);
    let tokens: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, form::trim_token_str(line)))
        .filter(|(_, line)| !line.is_empty())
        .collect();
    let bar = progress_bar(tokens.len());
    let workers = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, 16);
    let chunk = tokens.len().div_ceil(workers).max(1);
    let verdicts: Vec<(usize, Option<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = tokens
            .chunks(chunk)
            .map(|part| {
                let bar = &bar;
                scope.spawn(move || {
                    part.iter()
                        .map(|(line, token)| {
                            let verdict = checker.check(token).err().map(|f| f.to_string());
                            bar.inc(1);
                            (*line, verdict)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![(0, Some("internal error".to_owned()))])
            })
            .collect()
    });
    bar.finish_and_clear();
    let mut invalid = 0usize;
    let mut report = String::new();
    for (line, verdict) in &verdicts {
        if let Some(reason) = verdict {
            invalid += 1;
            report.push_str(&format!("line {line}: {reason}\n"));
        }
    }
    print_error(&report);
    let valid = verdicts.len() - invalid;
    write_stdout(format!("{valid} valid, {invalid} invalid\n").as_bytes())?;
    if invalid > 0 {
        Err(Failure::silent(INVALID))
    } else {
        Ok(())
    }
}

fn progress_bar(len: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(
        Some(u64::try_from(len).unwrap_or(u64::MAX)),
        ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} tokens  {per_sec}  eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}
