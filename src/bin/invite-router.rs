//! The command-line entry: `inspect` shows what the core reads in an email, without any state;
//! `process` runs emails through the whole pipeline on the embedded backend.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "invite-router",
    version,
    about = "Calendar-invite emails in, ordered event messages out"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print what invite-router reads in one email, as one JSON object (no state is touched).
    #[command(after_help = invite_router::cli::settings_help())]
    Inspect {
        file: PathBuf,
        /// Indent the JSON for reading.
        #[arg(long)]
        pretty: bool,
    },
    /// Run emails through the whole pipeline on the embedded backend: the ledger lives in the
    /// state directory, published messages are appended to STATE/topics/<topic>.jsonl.
    /// Prints one JSON line per input, in order.
    #[command(after_help = invite_router::cli::settings_help())]
    Process {
        /// Directory holding the ledger and the topic files (created if missing).
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// The emails (.eml), processed in the order given.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(usage) => {
            let _ = usage.print();
            return if usage.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Inspect { file, pretty } => invite_router::cli::inspect(&file, pretty),
        Command::Process { state, files } => invite_router::cli::process(&state, &files),
    }
}
