//! The command-line entry: `inspect` shows what the core reads in an email, without any state;
//! `process` runs emails through the whole pipeline on the embedded backend; with the `aws`
//! feature, `reprocess` and `dlq` act on a deployed stack.
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
    /// Run one email stored in S3 through the real pipeline again (the deployed ledger, topics
    /// and replies), reading the Lambda's variables from the environment. Prints the same line
    /// as `process`.
    #[cfg(feature = "aws")]
    Reprocess {
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        key: String,
    },
    /// Look at a dead-letter queue, or move its messages back.
    #[cfg(feature = "aws")]
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
}

#[cfg(feature = "aws")]
#[derive(Subcommand)]
enum DlqAction {
    /// One JSON line per message: message id, S3 keys, sent and first-received times, receives.
    List {
        /// The dead-letter queue (default: $DEAD_LETTER_QUEUE_URL).
        #[arg(long)]
        queue_url: Option<String>,
    },
    /// Move messages back to the queue they failed from.
    Redrive {
        /// Only this message.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        message_id: Option<String>,
        /// Every message.
        #[arg(long)]
        all: bool,
        /// The dead-letter queue (default: $DEAD_LETTER_QUEUE_URL).
        #[arg(long)]
        queue_url: Option<String>,
        /// Where to move them: one of the queues whose redrive policy names the DLQ (default: its
        /// only such queue; anything else is refused and nothing moves).
        #[arg(long)]
        to_queue_url: Option<String>,
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
        #[cfg(feature = "aws")]
        Command::Reprocess { bucket, key } => invite_router::operator_cli::reprocess(&bucket, &key),
        #[cfg(feature = "aws")]
        Command::Dlq { action } => match action {
            DlqAction::List { queue_url } => {
                invite_router::operator_cli::list(queue_url.as_deref())
            }
            DlqAction::Redrive {
                message_id,
                all: _,
                queue_url,
                to_queue_url,
            } => invite_router::operator_cli::redrive(
                queue_url.as_deref(),
                to_queue_url.as_deref(),
                match message_id {
                    Some(id) => invite_router::aws::operator::Redrive::MessageId(id),
                    None => invite_router::aws::operator::Redrive::All,
                },
            ),
        },
    }
}
