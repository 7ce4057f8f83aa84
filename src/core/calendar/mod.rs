//! Calendar values, not rules: what a VEVENT says, read exactly. Nothing here refuses a message;
//! `itip` decides what the values mean for routing.
//!
//! - `text`: unfolding, TEXT escapes, charsets, addresses
//! - `value`: DATE, DATE-TIME, DURATION, UTC-OFFSET
//! - `zone_names`: IANA, Windows and Outlook zone names
//! - `vtimezone` (with `yearly_rule`): the message's own VTIMEZONE rules, and resolving a TZID
//! - `recur`: an RRULE read by its grammar
//! - `event`: one calendar part into its METHOD and `EventComponent`s

pub mod event;
pub mod recur;
pub mod text;
pub mod value;
pub mod vtimezone;
mod yearly_rule;
pub mod zone_names;
