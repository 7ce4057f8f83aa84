//! What `core::analyze` returns for one email: its envelope, and either the checked iTIP message
//! or the refusal, with the facts that decide whether its sender may be answered.

use super::itip::answer::ReplyFacts;
use super::itip::check::CheckedMessage;
use super::model::{Envelope, EventComponent, Method, Organizer, Reason};
use super::refusal::Refused;

/// Everything the core learned from one email: its envelope, and either the checked iTIP message
/// or why it was refused (with whatever could still be read, for reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    pub envelope: Envelope,
    pub verdict: Result<CheckedMessage, Refused>,
    /// What decides whether the sender may be answered (`itip::answer`).
    pub reply: ReplyFacts,
}

impl Analysis {
    /// An email refused before anything of it could be read.
    pub fn unread(refused: Refused) -> Analysis {
        Analysis {
            envelope: Envelope::default(),
            verdict: Err(refused),
            reply: ReplyFacts::default(),
        }
    }

    /// A refusal is keyed by what its email says (`Envelope::body_digest`).
    pub fn keyed_by_body(mut self, digest: String) -> Analysis {
        self.envelope.body_digest = Some(digest);
        self
    }

    pub fn reason(&self) -> Option<Reason> {
        self.verdict.as_ref().err().map(|refused| refused.reason)
    }

    /// What exactly was wrong, when a refusal can say more than its reason.
    pub fn detail(&self) -> Option<&str> {
        self.verdict.as_ref().err()?.detail.as_deref()
    }

    pub fn method(&self) -> Option<&Method> {
        match &self.verdict {
            Ok(checked) => Some(checked.method()),
            Err(refused) => refused.method.as_ref(),
        }
    }

    /// Every component read, accepted or not.
    pub fn events(&self) -> &[EventComponent] {
        match &self.verdict {
            Ok(checked) => checked.events(),
            Err(refused) => &refused.events,
        }
    }

    /// The component that speaks for the message: the master (no RECURRENCE-ID) if there is one,
    /// else the first.
    pub fn primary(&self) -> Option<&EventComponent> {
        let events = self.events();
        events
            .iter()
            .find(|event| event.recurrence_id.is_none())
            .or_else(|| events.first())
    }

    pub fn organizer(&self) -> Option<&Organizer> {
        self.primary().and_then(|event| event.organizer.as_ref())
    }
}
