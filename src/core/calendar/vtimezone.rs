//! iCalendar DATE / DATE-TIME values to [`EventTime`]: UTC instants, all-day dates, floating times.
//!
//! # Why this order
//!
//! A local time with a `TZID` is resolved, in this order:
//!
//! 1. **The calendar's own VTIMEZONE** with that TZID, evaluated from its STANDARD/DAYLIGHT rules.
//!    That is what the sender's client meant (RFC 5545 3.6.5 makes the VTIMEZONE normative), and it
//!    is the only source for custom TZIDs and for Outlook's names. When a client's idea of a zone
//!    disagrees with the current tz database (old rules, a political change not yet shipped), the
//!    invitees' clients use the VTIMEZONE too, so we agree with them.
//! 2. **An IANA name** (the TZID, a `/`-separated suffix of it such as
//!    `/mozilla.org/20050126_1/Europe/Berlin`, or the VTIMEZONE's `X-LIC-LOCATION`), looked up in the
//!    tz database that `chrono-tz` 0.10 compiles in (legacy aliases like `US/Pacific` included;
//!    case-insensitive). Used when there is no VTIMEZONE or its rules cannot be evaluated.
//! 3. **A Windows zone name** (`Pacific Standard Time`) or display name
//!    (`(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna`, also the old
//!    `(GMT+01.00) Amsterdam / Berlin / ...` spelling), mapped to IANA through the CLDR
//!    windowsZones table that the `windows-timezones` 0.5 crate generates. Outlook and Exchange
//!    write these; IANA names win because they are exact where a Windows name is a region.
//! 4. **An Exchange zone id**: `X-MICROSOFT-CDO-TZID` (on the VTIMEZONE, or on the component as
//!    the caller's fallback), Exchange's numeric CdoTimeZoneId, mapped to a Windows zone and
//!    from there through CLDR (see `zone_names::exchange_zone`).
//! 5. **Unknown**: [`TimeError::UnknownZone`]. A zoned time published as floating would be wrong
//!    by the zone's offset for everyone but the sender, so the calendar is refused instead.
//!
//! The rules come from the message, the tz database from `chrono-tz`, the Windows map from
//! `windows-timezones` (CLDR); the one hand-kept table is Microsoft's frozen CdoTimeZoneId list
//! (`zone_names::CDO_TIME_ZONES`).
//!
//! # Ambiguous local times (RFC 5545 3.3.5)
//!
//! A local time that occurs twice (the fall-back overlap) means its first occurrence, i.e. the
//! earlier UTC instant (the pre-transition, usually daylight, offset). A local time that does not
//! exist (the spring-forward gap) is read with the offset before the gap, so 02:30 in a 02:00→03:00
//! gap is 03:30 after the change. Both VTIMEZONE rules and the IANA path behave this way.
//!
//! # Bounded work
//!
//! VTIMEZONE rules are parsed once in [`ZoneTable::from_components`]. Resolving a time looks only at
//! the years around it (the target year and, when needed, a few years back), never from DTSTART
//! (Outlook writes 1601) onward. Hostile input is capped: zones, observances, RRULE lists, RDATEs
//! and COUNT expansion all have limits; a zone over a limit is treated as "rules not evaluable" and
//! falls through to its IANA/Windows name.

use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use icalendar::parser::{Component, Property};

use super::text::{clean_name, unescape_text};
use super::value::{
    Parsed, TimeError, add_nominal_days, add_seconds, parse_duration, parse_offset, parse_value,
};
use super::yearly_rule::{COUNT_BUDGET, Unsupported, YearlyRule, parse_rrule};
use super::zone_names::{exchange_zone, iana_offset_for_local, named_zone};
use crate::core::model::EventTime;

/// VTIMEZONEs kept per calendar; later ones are ignored (their TZIDs resolve by name).
const MAX_ZONES: usize = 64;
/// STANDARD/DAYLIGHT sub-components per VTIMEZONE; over it, the zone's rules are not evaluated.
const MAX_OBSERVANCES: usize = 64;
/// Observances with an RRULE per VTIMEZONE (each costs a little per resolve).
const MAX_RRULES_PER_ZONE: usize = 32;
/// RDATE values per VTIMEZONE (tzurl's full-history zones have a few hundred at most).
const MAX_RDATES_PER_ZONE: usize = 1000;

