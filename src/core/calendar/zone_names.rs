//! Zone names to IANA zones: IANA names (chrono-tz's tz database, legacy aliases included, any
//! letter case, prefixed TZIDs such as `/mozilla.org/20050126_1/Europe/Berlin`), then Windows zone
//! names and Outlook display names through the CLDR windowsZones table (`windows-timezones`),
//! and Exchange's numeric `X-MICROSOFT-CDO-TZID` ids through Microsoft's CdoTimeZoneId list to a
//! Windows zone, and from there through CLDR too.

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

/// Exchange's CdoTimeZoneId values (`X-MICROSOFT-CDO-TZID`) and the Windows zone each stands
/// for, from Microsoft's "Time Zone to CdoTimeZoneId Map" (Exchange Server 2007 SDK; the
/// `CdoTimeZoneId` enumeration of cdoex.h). The enumeration is frozen: CDO for Exchange ended with
/// Exchange 2007, and later Exchange versions only repeat these ids. No crate carries it. Where an
/// id names a region spanning several of today's Windows zones, the zone of the first city in its
/// description is taken. 52 (floating) and 82 (invalid) name no zone.
const CDO_TIME_ZONES: [(u8, &str); 81] = [
    (0, "UTC"),
    (1, "GMT Standard Time"),
    (2, "Central European Standard Time"),
    (3, "Romance Standard Time"),
    (4, "W. Europe Standard Time"),
    (5, "GTB Standard Time"),
    (6, "Central Europe Standard Time"),
    (7, "GTB Standard Time"),
    (8, "E. South America Standard Time"),
    (9, "Atlantic Standard Time"),
    (10, "Eastern Standard Time"),
    (11, "Central Standard Time"),
    (12, "Mountain Standard Time"),
    (13, "Pacific Standard Time"),
    (14, "Alaskan Standard Time"),
    (15, "Hawaiian Standard Time"),
    (16, "UTC-11"),
    (17, "New Zealand Standard Time"),
    (18, "E. Australia Standard Time"),
    (19, "Cen. Australia Standard Time"),
    (20, "Tokyo Standard Time"),
    (21, "Singapore Standard Time"),
    (22, "SE Asia Standard Time"),
    (23, "India Standard Time"),
    (24, "Arabian Standard Time"),
    (25, "Iran Standard Time"),
    (26, "Arabic Standard Time"),
    (27, "Israel Standard Time"),
    (28, "Newfoundland Standard Time"),
    (29, "Azores Standard Time"),
    (30, "UTC-02"),
    (31, "Greenwich Standard Time"),
    (32, "Argentina Standard Time"),
    (33, "SA Western Standard Time"),
    (34, "US Eastern Standard Time"),
    (35, "SA Pacific Standard Time"),
    (36, "Canada Central Standard Time"),
    (37, "Central Standard Time (Mexico)"),
    (38, "US Mountain Standard Time"),
    (39, "Dateline Standard Time"),
    (40, "Fiji Standard Time"),
    (41, "Central Pacific Standard Time"),
    (42, "Tasmania Standard Time"),
    (43, "West Pacific Standard Time"),
    (44, "AUS Central Standard Time"),
    (45, "China Standard Time"),
    (46, "Central Asia Standard Time"),
    (47, "Pakistan Standard Time"),
    (48, "Afghanistan Standard Time"),
    (49, "Egypt Standard Time"),
    (50, "South Africa Standard Time"),
    (51, "Russian Standard Time"),
    (53, "Cape Verde Standard Time"),
    (54, "Caucasus Standard Time"),
    (55, "Central America Standard Time"),
    (56, "E. Africa Standard Time"),
    (57, "AUS Eastern Standard Time"),
    (58, "Ekaterinburg Standard Time"),
    (59, "FLE Standard Time"),
    (60, "Greenland Standard Time"),
    (61, "Myanmar Standard Time"),
    (62, "Nepal Standard Time"),
    (63, "North Asia East Standard Time"),
    (64, "North Asia Standard Time"),
    (65, "Pacific SA Standard Time"),
    (66, "Sri Lanka Standard Time"),
    (67, "Tonga Standard Time"),
    (68, "Vladivostok Standard Time"),
    (69, "W. Central Africa Standard Time"),
    (70, "Yakutsk Standard Time"),
    (71, "Bangladesh Standard Time"),
    (72, "Korea Standard Time"),
    (73, "W. Australia Standard Time"),
    (74, "Arab Standard Time"),
    (75, "Taipei Standard Time"),
    (76, "AUS Eastern Standard Time"),
    (77, "Mountain Standard Time (Mexico)"),
    (78, "AUS Eastern Standard Time"),
    (79, "Cen. Australia Standard Time"),
    (80, "Tasmania Standard Time"),
    (81, "Pacific Standard Time (Mexico)"),
];

/// The IANA zone an `X-MICROSOFT-CDO-TZID` value stands for.
pub(crate) fn exchange_zone(id: &str) -> Option<Tz> {
    let id: u8 = id.trim().parse().ok()?;
    let (_, windows) = CDO_TIME_ZONES.iter().find(|(cdo, _)| *cdo == id)?;
    windows_zone(windows)
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
    fn every_exchange_zone_id_maps_through_cldr() {
        for (id, windows) in CDO_TIME_ZONES {
            assert!(
                exchange_zone(&id.to_string()).is_some(),
                "CDO {id}: {windows} is not a CLDR Windows zone"
            );
        }
        let name = |id: &str| exchange_zone(id).map(|tz| tz.name());
        assert_eq!(name("4"), Some("Europe/Berlin"));
        assert_eq!(name(" 10 "), Some("America/New_York"));
        assert_eq!(name("13"), Some("America/Los_Angeles"));
        assert_eq!(name("20"), Some("Asia/Tokyo"));
        for nothing in ["52", "82", "83", "-1", "", "Eastern"] {
            assert_eq!(exchange_zone(nothing), None, "{nothing:?}");
        }
    }

    #[test]
    fn over_long_names_are_not_looked_up() {
        assert_eq!(named_zone(&"x/".repeat(1000)), None);
        assert_eq!(named_zone(""), None);
    }
}
