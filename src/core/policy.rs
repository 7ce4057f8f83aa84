//! What the operator configures about judging an email: the size limits and the sender policy.
//! Plain values, read by every step of `core::analyze`; nothing here imports the steps.

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

/// How the sender is trusted and answered (docs/DESIGN.md, "Sender trust" and "Who is answered").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderPolicy {
    /// Refuse mail that carries no `Authentication-Results` at all (not from SES).
    pub require_authentication: bool,
    /// Who may send for an organizer through SENT-BY.
    pub delegation: Delegation,
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
            delegation: Delegation::default(),
            own_addresses: Vec::new(),
            trusted_authserv_id: DEFAULT_TRUSTED_AUTHSERV_ID.to_owned(),
        }
    }
}

/// Who may send for an organizer through SENT-BY (`DELEGATION`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Delegation {
    /// A delegate in the organizer's own organizational domain (a colleague can act for a
    /// colleague: the residual risk of this default).
    #[default]
    SameDomain,
    /// Only these (organizer, delegate) pairs, lower-case (`DELEGATES`).
    Listed(Vec<(String, String)>),
    /// Nobody but the organizer.
    Off,
}

/// Parses `DELEGATES`: `boss@corp.example=assistant@corp.example;...` (commas also separate).
pub fn parse_delegates(text: &str) -> Option<Vec<(String, String)>> {
    text.split([';', ','])
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (organizer, delegate) = pair.split_once('=')?;
            let (organizer, delegate) = (organizer.trim(), delegate.trim());
            (organizer.contains('@') && delegate.contains('@'))
                .then(|| (organizer.to_lowercase(), delegate.to_lowercase()))
        })
        .collect()
}