/// The VTIMEZONE definitions of one calendar, by TZID.
#[derive(Debug, Clone, Default)]
pub struct ZoneTable {
    zones: Vec<ZoneDef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub time: EventTime,
    /// The zone the value was written in: the IANA name when the TZID resolves to one
    /// (directly, through a VTIMEZONE's X-LIC-LOCATION / TZID, or through the CLDR Windows map),
    /// else the TZID as written; None for UTC, floating and DATE values.
    pub zone: Option<String>,
}

/// One VTIMEZONE, parsed once.
#[derive(Debug, Clone)]
struct ZoneDef {
    tzid: String,
    /// The IANA zone its TZID or X-LIC-LOCATION names, if any (for reporting and as a fallback).
    iana: Option<Tz>,
    /// None when the rules cannot be evaluated (unsupported RRULE, missing offsets, over a cap).
    rules: Option<Rules>,
}

#[derive(Debug, Clone)]
struct Rules {
    observances: Vec<Observance>,
    /// The offset before the first onset: TZOFFSETFROM of the earliest observance.
    initial_offset: i32,
}

/// One STANDARD or DAYLIGHT sub-component. All local times are wall-clock times in `from`.
#[derive(Debug, Clone)]
struct Observance {
    start: NaiveDateTime,
    from: i32,
    to: i32,
    rrule: Option<YearlyRule>,
    /// Sorted.
    rdates: Vec<NaiveDateTime>,
}

/// What a TZID resolved to.
#[derive(Debug, Clone, Copy)]
enum ZoneRef<'a> {
    Rules(&'a Rules, Option<Tz>),
    Iana(Tz),
}

