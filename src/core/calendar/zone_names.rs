//! Zone names to IANA zones: IANA names (chrono-tz's tz database, legacy aliases included, any
//! letter case, prefixed TZIDs such as `/mozilla.org/20050126_1/Europe/Berlin`), then Windows zone
//! names and Outlook display names through the CLDR windowsZones table (`windows-timezones`).
//! No zone data is hand-written here.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::{NaiveDateTime, Offset, TimeDelta, TimeZone};
use chrono_tz::Tz;
use strum::IntoEnumIterator;
use windows_timezones::WindowsTimezone;

/// TZIDs longer than this are not looked up by name (they are still matched to VTIMEZONEs).
const MAX_NAME_LEN: usize = 256;

/// The IANA zone a TZID names: IANA (whole, then each `/`-suffix), then Windows.
pub(crate) fn named_zone(name: &str) -> Option<Tz> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return None;
    }
    let suffixes = || {
        std::iter::once(name).chain(
            name.match_indices('/')
                .filter_map(|(i, _)| name.get(i + 1..))
                .filter(|s| !s.is_empty()),
        )
    };
    suffixes()
        .find_map(iana_zone)
        .or_else(|| suffixes().find_map(windows_zone))
}

/// Every IANA name chrono-tz knows, lower-cased, for case-insensitive lookups.
static IANA_LOWER: LazyLock<HashMap<String, Tz>> = LazyLock::new(|| {
    chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| (tz.name().to_ascii_lowercase(), *tz))
        .collect()
});

/// Exact, then case-insensitive with spaces read as underscores ("america/new york").
fn iana_zone(name: &str) -> Option<Tz> {
    Tz::from_str(name).ok().or_else(|| {
        let key: String = name
            .chars()
            .map(|c| {
                if c == ' ' {
                    '_'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        IANA_LOWER.get(&key).copied()
    })
}

/// Windows zone names and display names, normalized (see [`normalize_windows`]), to IANA zones.
static WINDOWS: LazyLock<HashMap<String, Tz>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for zone in WindowsTimezone::iter() {
        let tz = Tz::from(zone);
        map.entry(normalize_windows(zone.name())).or_insert(tz);
        map.entry(normalize_windows(zone.description()))
            .or_insert(tz);
    }
    map
});

fn windows_zone(name: &str) -> Option<Tz> {
    if let Ok(zone) = WindowsTimezone::from_str(name) {
        return Some(Tz::from(zone));
    }
    WINDOWS.get(&normalize_windows(name)).copied()
}

/// Lower-case letters, digits, `+` and `-` only, with a leading "gmt" read as "utc": so
/// "(GMT+01.00) Amsterdam / Berlin / ..." and "(UTC+01:00)  Amsterdam, Berlin, ..." meet.
fn normalize_windows(name: &str) -> String {
    let mut out: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if out.starts_with("gmt") {
        out.replace_range(..3, "utc");
    }
    out
}

/// The UTC offset (seconds east) of a local time in an IANA zone, RFC 5545 3.3.5 style.
pub(crate) fn iana_offset_for_local(tz: Tz, local: NaiveDateTime) -> Option<i32> {
    if let Some(instant) = tz.from_local_datetime(&local).earliest() {
        return Some(instant.offset().fix().local_minus_utc());
    }
    // A gap: use the offset in force a day before (no zone changes twice within a day).
    let before = local.checked_sub_signed(TimeDelta::try_days(1)?)?;
    Some(tz.offset_from_utc_datetime(&before).fix().local_minus_utc())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    #[test]
    fn every_windows_zone_resolves_by_name_and_description() {
        let probe = NaiveDate::from_ymd_opt(2026, 7, 1)
            .and_then(|d| d.and_hms_opt(10, 0, 0))
            .expect("literal");
        for zone in WindowsTimezone::iter() {
            let tz = Tz::from(zone);
            assert_eq!(windows_zone(zone.name()), Some(tz), "{}", zone.name());
            // By name a zone may resolve as IANA first ("UTC"), but it always resolves.
            let named = named_zone(zone.name()).expect("resolves by name");
            assert!(
                iana_offset_for_local(named, probe).is_some(),
                "{}",
                zone.name()
            );
            // Descriptions are unique except where two Windows zones share one; then both map to
            // zones with the same rules today, so checking an offset is enough.
            let by_description = windows_zone(zone.description()).expect("description maps");
            assert_eq!(
                iana_offset_for_local(by_description, probe),
                iana_offset_for_local(tz, probe),
                "{}",
                zone.description()
            );
        }
    }

    #[test]
    fn over_long_names_are_not_looked_up() {
        assert_eq!(named_zone(&"x/".repeat(1000)), None);
        assert_eq!(named_zone(""), None);
    }
}
