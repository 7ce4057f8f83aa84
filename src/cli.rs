//! What the `invite-router` binary does for each subcommand, kept out of `main` so it can be tested.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use crate::config::{CoreSettings, DEFAULT_LOCAL_REPLY_FROM};
use crate::core::itip::answer::NoReply;
use crate::core::model::{Reason, Route};
use crate::core::{self, report};
use crate::local::{
    AnsweringPublisher, FileMailer, JsonlPublisher, LocalMailStore, SqliteLedger, SqliteReplyLog,
};
use crate::notifier::Notifier;
use crate::ports::MailSource;
use crate::service::{Outcome, Service, ServiceError};

/// `invite-router inspect FILE`: exit 0 with the JSON report (valid or not), 1 if unreadable.
pub fn inspect(file: &Path, pretty: bool) -> ExitCode {
    let raw = match std::fs::read(file) {
        Ok(raw) => raw,
        Err(error) => {
            eprintln!("invite-router: cannot read {}: {error}", file.display());
            return ExitCode::from(1);
        }
    };
    let Some(settings) = settings_from_env() else {
        return ExitCode::from(2);
    };
    let analysis = core::analyze(&raw, &settings.limits, &settings.policy);
    let report = report::inspect_report(&analysis);
    let text = if pretty {
        serde_json::to_string_pretty(&report)
    } else {
        serde_json::to_string(&report)
    };
    match text {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("invite-router: cannot encode the report: {error}");
            ExitCode::from(1)
        }
    }
}

/// `invite-router process --state DIR FILE...`: the whole pipeline on the embedded backend, one
/// JSON line per input in order. Exit 0 when every input was handled (refusals included), 1 when
/// an input could not be read or a backend failed.
/// The limits and sender policy from the same environment variables the Lambda reads, so a local
/// run reproduces a production refusal; a malformed one is a usage error.
fn settings_from_env() -> Option<CoreSettings> {
    match CoreSettings::from_env(&|name| std::env::var(name).ok()) {
        Ok(settings) => Some(settings),
        Err(error) => {
            eprintln!("invite-router: {error}");
            None
        }
    }
}

pub fn process(state: &Path, files: &[PathBuf]) -> ExitCode {
    let Some(settings) = settings_from_env() else {
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("invite-router: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(process_files(state, files, settings))
}

async fn process_files(state: &Path, files: &[PathBuf], settings: CoreSettings) -> ExitCode {
    let topics = state.join("topics");
    if let Err(error) = std::fs::create_dir_all(&topics) {
        eprintln!("invite-router: cannot create {}: {error}", topics.display());
        return ExitCode::from(1);
    }
    let ledger = match SqliteLedger::open(&state.join(LEDGER_FILE)) {
        Ok(ledger) => ledger,
        Err(error) => {
            eprintln!("invite-router: {error}");
            return ExitCode::from(1);
        }
    };
    let reply_log = match SqliteReplyLog::open(&state.join(LEDGER_FILE)) {
        Ok(log) => log,
        Err(error) => {
            eprintln!("invite-router: {error}");
            return ExitCode::from(1);
        }
    };
    // Replies are written where SES would send them from; that address is ours, never answered.
    let reply_from = settings
        .reply_from
        .clone()
        .unwrap_or_else(|| DEFAULT_LOCAL_REPLY_FROM.to_owned());
    let mut policy = settings.policy;
    if !policy.own_addresses.contains(&reply_from) {
        policy.own_addresses.push(reply_from.clone());
    }
    let notifier = Notifier::new(
        FileMailer::new(state.join(REPLIES_DIR)),
        reply_log,
        reply_from,
        settings.reply_rate_limit,
    );
    let service = Service::new(
        LocalMailStore::new(Some(settings.limits.max_email_bytes)),
        ledger,
        AnsweringPublisher::new(JsonlPublisher::new(topics), notifier),
        settings.limits,
        policy,
    )
    .with_confirmations(settings.notify_on_success);
    let mut all_handled = true;
    for file in files {
        let source = MailSource {
            bucket: None,
            key: file.display().to_string(),
        };
        let line = match service.process_source(&source).await {
            Ok(outcome) => ProcessLine::from(&outcome),
            Err(error) => {
                all_handled = false;
                eprintln!("invite-router: {}: {error}", source.key);
                ProcessLine::failed(&source, &error)
            }
        };
        let line = serde_json::to_string(&line)
            .unwrap_or_else(|error| format!("{{\"source\":null,\"error\":\"{error}\"}}"));
        println!("{line}");
    }
    if all_handled {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The ledger's file name inside the `--state` directory (the reply log shares it).
pub const LEDGER_FILE: &str = "ledger.sqlite3";

/// Where replies are written inside the `--state` directory, one `<dedupe_id>.eml` each.
pub const REPLIES_DIR: &str = "replies";

/// One output line of `process`: the keys DESIGN.md fixes, in its order; `error` only when the
/// input was not handled.
#[derive(Debug, Serialize)]
pub struct ProcessLine {
    pub source: String,
    pub route: Option<Route>,
    pub reason: Option<Reason>,
    pub uid: Option<String>,
    pub recurrence_id: Option<String>,
    pub sequence: Option<u32>,
    pub notify_sender: bool,
    /// Why a refused email's sender is not answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_reply_because: Option<NoReply>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<&Outcome> for ProcessLine {
    fn from(outcome: &Outcome) -> ProcessLine {
        ProcessLine {
            source: outcome.source.key.clone(),
            route: Some(outcome.route),
            reason: outcome.reason,
            uid: outcome.uid.clone(),
            recurrence_id: outcome.recurrence_id.clone(),
            sequence: outcome.sequence,
            notify_sender: outcome.notify_sender,
            no_reply_because: outcome.no_reply_because,
            error: None,
        }
    }
}

impl ProcessLine {
    fn failed(source: &MailSource, error: &ServiceError) -> ProcessLine {
        ProcessLine {
            source: source.key.clone(),
            route: None,
            reason: None,
            uid: None,
            recurrence_id: None,
            sequence: None,
            notify_sender: false,
            no_reply_because: None,
            error: Some(error.to_string()),
        }
    }
}