impl ZoneTable {
    /// Collects every VTIMEZONE among `components` (the VCALENDAR's child components).
    pub fn from_components(components: &[Component<'_>]) -> ZoneTable {
        let mut budget = COUNT_BUDGET;
        let mut zones: Vec<ZoneDef> = Vec::new();
        for component in components {
            if zones.len() >= MAX_ZONES {
                break;
            }
            if !component.name.as_str().eq_ignore_ascii_case("VTIMEZONE") {
                continue;
            }
            // A TZID property is TEXT: "(UTC+01:00) Amsterdam\, Berlin" names the zone that a
            // DTSTART parameter writes as TZID="(UTC+01:00) Amsterdam, Berlin".
            let Some(tzid) = prop_value(component, "TZID").map(|v| unescape_text(clean_name(v)))
            else {
                continue;
            };
            let tzid = clean_name(&tzid);
            if tzid.is_empty() || zones.iter().any(|zone| zone.tzid == tzid) {
                continue; // the first definition of a TZID wins
            }
            let iana = named_zone(tzid)
                .or_else(|| {
                    prop_value(component, "X-LIC-LOCATION")
                        .map(clean_name)
                        .and_then(named_zone)
                })
                .or_else(|| prop_value(component, "X-MICROSOFT-CDO-TZID").and_then(exchange_zone));
            let rules = parse_rules(component, &mut budget).ok();
            zones.push(ZoneDef {
                tzid: tzid.to_string(),
                iana,
                rules,
            });
        }
        ZoneTable { zones }
    }

    /// `value` as written (e.g. "20261201T100000", "20261201T100000Z", "20261224"); `tzid` the TZID
    /// parameter (already unquoted); `value_is_date` true when VALUE=DATE was given (an 8-digit value
    /// must be treated as a DATE even without it).
    pub fn resolve(
        &self,
        value: &str,
        tzid: Option<&str>,
        value_is_date: bool,
    ) -> Result<Resolved, TimeError> {
        self.resolve_or(value, tzid, value_is_date, None)
    }

    /// [`Self::resolve`], with `fallback` standing in for a TZID that names nothing known (the
    /// component's `X-MICROSOFT-CDO-TZID`).
    pub fn resolve_or(
        &self,
        value: &str,
        tzid: Option<&str>,
        value_is_date: bool,
        fallback: Option<Tz>,
    ) -> Result<Resolved, TimeError> {
        match parse_value(value, value_is_date)? {
            Parsed::Date(date) => Ok(Resolved {
                time: EventTime::Date(date),
                zone: None,
            }),
            Parsed::Utc(naive) => Ok(Resolved {
                time: EventTime::Utc(naive.and_utc()),
                zone: None,
            }),
            Parsed::Local(local) => {
                let Some(tzid) = tzid.map(clean_name).filter(|t| !t.is_empty()) else {
                    return Ok(Resolved {
                        time: EventTime::Floating(local),
                        zone: None,
                    });
                };
                let zone = self.zone_for(tzid, fallback)?;
                Ok(Resolved {
                    time: EventTime::Utc(zone.to_utc(local).ok_or_else(|| out_of_range(value))?),
                    zone: Some(zone.name(tzid)),
                })
            }
        }
    }

    /// The end for a DTSTART plus a DURATION (RFC 5545 3.3.6: "P1D", "PT1H30M", "-PT15M", "P1W", "P1DT2H"):
    /// days and weeks are nominal (added in local time of the start's zone, so a day across a DST change
    /// stays 24 local hours apart); hours/minutes/seconds are exact. For a DATE start, the result is a DATE.
    ///
    /// A DATE start plus a duration with a time part adds only whole days (the time part rounded
    /// toward negative infinity, so "PT25H" is one day). A start in an unknown zone is floating, and so
    /// is its end (both parts then added to the wall-clock time).
    pub fn add_duration(
        &self,
        start_value: &str,
        tzid: Option<&str>,
        value_is_date: bool,
        duration: &str,
    ) -> Result<Resolved, TimeError> {
        self.add_duration_or(start_value, tzid, value_is_date, duration, None)
    }

    /// [`Self::add_duration`] with a fallback zone, as [`Self::resolve_or`].
    pub fn add_duration_or(
        &self,
        start_value: &str,
        tzid: Option<&str>,
        value_is_date: bool,
        duration: &str,
        fallback: Option<Tz>,
    ) -> Result<Resolved, TimeError> {
        let dur = parse_duration(duration)?;
        let overflow = || TimeError::BadDuration(duration.to_string());
        match parse_value(start_value, value_is_date)? {
            Parsed::Date(date) => {
                let days = dur
                    .days
                    .checked_add(dur.seconds.div_euclid(86_400))
                    .ok_or_else(overflow)?;
                let end = TimeDelta::try_days(days)
                    .and_then(|delta| date.checked_add_signed(delta))
                    .ok_or_else(overflow)?;
                Ok(Resolved {
                    time: EventTime::Date(end),
                    zone: None,
                })
            }
            Parsed::Utc(naive) => {
                let end = add_nominal_days(naive, dur.days)
                    .and_then(|n| add_seconds(n, dur.seconds))
                    .ok_or_else(overflow)?;
                Ok(Resolved {
                    time: EventTime::Utc(end.and_utc()),
                    zone: None,
                })
            }
            Parsed::Local(local) => {
                let shifted = add_nominal_days(local, dur.days).ok_or_else(overflow)?;
                let Some(tzid) = tzid.map(clean_name).filter(|t| !t.is_empty()) else {
                    let end = add_seconds(shifted, dur.seconds).ok_or_else(overflow)?;
                    return Ok(Resolved {
                        time: EventTime::Floating(end),
                        zone: None,
                    });
                };
                let zone = self.zone_for(tzid, fallback)?;
                let end = zone
                    .to_utc(shifted)
                    .and_then(|utc| utc.checked_add_signed(TimeDelta::try_seconds(dur.seconds)?))
                    .ok_or_else(overflow)?;
                Ok(Resolved {
                    time: EventTime::Utc(end),
                    zone: Some(zone.name(tzid)),
                })
            }
        }
    }

    fn find(&self, tzid: &str) -> Option<&ZoneDef> {
        self.zones
            .iter()
            .find(|zone| zone.tzid == tzid)
            .or_else(|| {
                self.zones
                    .iter()
                    .find(|zone| zone.tzid.eq_ignore_ascii_case(tzid))
            })
    }

    fn zone_for(&self, tzid: &str, fallback: Option<Tz>) -> Result<ZoneRef<'_>, TimeError> {
        if let Some(def) = self.find(tzid) {
            if let Some(rules) = &def.rules {
                return Ok(ZoneRef::Rules(rules, def.iana));
            }
            if let Some(tz) = def.iana {
                return Ok(ZoneRef::Iana(tz));
            }
        }
        named_zone(tzid)
            .or(fallback)
            .map(ZoneRef::Iana)
            .ok_or_else(|| TimeError::UnknownZone(tzid.to_owned()))
    }
}

