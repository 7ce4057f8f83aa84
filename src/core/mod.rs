//! The pure core: bytes of an email in, an analysis and a routing decision out.
//! No I/O, no async, no clock, no environment: everything here is a plain function of its inputs,
//! which is what lets it be tested exhaustively and fuzzed.

pub mod calendar;
pub mod decide;
pub mod message;
pub mod mime;
pub mod model;
pub mod report;
pub mod sender;
pub mod validate;

use model::{Analysis, Envelope, Reason};

/// Size caps that keep memory bounded on hostile input. Over any of them: `too_large`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_email_bytes: usize,
    pub max_calendar_bytes: usize,
    pub max_components: usize,
    pub max_attendees: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // SES itself refuses mail over 40 MB; invites with agendas attached rarely pass 10 MB.
            max_email_bytes: 10 * 1024 * 1024,
            max_calendar_bytes: 512 * 1024,
            max_components: 200,
            max_attendees: 1000,
        }
    }
}

/// How strictly the sender must be authenticated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SenderPolicy {
    /// Refuse mail that carries no `Authentication-Results` at all (not from SES).
    pub require_authentication: bool,
}

/// Everything the core can say about one raw email without any state: what it carries and
/// whether it can be acted on. Never panics, whatever the bytes.
pub fn analyze(raw: &[u8], limits: &Limits, policy: &SenderPolicy) -> Analysis {
    let refused_unread = |reason| Analysis {
        envelope: Envelope::default(),
        method: None,
        events: Vec::new(),
        verdict: Err(reason),
    };
    if raw.len() > limits.max_email_bytes {
        return refused_unread(Reason::TooLarge);
    }
    let Some(mail) = mime::read_mail(raw, limits.max_calendar_bytes) else {
        return refused_unread(Reason::NoCalendar);
    };
    let trust_refusal = sender::trust_verdict(&mail.trust, policy);
    let (message, content_verdict) = match validate::read_itip(&mail, limits) {
        Ok(message) => {
            let verdict = validate::check_itip(&message, mail.envelope.sender.as_deref());
            (message, verdict)
        }
        Err((reason, readable)) => (readable, Err(reason)),
    };
    Analysis {
        envelope: mail.envelope,
        method: message.method,
        events: message.events,
        verdict: match trust_refusal {
            Some(reason) => Err(reason),
            None => content_verdict,
        },
    }
}
