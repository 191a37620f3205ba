//! `kstoken generate-docs DIR` (hidden; `make man`): the man pages (clap_mangen) and the shell
//! completions (clap_complete) from the same clap definition as `--help`, so they cannot drift.

use std::path::{Path, PathBuf};

use clap::{Args, Command};
use clap_complete::Shell;

use crate::exit::{Failure, Outcome};

/// Arguments of `kstoken generate-docs`.
#[derive(Debug, Args)]
pub struct GenerateDocsArgs {
    /// Directory to write `man/kstoken.1`, `man/kstoken-SUBCOMMAND.1` and
    /// `completions/{kstoken.bash,_kstoken,kstoken.fish}` into (created if missing).
    #[arg(value_name = "DIR")]
    pub out: PathBuf,
}

/// Writes the man pages and completions of `command` under `args.out`.
pub fn run(args: &GenerateDocsArgs, mut command: Command) -> Outcome {
    let io = |what: &str, path: &Path, e: std::io::Error| {
        Failure::io(format!("cannot write {what} to {}: {e}", path.display()))
    };
    let man = args.out.join("man");
    let completions = args.out.join("completions");
    for dir in [&man, &completions] {
        std::fs::create_dir_all(dir).map_err(|e| io("a directory", dir, e))?;
    }
    // No pages for clap's `help` subcommands: `kstoken help X` is `kstoken X --help`.
    let pages = without_help_subcommands(command.clone());
    clap_mangen::generate_to(pages, &man).map_err(|e| io("the man pages", &man, e))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut command, "kstoken", &completions)
            .map_err(|e| io("the completions", &completions, e))?;
    }
    Ok(())
}

/// `command` and its subcommands without clap's generated `help` subcommand.
fn without_help_subcommands(command: Command) -> Command {
    command
        .disable_help_subcommand(true)
        .mut_subcommands(without_help_subcommands)
}