/// A local time so close to the ends of the calendar that its offset moves it out of range.
fn out_of_range(value: &str) -> TimeError {
    TimeError::BadValue(value.to_owned())
}

impl ZoneRef<'_> {
    /// The UTC instant of a local time in this zone; None past the ends of the calendar.
    fn to_utc(self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let offset = match self {
            ZoneRef::Rules(rules, _) => rules.offset_for_local(local),
            ZoneRef::Iana(tz) => iana_offset_for_local(tz, local)?,
        };
        add_seconds(local, -i64::from(offset)).map(|utc| utc.and_utc())
    }

    fn name(self, tzid: &str) -> String {
        match self {
            ZoneRef::Rules(_, Some(tz)) | ZoneRef::Iana(tz) => tz.name().to_string(),
            ZoneRef::Rules(_, None) => tzid.to_string(),
        }
    }
}

impl Rules {
    /// The offset (seconds east) in force at a local wall-clock time.
    fn offset_for_local(&self, local: NaiveDateTime) -> i32 {
        // The latest onset (by UTC instant) whose wall-clock time, in the offset before it, is at or
        // before `local`. Comparing in the pre-onset offset makes an overlap resolve to the earlier
        // (pre-transition) offset; a gap is handled below.
        let mut best: Option<(NaiveDateTime, NaiveDateTime, &Observance)> = None;
        for obs in &self.observances {
            let Some(onset) = obs.latest_onset(local) else {
                continue;
            };
            let Some(instant) = add_seconds(onset, -i64::from(obs.from)) else {
                continue;
            };
            if best.is_none_or(|(best_instant, _, _)| instant > best_instant) {
                best = Some((instant, onset, obs));
            }
        }
        match best {
            None => self.initial_offset,
            Some((_, onset, obs)) => {
                let gap_end = add_seconds(onset, i64::from(obs.to) - i64::from(obs.from));
                if obs.to > obs.from && gap_end.is_some_and(|end| local < end) {
                    obs.from // in the gap: the offset before it
                } else {
                    obs.to
                }
            }
        }
    }
}

impl Observance {
    /// The latest onset of this observance at or before `local` (both wall-clock in `from`).
    fn latest_onset(&self, local: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut best = (self.start <= local).then_some(self.start);
        let below = self.rdates.partition_point(|rdate| *rdate <= local);
        if let Some(rdate) = below.checked_sub(1).and_then(|i| self.rdates.get(i)) {
            best = best.max(Some(*rdate));
        }
        if let Some(rule) = &self.rrule {
            best = best.max(rule.latest(self.start, local));
        }
        best
    }
}

fn parse_rules(zone: &Component<'_>, budget: &mut u32) -> Result<Rules, Unsupported> {
    let mut observances = Vec::new();
    let mut rrules = 0usize;
    let mut rdates = 0usize;
    for sub in &zone.components {
        let name = sub.name.as_str();
        if !(name.eq_ignore_ascii_case("STANDARD") || name.eq_ignore_ascii_case("DAYLIGHT")) {
            continue;
        }
        if observances.len() >= MAX_OBSERVANCES {
            return Err(Unsupported);
        }
        let obs = parse_observance(sub, budget, &mut rdates)?;
        if obs.rrule.is_some() {
            rrules += 1;
            if rrules > MAX_RRULES_PER_ZONE {
                return Err(Unsupported);
            }
        }
        observances.push(obs);
    }
    let initial_offset = observances
        .iter()
        .min_by_key(|obs| obs.start)
        .map(|obs| obs.from)
        .ok_or(Unsupported)?;
    Ok(Rules {
        observances,
        initial_offset,
    })
}

