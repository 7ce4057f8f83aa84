//! What the `invite-router` binary does for each subcommand, kept out of `main` so it can be tested.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use crate::config::{CoreSettings, DEFAULT_LOCAL_REPLY_FROM};
use crate::core::itip::answer::NoReply;
use crate::core::model::{Reason, Route};
use crate::core::{self, report};
use crate::local::{
    AnsweringPublisher, FileMailer, JsonlPublisher, LocalMailStore, SqliteLedger, SqliteReplyLog,
    StateLock, read_bounded,
};
use crate::notifier::Notifier;
use crate::ports::MailSource;
use crate::service::{Outcome, Service, ServiceError};

/// `invite-router inspect FILE`: exit 0 with the JSON report (valid or not), 1 if unreadable.
pub fn inspect(file: &Path, pretty: bool) -> ExitCode {
    let Some(settings) = settings_from_env() else {
        return ExitCode::from(2);
    };
    // A 200 MB file is too_large after MAX_EMAIL_BYTES + 1 bytes: no need to read the rest.
    let raw = match read_bounded(file, Some(settings.limits.max_email_bytes)) {
        Ok(raw) => raw,
        Err(error) => {
            eprintln!("invite-router: cannot read {}: {error}", file.display());
            return ExitCode::from(1);
        }
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
            let mut output = Output::default();
            output.line(&text);
            output.report();
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
/// `--help`'s account of the settings read from the environment, with the values in force now.
pub fn settings_help() -> String {
    use crate::config::{
        DELEGATES, DELEGATION, DROPBOX_ADDRESSES, MAX_ATTENDEES, MAX_CALENDAR_BYTES,
        MAX_COMPONENTS, MAX_EMAIL_BYTES, NOTIFY_ON_SUCCESS, REPLY_FROM, REPLY_RATE_LIMIT,
        REQUIRE_AUTHENTICATION,
    };
    let mut help = String::from(
        "Settings, read from the environment like the Lambda's (docs/PIPELINE.md); in force now:\n",
    );
    match CoreSettings::from_env(&|name| std::env::var(name).ok()) {
        Ok(settings) => {
            let limits = &settings.limits;
            let policy = &settings.policy;
            let delegation = match &policy.delegation {
                crate::core::policy::Delegation::SameDomain => "same-domain".to_owned(),
                crate::core::policy::Delegation::Off => "off".to_owned(),
                crate::core::policy::Delegation::Listed(pairs) => {
                    format!("listed ({} pair(s) in {DELEGATES})", pairs.len())
                }
            };
            let rows = [
                (MAX_EMAIL_BYTES, limits.max_email_bytes.to_string()),
                (MAX_CALENDAR_BYTES, limits.max_calendar_bytes.to_string()),
                (MAX_COMPONENTS, limits.max_components.to_string()),
                (MAX_ATTENDEES, limits.max_attendees.to_string()),
                (
                    REQUIRE_AUTHENTICATION,
                    policy.require_authentication.to_string(),
                ),
                (DELEGATION, delegation),
                (
                    DROPBOX_ADDRESSES,
                    policy
                        .own_addresses
                        .iter()
                        .filter(|own| Some(*own) != settings.reply_from.as_ref())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                (
                    REPLY_FROM,
                    settings
                        .reply_from
                        .clone()
                        .unwrap_or_else(|| format!("{DEFAULT_LOCAL_REPLY_FROM} (default)")),
                ),
                (REPLY_RATE_LIMIT, settings.reply_rate_limit.to_string()),
                (NOTIFY_ON_SUCCESS, settings.notify_on_success.to_string()),
            ];
            for (name, value) in rows {
                help.push_str(&format!("  {name:<24} {value}\n"));
            }
        }
        Err(error) => help.push_str(&format!("  {error}\n")),
    }
    help
}

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
    let _held = match StateLock::acquire(state, || {
        eprintln!(
            "invite-router: {} is in use by another process run; waiting for it to finish",
            state.display()
        );
    }) {
        Ok(lock) => lock,
        Err(error) => {
            eprintln!("invite-router: cannot lock {}: {error}", state.display());
            return ExitCode::from(1);
        }
    };
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
    let publisher = match JsonlPublisher::open(topics, &state.join(LEDGER_FILE)) {
        Ok(publisher) => publisher,
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
        AnsweringPublisher::new(publisher, notifier),
        settings.limits,
        policy,
    )
    .with_confirmations(settings.notify_on_success);
    let mut all_handled = true;
    let mut output = Output::default();
    for file in files {
        let source = MailSource {
            bucket: None,
            key: crate::local::key_of(file),
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
        output.line(&line);
    }
    output.report();
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

/// One output line of `process`: the keys docs/DESIGN.md "The command line's JSON" fixes, in
/// its order; `error` only when the
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
    /// Dedupe ids of outbox entries the publisher refused for good, set aside in the ledger.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub set_aside: Vec<String>,
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
            notify_sender: outcome.notify_sender(),
            no_reply_because: outcome.no_reply_because(),
            set_aside: outcome.set_aside.clone(),
            error: None,
        }
    }
}

impl ProcessLine {
    pub fn failed(source: &MailSource, error: &ServiceError) -> ProcessLine {
        ProcessLine {
            source: source.key.clone(),
            route: None,
            reason: None,
            uid: None,
            recurrence_id: None,
            sequence: None,
            notify_sender: false,
            set_aside: Vec::new(),
            no_reply_because: None,
            error: Some(error.to_string()),
        }
    }
}

/// Standard output that a closed pipe cannot stop: `process a b c | head -1` must still process
/// every input (the ledger and topics are the point; the lines are a report). The first failed
/// write is kept and reported once, on standard error, at the end.
#[derive(Default)]
struct Output {
    unwritten: usize,
    error: Option<std::io::Error>,
}

impl Output {
    fn line(&mut self, text: &str) {
        if self.error.is_none() {
            let mut stdout = std::io::stdout().lock();
            match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
                Ok(()) => return,
                Err(error) => self.error = Some(error),
            }
        }
        self.unwritten += 1;
    }

    fn report(&self) {
        if let Some(error) = &self.error {
            eprintln!(
                "invite-router: standard output failed ({error}); {} line(s) not printed, every input was still processed",
                self.unwritten
            );
        }
    }
}
