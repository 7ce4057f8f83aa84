//! What the email targets share.

use invite_router::core::Limits;

/// Smaller than production so that libFuzzer's inputs reach the size refusals too.
pub fn limits() -> Limits {
    Limits {
        max_email_bytes: 256 * 1024,
        max_calendar_bytes: 64 * 1024,
        ..Limits::default()
    }
}