fn parse_observance(
    sub: &Component<'_>,
    budget: &mut u32,
    rdate_total: &mut usize,
) -> Result<Observance, Unsupported> {
    let to = prop_value(sub, "TZOFFSETTO")
        .and_then(parse_offset)
        .ok_or(Unsupported)?;
    // TZOFFSETFROM is required; a client that leaves it out means "no change".
    let from = match prop_value(sub, "TZOFFSETFROM") {
        Some(text) => parse_offset(text).ok_or(Unsupported)?,
        None => to,
    };
    let start = prop_value(sub, "DTSTART")
        .and_then(|text| parse_onset(text, from))
        .ok_or(Unsupported)?;
    let mut rdates = Vec::new();
    let mut rrule = None;
    for prop in &sub.properties {
        let name = prop.name.as_str();
        if name.eq_ignore_ascii_case("RDATE") {
            for item in prop.val.as_str().split(',') {
                *rdate_total += 1;
                if *rdate_total > MAX_RDATES_PER_ZONE {
                    return Err(Unsupported);
                }
                // A PERIOD's start is the onset; an unreadable entry is skipped.
                let item = item.split('/').next().unwrap_or(item);
                if let Some(onset) = parse_onset(item, from) {
                    rdates.push(onset);
                }
            }
        } else if name.eq_ignore_ascii_case("RRULE") {
            if rrule.is_some() {
                return Err(Unsupported); // several RRULEs in one observance: not seen in practice
            }
            rrule = Some(parse_rrule(prop.val.as_str(), start, from, budget)?);
        }
    }
    rdates.sort_unstable();
    Ok(Observance {
        start,
        from,
        to,
        rrule,
        rdates,
    })
}

/// A VTIMEZONE DTSTART/RDATE: local time in `from` (a UTC value is converted; a DATE is midnight).
fn parse_onset(text: &str, from: i32) -> Option<NaiveDateTime> {
    match parse_value(text, false).ok()? {
        Parsed::Date(date) => Some(date.and_time(NaiveTime::MIN)),
        Parsed::Local(local) => Some(local),
        Parsed::Utc(utc) => add_seconds(utc, i64::from(from)),
    }
}

