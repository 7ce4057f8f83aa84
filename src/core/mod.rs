//! The pure core: bytes of an email in, an analysis and a routing decision out.
//! No I/O, no async, no clock, no environment: everything here is a plain function of its inputs,
//! which is what lets it be tested exhaustively and fuzzed.

pub mod analysis;
pub mod auth_results;
pub mod calendar;
pub mod header_words;
pub mod inert;
pub mod itip;
pub mod message;
pub mod mime;
pub mod model;
pub mod policy;
pub mod refusal;
pub mod reply;
pub mod report;

pub use policy::{DEFAULT_TRUSTED_AUTHSERV_ID, Limits, SenderPolicy};

use analysis::Analysis;
use calendar::event::CalendarLimits;
use itip::answer::ReplyFacts;
use itip::{check, copies, sender};
use model::Reason;
use refusal::Refused;

/// Everything the core can say about one raw email without any state: what it carries and
/// whether it can be acted on. Never panics, whatever the bytes. The steps, in order, each a
/// function that returns a value (docs/DESIGN.md, "The flow of one email"); the ledger rules
/// (`itip::rules::decide`) come later, in the service.
pub fn analyze(raw: &[u8], limits: &Limits, policy: &SenderPolicy) -> Analysis {
    let analysis = judge_email(raw, limits, policy);
    // Only a refusal is keyed by its content; an accepted email is keyed by its transition.
    if analysis.verdict.is_err() {
        analysis.keyed_by_body(message::body_digest(raw))
    } else {
        analysis
    }
}

fn judge_email(raw: &[u8], limits: &Limits, policy: &SenderPolicy) -> Analysis {
    // Size: an email over the limit is never parsed.
    if let Err(refused) = check::email_size(raw.len(), limits) {
        return Analysis::unread(refused);
    }
    // Envelope: the calendar parts of the MIME message, its envelope and the headers that trust
    // and answering read.
    let Some(mail) = mime::read_mail(raw, limits.max_calendar_bytes) else {
        return Analysis::unread(Refused::bare(Reason::NoCalendar));
    };
    // Trust: SES's verdicts and the aligned authentication of the one From mailbox.
    let sender = sender::judge(&mail, policy);
    // Copies: every calendar part into the one iTIP message they carry.
    let calendar_limits = CalendarLimits {
        max_components: limits.max_components,
        max_attendees: limits.max_attendees,
    };
    let message = check::calendar_parts(&mail)
        .and_then(|()| check::one_message(copies::merge_copies(&mail.calendars, calendar_limits)));
    // Checks: every stateless rule on that message; a sender refused on trust wins over them.
    let from = mail.envelope.sender.as_deref();
    let content =
        message.and_then(|message| check::check_message(message, from, &policy.delegation));
    let verdict = check::sender_first(sender.refusal, content);
    Analysis {
        reply: ReplyFacts::of(&mail, sender.authentication),
        envelope: mail.envelope,
        verdict,
    }
}
