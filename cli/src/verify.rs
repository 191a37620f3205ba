//! `kstoken verify`: verifies tokens (one, or a batch) and prints the signed body.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kstoken::body::bind::{AuthContext, BindMode};
use kstoken::pipeline::{self, Expiry, Policy, Rejection, ValidateError};
use kstoken::{token_text, unix_now, HashAlgorithms, RevocationList, Verifier};

use crate::exit::{Failure, Outcome, INVALID};
use crate::input::{
    self, line_too_long, read_credential, token_str, token_text, Kind, Line, Lines, Source,
};
use crate::options::{merge_algorithms, parse_algorithms, parse_time};
use crate::output::{pretty_json, print_content, print_line, write_stdout};
use crate::stdio::print_error;

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
    /// Accept a token whose body says it has expired (at TIME with --at, else now): only the
    /// signature and the certificate chain are checked, e.g. to look into an old token. Without
    /// it an expired token is refused (exit 1), as a service would refuse it.
    #[arg(long, conflicts_with_all = ["pipeline", "bind_mode", "remote_user", "auth_type", "client_cert", "revocation_list", "hash_algorithms"])]
    pub allow_expired: bool,
    /// Print the verified body as indented JSON.
    #[arg(long)]
    pub pretty: bool,
    /// Verify every token of FILE (`-`: standard input), one per line, blank lines skipped: each
    /// invalid line is reported on standard error as it is found, then a summary. Read as a stream,
    /// so FILE may be of any size; a line longer than the token limit is an invalid token.
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    pub batch: Option<PathBuf>,
    /// The token (PKI, PKIZ or CMS PEM text); read from standard input (or --in) when absent or `-`.
    pub token: Option<String>,
    /// Read the token from FILE instead of standard input.
    #[arg(long = "in", value_name = "FILE", conflicts_with_all = ["token", "batch"])]
    pub input: Option<PathBuf>,
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
    expiry: Expiry,
    pipeline: Option<PipelineConfig>,
}

impl Checker {
    /// The verified content, or why the token is invalid, with the exit code to use. Both modes
    /// word a refusal alike: the core's rejection and the step that made it.
    fn check(&self, token: &str) -> Result<Vec<u8>, Failure> {
        let at = self.at.unwrap_or_else(unix_now);
        let Some(config) = &self.pipeline else {
            return pipeline::verify_token(token.as_bytes(), &self.verifier, at, self.expiry)
                .map_err(|e| refusal(&e));
        };
        // The pipeline works on the token text as sent; CMS PEM is turned into its PKI token.
        let token = token_text::wire_token(token);
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
        .map_err(|e| refusal(&e))
    }
}