fn prop_value<'c>(component: &'c Component<'_>, name: &str) -> Option<&'c str> {
    component
        .properties
        .iter()
        .find(|prop: &&Property<'_>| prop.name.as_str().eq_ignore_ascii_case(name))
        .map(|prop| prop.val.as_str())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    const OUTLOOK_W_EUROPE: &str =
        include_str!("../../../fixtures/time/zones/outlook-w-europe.ics");
    const OUTLOOK_FLE: &str = include_str!("../../../fixtures/time/zones/outlook-fle.ics");
    const HELSINKI: &str = include_str!("../../../fixtures/time/zones/helsinki-history.ics");
    const US_PACIFIC: &str = include_str!("../../../fixtures/time/zones/us-pacific.ics");
    const OUTLOOK_AUS_EASTERN: &str =
        include_str!("../../../fixtures/time/zones/outlook-aus-eastern.ics");

    fn utc(text: &str) -> EventTime {
        EventTime::Utc(
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ")
                .expect("test literal")
                .and_utc(),
        )
    }

    /// Builds a table from VTIMEZONE text (CRLF or LF, folded or not).
    fn table(ics: &str) -> ZoneTable {
        let text =
            format!("BEGIN:VCALENDAR\nVERSION:2.0\n{ics}\nEND:VCALENDAR\n").replace("\r\n", "\n");
        let unfolded = icalendar::parser::unfold(&text);
        let calendar = icalendar::parser::read_calendar(&unfolded).expect("test calendar parses");
        ZoneTable::from_components(&calendar.components)
    }

    fn resolved(time: EventTime, zone: Option<&str>) -> Resolved {
        Resolved {
            time,
            zone: zone.map(str::to_string),
        }
    }

    fn at(table: &ZoneTable, value: &str, tzid: &str) -> Resolved {
        table.resolve(value, Some(tzid), false).expect("resolves")
    }

    // The cases of resolving and adding durations are data: fixtures/time/cases.jsonl, read by
    // tests/time_values.rs. What stays here needs the table's insides or generated input.

    #[test]
    fn an_escaped_display_name_is_one_evaluable_zone() {
        let zones = table(include_str!(
            "../../../fixtures/time/zones/outlook-display-name-escaped.ics"
        ));
        assert_eq!(zones.zones.len(), 1);
        assert!(zones.zones.iter().all(|zone| zone.rules.is_some()));
    }

    #[test]
    fn an_over_long_unknown_tzid_is_an_unknown_zone() {
        let long = "x/".repeat(1000);
        assert_eq!(
            ZoneTable::default().resolve("20261201T100000", Some(&long), false),
            Err(TimeError::UnknownZone(long))
        );
    }

    #[test]
    fn hostile_count_is_bounded_and_stays_correct() {
        let mut ics = String::new();
        for i in 0..MAX_ZONES + 10 {
            ics.push_str(&format!(
                "BEGIN:VTIMEZONE
TZID:Hostile {i}
BEGIN:STANDARD
DTSTART:16011028T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU;COUNT=4294967295
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010325T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12;BYDAY=SU,MO,TU,WE,TH,FR,SA;COUNT=18446744073709551615
END:DAYLIGHT
END:VTIMEZONE
"
            ));
        }
        // The COUNT budget and the zone cap bound the work (docs/BENCHMARKS.md measures it);
        // here it must simply finish and answer.
        let zones = table(ics.trim_end());
        assert_eq!(zones.zones.len(), MAX_ZONES);
        // Zones past the cap are not kept, so their TZIDs name nothing known.
        for i in 0..MAX_ZONES + 10 {
            let _ = zones.resolve("99991231T235959", Some(&format!("Hostile {i}")), false);
            let _ = zones.resolve("20260701T120000", Some(&format!("Hostile {i}")), false);
        }
        // The first zone is within budget: its STANDARD rule is effectively unbounded.
        let first = table(
            "BEGIN:VTIMEZONE
TZID:Hostile
BEGIN:STANDARD
DTSTART:16011028T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU;COUNT=4294967295
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010325T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU;COUNT=4294967295
END:DAYLIGHT
END:VTIMEZONE",
        );
        assert_eq!(
            at(&first, "20260701T120000", "Hostile").time,
            utc("2026-07-01T10:00:00Z")
        );
        assert_eq!(
            at(&first, "20261201T120000", "Hostile").time,
            utc("2026-12-01T11:00:00Z")
        );
    }

    #[test]
    fn hostile_rdates_are_capped() {
        let mut rdates = String::new();
        for day in 0..5_000u32 {
            let date = NaiveDate::from_ymd_opt(1900, 1, 1)
                .and_then(|d| d.checked_add_days(chrono::Days::new(u64::from(day))))
                .expect("in range");
            rdates.push_str(&format!("RDATE:{}T020000\n", date.format("%Y%m%d")));
        }
        let zones = table(&format!(
            "BEGIN:VTIMEZONE
TZID:Europe/Paris
BEGIN:DAYLIGHT
DTSTART:19000101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0900
{rdates}END:DAYLIGHT
END:VTIMEZONE"
        ));
        // Over the RDATE cap: the rules are not evaluated and the IANA name answers.
        assert_eq!(
            at(&zones, "20260701T100000", "Europe/Paris"),
            resolved(utc("2026-07-01T08:00:00Z"), Some("Europe/Paris"))
        );
        assert!(zones.zones.iter().all(|zone| zone.rules.is_none()));

        // Under the cap, one comma-separated RDATE list is used and binary-searched.
        let list: Vec<String> = (1950..2050).map(|y| format!("{y}0601T000000")).collect();
        let zones = table(&format!(
            "BEGIN:VTIMEZONE
TZID:Many
BEGIN:STANDARD
DTSTART:19000101T000000
TZOFFSETFROM:+0000
TZOFFSETTO:+0000
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19500601T000000
TZOFFSETFROM:+0000
TZOFFSETTO:+0100
RDATE:{}
END:DAYLIGHT
BEGIN:STANDARD
DTSTART:19500701T000000
TZOFFSETFROM:+0100
TZOFFSETTO:+0000
RRULE:FREQ=YEARLY;BYMONTH=7;BYMONTHDAY=1
END:STANDARD
END:VTIMEZONE",
            list.join(",")
        ));
        assert_eq!(
            at(&zones, "20260615T120000", "Many").time,
            utc("2026-06-15T11:00:00Z")
        );
        assert_eq!(
            at(&zones, "20260715T120000", "Many").time,
            utc("2026-07-15T12:00:00Z")
        );
        assert_eq!(
            at(&zones, "20600615T120000", "Many").time,
            utc("2060-06-15T12:00:00Z")
        );
    }

    #[test]
    fn hostile_rule_shapes_do_not_panic() {
        let rules = [
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
            "FREQ=YEARLY;BYMONTH=2;BYDAY=5SU",
            "FREQ=YEARLY;BYMONTH=2;BYDAY=-53SU",
            "FREQ=YEARLY;BYMONTH=13;BYDAY=1SU",
            "FREQ=YEARLY;BYMONTH=0",
            "FREQ=YEARLY;BYDAY=99SU;BYMONTH=3",
            "FREQ=YEARLY;INTERVAL=0",
            "FREQ=YEARLY;INTERVAL=2147483647",
            "FREQ=YEARLY;UNTIL=garbage",
            "FREQ=YEARLY;COUNT=0",
            "FREQ=YEARLY;COUNT=-1",
            "FREQ=YEARLY;BYMONTHDAY=0",
            "FREQ=YEARLY;BYDAY=SU",
            "FREQ=YEARLY;BYMONTH=3;BYDAY=",
            "FREQ=YEARLY;=;;",
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=100000",
            "",
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU;UNTIL=00010101",
        ];
        for rule in rules {
            let zones = table(&format!(
                "BEGIN:VTIMEZONE
TZID:Odd
BEGIN:STANDARD
DTSTART:20000101T000000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:{rule}
END:STANDARD
END:VTIMEZONE"
            ));
            for value in ["00010101T000000", "20260229T120000", "99991231T235959"] {
                let _ = zones.resolve(value, Some("Odd"), false);
                let _ = zones.add_duration(value, Some("Odd"), false, "P1000000W");
                let _ = zones.add_duration(value, Some("Odd"), false, "-P1000000W");
            }
        }
        // Extreme values with every kind of zone.
        let zones = table(OUTLOOK_W_EUROPE);
        for tzid in ["W. Europe Standard Time", "Pacific/Kiritimati", "Nowhere"] {
            for value in ["00000101T000000", "99991231T235959"] {
                let _ = zones.resolve(value, Some(tzid), false);
                let _ = zones.add_duration(value, Some(tzid), false, "P1000000000W");
                let _ = zones.add_duration(value, Some(tzid), false, "-PT1000000000H");
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics() {
        // A deterministic generator over the characters these parsers care about.
        let alphabet: Vec<char> = "0123456789TZzPWDHMS+-/:;,=. \\\"é\u{0660}"
            .chars()
            .collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % (bound as u64)).unwrap_or(0)
        };
        let zones = table(OUTLOOK_W_EUROPE);
        for _ in 0..20_000 {
            let len = next(20);
            let text: String = (0..len)
                .map(|_| alphabet.get(next(alphabet.len())).copied().unwrap_or('0'))
                .collect();
            for tzid in [None, Some("W. Europe Standard Time"), Some(text.as_str())] {
                let _ = zones.resolve(&text, tzid, next(2) == 0);
                let _ = zones.add_duration("20261201T100000", tzid, false, &text);
                let _ = zones.add_duration(&text, tzid, false, "P1D");
            }
        }
    }

    #[test]
    fn corpus_zones_agree_with_the_tz_database() {
        // Every corpus VTIMEZONE, checked against chrono-tz over two years of hours.
        for (ics, tzid, iana) in [
            (
                OUTLOOK_W_EUROPE,
                "W. Europe Standard Time",
                Tz::Europe__Berlin,
            ),
            (OUTLOOK_FLE, "FLE Standard Time", Tz::Europe__Helsinki),
            (HELSINKI, "Europe/Helsinki", Tz::Europe__Helsinki),
            (US_PACIFIC, "US/Pacific", Tz::America__Los_Angeles),
            (
                OUTLOOK_AUS_EASTERN,
                "AUS Eastern Standard Time",
                Tz::Australia__Sydney,
            ),
        ] {
            let zones = table(ics);
            let mut local = NaiveDate::from_ymd_opt(2025, 1, 1)
                .and_then(|d| d.and_hms_opt(0, 30, 0))
                .expect("literal");
            let end = NaiveDate::from_ymd_opt(2027, 1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .expect("literal");
            while local < end {
                let value = local.format("%Y%m%dT%H%M%S").to_string();
                let ours = at(&zones, &value, tzid).time;
                let offset = iana_offset_for_local(iana, local).expect("in range");
                let theirs = EventTime::Utc(
                    add_seconds(local, -i64::from(offset))
                        .expect("in range")
                        .and_utc(),
                );
                assert_eq!(ours, theirs, "{tzid} {value}");
                local += TimeDelta::minutes(60);
            }
        }
    }
}
