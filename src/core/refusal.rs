//! A message refused before the ledger is consulted: the reason, and whatever could still be read
//! of it for reports. Built by the steps of `core::analyze`; depends only on the model and on the
//! message the copies make.

use super::itip::copies::ItipMessage;
use super::model::{EventComponent, Method, Reason};

/// A message refused before the ledger is consulted, and what was read of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub reason: Reason,
    pub method: Option<Method>,
    pub events: Vec<EventComponent>,
    /// What exactly was wrong, for people (`inspect`): which property the calendar copies
    /// disagree on, which time zone could not be evaluated.
    pub detail: Option<String>,
}

impl Refused {
    /// A refusal with nothing read to report.
    pub fn bare(reason: Reason) -> Refused {
        Refused {
            reason,
            method: None,
            events: Vec::new(),
            detail: None,
        }
    }

    /// The same refusal, saying what exactly was wrong.
    pub fn because(self, detail: String) -> Refused {
        Refused {
            detail: Some(detail),
            ..self
        }
    }

    /// A refusal that reports what was read.
    pub fn keeping(reason: Reason, message: ItipMessage) -> Refused {
        Refused {
            reason,
            method: message.method,
            events: message.events,
            detail: None,
        }
    }
}
