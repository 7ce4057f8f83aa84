//! iCalendar value types as written: DATE, DATE-TIME (UTC or local), DURATION, UTC-OFFSET.
//! No zone is applied here (that is `vtimezone`'s job); a malformed value is an error, never a guess.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("not an iCalendar date or date-time: {0:?}")]
    BadValue(String),
    #[error("not an iCalendar duration: {0:?}")]
    BadDuration(String),
    /// A local time whose TZID names no zone that can be evaluated: no evaluable VTIMEZONE, no
    /// IANA, Windows or Exchange name. Publishing it as a floating time would be wrong by the
    /// zone's offset, so the calendar is refused instead.
    #[error(
        "the time zone {0:?} is neither defined by an evaluable VTIMEZONE nor a known zone name"
    )]
    UnknownZone(String),
}

/// A value as written, before any zone is applied.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Parsed {
    Date(NaiveDate),
    Utc(NaiveDateTime),
    Local(NaiveDateTime),
}

/// DATE "YYYYMMDD", DATE-TIME "YYYYMMDDTHHMMSS" with an optional "Z". A leap second (60) is read as
/// 59. With VALUE=DATE, a DATE-TIME's date part is taken (clients do mislabel).
pub(crate) fn parse_value(value: &str, value_is_date: bool) -> Result<Parsed, TimeError> {
    let bad = || TimeError::BadValue(value.to_string());
    let text = value.trim();
    let bytes = text.as_bytes();
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(number(bytes.get(0..4).ok_or_else(bad)?).ok_or_else(bad)?)
            .map_err(|_| bad())?,
        number(bytes.get(4..6).ok_or_else(bad)?).ok_or_else(bad)?,
        number(bytes.get(6..8).ok_or_else(bad)?).ok_or_else(bad)?,
    )
    .ok_or_else(bad)?;
    if bytes.len() == 8 {
        return Ok(Parsed::Date(date));
    }
    if !matches!(bytes.get(8), Some(b'T' | b't')) {
        return Err(bad());
    }
    let utc = match bytes.len() {
        15 => false,
        16 if matches!(bytes.get(15), Some(b'Z' | b'z')) => true,
        _ => return Err(bad()),
    };
    let hour = number(bytes.get(9..11).ok_or_else(bad)?).ok_or_else(bad)?;
    let minute = number(bytes.get(11..13).ok_or_else(bad)?).ok_or_else(bad)?;
    let second = number(bytes.get(13..15).ok_or_else(bad)?).ok_or_else(bad)?;
    let time = NaiveTime::from_hms_opt(hour, minute, if second == 60 { 59 } else { second })
        .ok_or_else(bad)?;
    if value_is_date {
        return Ok(Parsed::Date(date));
    }
    let naive = date.and_time(time);
    Ok(if utc {
        Parsed::Utc(naive)
    } else {
        Parsed::Local(naive)
    })
}

/// ASCII digits only (no sign, no spaces), as a number.
fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |acc, byte| {
        byte.is_ascii_digit()
            .then(|| acc * 10 + u32::from(byte - b'0'))
    })
}

/// A DURATION split into its nominal (days, weeks) and exact (hours, minutes, seconds) parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Duration {
    pub(crate) days: i64,
    pub(crate) seconds: i64,
}