/// The failure for a refused token, the same words with and without the pipeline: `rejected at
/// step DESCRIPTION: REASON`, with ` [NAME]` after a description that does not start with the name. A
/// configuration-type error behind a signature rejection keeps its exit code (3).
fn refusal(error: &ValidateError) -> Failure {
    let rejection = match error {
        ValidateError::Rejected(rejection) => rejection,
        ValidateError::InvalidArgument(e) => return Failure::from_token_error(e),
    };
    let step = rejection.step();
    // The stable name in brackets only where the description does not start with it.
    let named = if step.description().starts_with(step.as_str()) {
        step.description().to_owned()
    } else {
        format!("{} [{step}]", step.description())
    };
    let reason = match rejection {
        Rejection::NotPki => token_text::NOT_A_PKI_TOKEN.to_owned(),
        other => other.to_string(),
    };
    let message = format!("rejected at step {named}: {reason}");
    match rejection {
        Rejection::Verification(e) if e.kind().is_configuration() => Failure::config(message),
        _ => Failure::invalid(message),
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
        policy.bind_mode = BindMode::parse_configured(mode)
            .map_err(|e| Failure::config(format!("--bind-mode: {}", e.detail())))?;
    }
    if !args.hash_algorithms.is_empty() {
        policy.hash_algorithms = merge_algorithms(&args.hash_algorithms)?;
    }
    let revocations = match &args.revocation_list {
        Some(path) => {
            let signed = input::read(Source::File(path), "revocation list", Kind::TrustedList)?;
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
        Some(path) => Some(read_credential(path, "client certificate")?),
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
    let signing_cert = read_credential(&args.signing_cert, "signing certificate")?;
    let ca = read_credential(&args.ca, "CA certificate")?;
    let verifier = Verifier::new(&signing_cert, &ca)
        .map_err(|e| Failure::from_config_error("cannot load the certificates", &e))?;
    // A --ca that is no CA of the signing certificate is a configuration mistake (3), said once,
    // not a verdict on each token.
    verifier
        .check_trust(args.at.unwrap_or_else(unix_now))
        .map_err(|e| {
            Failure::from_config_error(&format!("cannot use --ca {}", args.ca.display()), &e)
        })?;
    let pipeline = pipeline_config(args, &verifier)?;
    let checker = Checker {
        verifier,
        at: args.at,
        expiry: if args.allow_expired {
            Expiry::Ignore
        } else {
            Expiry::Check
        },
        pipeline,
    };
    match &args.batch {
        Some(path) => run_batch(&checker, Source::file_or_stdin(Some(path))),
        None => {
            let token = token_text(args.token.as_deref(), args.input.as_deref())?;
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

/// A batch line on its way to a verdict: its place in the batch, its line number, and the token,
/// or why it was refused while reading.
struct Job {
    seq: usize,
    line: usize,
    token: Result<Vec<u8>, String>,
}

/// A batch line's verdict: `None` for a valid token, else why it is not.
struct Verdict {
    seq: usize,
    line: usize,
    reason: Option<String>,
}

/// Verifies one token per line as a stream: a reader thread reads lines (each bounded by the token
/// limit), workers verify them in parallel, and this thread reports each invalid line on standard
/// error in line order as soon as its verdict and those before it are in, then the summary.
///
/// At most `window` tokens are between reading and reporting, so memory stays bounded whatever
/// the size of the input, and a slow producer (`tail -f tokens | kstoken verify --batch -`) sees
/// each verdict without waiting for more input.
fn run_batch(checker: &Checker, source: Source<'_>) -> Outcome {
    let lines = Lines::open(source)?;
    let bar = progress_bar(source);
    let workers = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, 16);
    let window = 2 * workers + 2;
    let consumed = AtomicU64::new(0);
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(window);
    let job_rx = Mutex::new(job_rx);
    let (verdict_tx, verdict_rx) = mpsc::channel::<Verdict>();
    // One ticket per token between reading and reporting: the reader takes one for each token,
    // the reporter gives it back once the token's verdict is printed.
    let (ticket_tx, ticket_rx) = mpsc::sync_channel::<()>(window);
    for _ in 0..window {
        let _ = ticket_tx.send(());
    }
    let (mut valid, mut invalid) = (0usize, 0usize);
    let read = std::thread::scope(|scope| {
        let consumed = &consumed;
        let reader = scope.spawn(move || read_jobs(lines, &job_tx, &ticket_rx, consumed));
        for _ in 0..workers {
            let verdict_tx = verdict_tx.clone();
            let job_rx = &job_rx;
            scope.spawn(move || check_jobs(checker, job_rx, &verdict_tx));
        }
        drop(verdict_tx);
        let mut waiting = BTreeMap::new();
        let mut next = 0usize;
        for verdict in verdict_rx {
            waiting.insert(verdict.seq, verdict);
            while let Some(verdict) = waiting.remove(&next) {
                match verdict.reason {
                    None => valid += 1,
                    Some(reason) => {
                        invalid += 1;
                        print_error(&format!("line {}: {reason}\n", verdict.line));
                    }
                }
                next += 1;
                let _ = ticket_tx.send(());
            }
            bar.set_position(consumed.load(Ordering::Relaxed));
            bar.set_message(format!("{next} tokens, {invalid} invalid"));
        }
        reader
            .join()
            .unwrap_or_else(|_| Err(Failure::io("internal error while reading the batch")))
    });
    bar.finish_and_clear();
    read?;
    write_stdout(format!("{valid} valid, {invalid} invalid\n").as_bytes())?;
    if invalid > 0 {
        Err(Failure::silent(INVALID))
    } else {
        Ok(())
    }
}

/// The reader thread: one job per line that holds a token, each after taking a ticket.
fn read_jobs(
    mut lines: Lines<'_>,
    jobs: &mpsc::SyncSender<Job>,
    tickets: &mpsc::Receiver<()>,
    consumed: &AtomicU64,
) -> Outcome {
    let mut seq = 0usize;
    while let Some((line, text)) = lines.next_line()? {
        consumed.store(lines.consumed(), Ordering::Relaxed);
        let token = match text {
            Line::TooLong => Err(line_too_long().to_string()),
            Line::Text(text) if token_text::trim_token(&text).is_empty() => continue,
            Line::Text(text) => Ok(text),
        };
        if tickets.recv().is_err() || jobs.send(Job { seq, line, token }).is_err() {
            break;
        }
        seq += 1;
    }
    Ok(())
}

/// A worker thread: verdicts for jobs until the reader is done. A panic while checking a token is
/// that token's verdict (invalid), so every job gets one and the batch fails closed.
fn check_jobs(
    checker: &Checker,
    jobs: &Mutex<mpsc::Receiver<Job>>,
    verdicts: &mpsc::Sender<Verdict>,
) {
    loop {
        let job = match jobs.lock() {
            Ok(jobs) => jobs.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else {
            return;
        };
        let reason = match &job.token {
            Err(reason) => Some(reason.clone()),
            Ok(bytes) => std::panic::catch_unwind(AssertUnwindSafe(|| {
                token_str(bytes)
                    .and_then(|token| checker.check(token))
                    .err()
                    .map(|f| f.to_string())
            }))
            .unwrap_or_else(|_| Some("internal error while checking this token".to_owned())),
        };
        let verdict = Verdict {
            seq: job.seq,
            line: job.line,
            reason,
        };
        if verdicts.send(verdict).is_err() {
            return;
        }
    }
}

/// A progress bar on a terminal: bytes of the batch file read, tokens checked.
fn progress_bar(source: Source<'_>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let total = match source {
        Source::File(path) => std::fs::metadata(path)
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len()),
        Source::Stdin => None,
    };
    let template = if total.is_some() {
        "{bar:40} {bytes}/{total_bytes}  {msg}  eta {eta}"
    } else {
        "{spinner} {bytes}  {msg}"
    };
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
