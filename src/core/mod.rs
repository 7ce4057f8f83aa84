//! The pure core: bytes of an email in, an analysis and a routing decision out.
//! No I/O, no async, no clock, no environment: everything here is a plain function of its inputs,
//! which is what lets it be tested exhaustively and fuzzed.

pub mod auth_results;
pub mod calendar;
pub mod header_words;
pub mod inert;
pub mod itip;
pub mod message;
pub mod mime;
pub mod model;
pub mod reply;
pub mod report;

use model::Analysis;

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

/// How the sender is trusted and answered (DESIGN.md, "Sender trust" and "Who is answered").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderPolicy {
    /// Refuse mail that carries no `Authentication-Results` at all (not from SES).
    pub require_authentication: bool,
    /// Who may send for an organizer through SENT-BY.
    pub delegation: itip::sender::Delegation,
    /// Our drop-box and reply addresses (whole, or a domain): never answered.
    pub own_addresses: Vec<String>,
    /// The authserv-id whose `Authentication-Results` counts (`TRUSTED_AUTHSERV_ID`): the topmost
    /// header must be written by it, else the sender's authentication is not known.
    pub trusted_authserv_id: String,
}

/// SES writes its `Authentication-Results` as `amazonses.com`.
pub const DEFAULT_TRUSTED_AUTHSERV_ID: &str = "amazonses.com";

impl Default for SenderPolicy {
    fn default() -> Self {
        SenderPolicy {
            require_authentication: false,
            delegation: itip::sender::Delegation::default(),
            own_addresses: Vec::new(),
            trusted_authserv_id: DEFAULT_TRUSTED_AUTHSERV_ID.to_owned(),
        }
    }
}

/// Everything the core can say about one raw email without any state: what it carries and
/// whether it can be acted on. Never panics, whatever the bytes.
///
/// The steps: the calendar parts and envelope of the MIME message (`mime`), each part's values
/// (`calendar`), then every stateless rule (`itip::check`, which reads the email only when it is
/// within the size limit). The ledger rules (`itip::rules`) come later, in the service.
pub fn analyze(raw: &[u8], limits: &Limits, policy: &SenderPolicy) -> Analysis {
    let mut analysis = itip::check::check(
        raw.len(),
        || mime::read_mail(raw, limits.max_calendar_bytes),
        limits,
        policy,
    );
    // Only a refusal is keyed by its content; an accepted email is keyed by its transition.
    if analysis.verdict.is_err() {
        analysis.envelope.body_digest = Some(message::body_digest(raw));
    }
    analysis
}