/// RFC 5545 3.3.6, leniently: the week form may be combined with days and time ("P1W2D").
pub(crate) fn parse_duration(text: &str) -> Result<Duration, TimeError> {
    let bad = || TimeError::BadDuration(text.to_string());
    let trimmed = text.trim();
    let (negative, rest) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, trimmed.get(1..).ok_or_else(bad)?),
        Some(b'+') => (false, trimmed.get(1..).ok_or_else(bad)?),
        _ => (false, trimmed),
    };
    let rest = rest
        .strip_prefix('P')
        .or_else(|| rest.strip_prefix('p'))
        .ok_or_else(bad)?;
    let mut days: i64 = 0;
    let mut seconds: i64 = 0;
    let mut in_time = false;
    let mut any = false;
    let mut time_parts = 0;
    let mut current: Option<i64> = None;
    for byte in rest.bytes() {
        match byte.to_ascii_uppercase() {
            digit @ b'0'..=b'9' => {
                let value = current
                    .unwrap_or(0)
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(i64::from(digit - b'0')))
                    .filter(|v| *v <= 1_000_000_000)
                    .ok_or_else(bad)?;
                current = Some(value);
            }
            b'T' if !in_time && current.is_none() => in_time = true,
            unit => {
                let value = current.take().ok_or_else(bad)?;
                let (target, factor) = match (unit, in_time) {
                    (b'W', false) => (&mut days, 7),
                    (b'D', false) => (&mut days, 1),
                    (b'H', true) => (&mut seconds, 3600),
                    (b'M', true) => (&mut seconds, 60),
                    (b'S', true) => (&mut seconds, 1),
                    _ => return Err(bad()),
                };
                *target = value
                    .checked_mul(factor)
                    .and_then(|v| target.checked_add(v))
                    .ok_or_else(bad)?;
                any = true;
                if in_time {
                    time_parts += 1;
                }
            }
        }
    }
    if current.is_some() || !any || (in_time && time_parts == 0) {
        return Err(bad());
    }
    if negative {
        days = -days;
        seconds = -seconds;
    }
    Ok(Duration { days, seconds })
}

pub(crate) fn add_seconds(naive: NaiveDateTime, seconds: i64) -> Option<NaiveDateTime> {
    naive.checked_add_signed(TimeDelta::try_seconds(seconds)?)
}

/// Nominal days on a wall-clock time: the same time of day, `days` calendar days later.
pub(crate) fn add_nominal_days(naive: NaiveDateTime, days: i64) -> Option<NaiveDateTime> {
    naive.checked_add_signed(TimeDelta::try_days(days)?)
}

/// "+0200", "-0800", "+013952", "+05:30"; seconds east of UTC.
pub(crate) fn parse_offset(text: &str) -> Option<i32> {
    let text = text.trim();
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, text.get(1..)?),
        b'-' => (-1, text.get(1..)?),
        _ => (1, text),
    };
    let mut digits = [0u32; 6];
    let mut len = 0usize;
    for byte in rest.bytes() {
        match byte {
            b'0'..=b'9' => {
                *digits.get_mut(len)? = u32::from(byte - b'0');
                len += 1;
            }
            b':' => {}
            _ => return None,
        }
    }
    if len != 4 && len != 6 {
        return None;
    }
    let [h1, h2, m1, m2, s1, s2] = digits;
    let (hours, minutes, seconds) = (h1 * 10 + h2, m1 * 10 + m2, s1 * 10 + s2);
    if minutes > 59 || seconds > 59 || hours > 23 {
        return None;
    }
    let total = i32::try_from(hours * 3600 + minutes * 60 + seconds).ok()?;
    Some(sign * total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_with_seconds_and_half_hours() {
        assert_eq!(parse_offset("+0530"), Some(19_800));
        assert_eq!(parse_offset("-0800"), Some(-28_800));
        assert_eq!(parse_offset("+013952"), Some(5_992));
        assert_eq!(parse_offset("-0000"), Some(0));
        assert_eq!(parse_offset("+05:45"), Some(20_700));
        for bad in [
            "", "+", "+05", "+2400", "+0560", "+05300", "+0530000", "abc", "+05a0",
        ] {
            assert_eq!(parse_offset(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn durations_split_into_nominal_days_and_exact_seconds() {
        assert_eq!(
            parse_duration("P1W2DT3H4M5S"),
            Ok(Duration {
                days: 9,
                seconds: 3 * 3600 + 4 * 60 + 5
            })
        );
        assert_eq!(
            parse_duration("-P2D"),
            Ok(Duration {
                days: -2,
                seconds: 0
            })
        );
    }

    #[test]
    fn errors_say_what_was_not_understood() {
        assert_eq!(
            TimeError::BadValue("x".into()).to_string(),
            "not an iCalendar date or date-time: \"x\""
        );
        assert_eq!(
            TimeError::BadDuration("P".into()).to_string(),
            "not an iCalendar duration: \"P\""
        );
    }
}
