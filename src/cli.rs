//! What the `invite-router` binary does for each subcommand, kept out of `main` so it can be tested.

use std::path::Path;
use std::process::ExitCode;

use crate::core::{self, Limits, SenderPolicy, report};

/// `invite-router inspect FILE`: exit 0 with the JSON report (valid or not), 1 if unreadable.
pub fn inspect(file: &Path, pretty: bool) -> ExitCode {
    let raw = match std::fs::read(file) {
        Ok(raw) => raw,
        Err(error) => {
            eprintln!("invite-router: cannot read {}: {error}", file.display());
            return ExitCode::from(1);
        }
    };
    let analysis = core::analyze(&raw, &Limits::default(), &SenderPolicy::default());
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
