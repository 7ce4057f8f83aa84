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
//! 4. **Unknown**: the value stays a floating local time and the TZID is reported as written.
//!    An unknown zone is never an error: the wall-clock time is still the best information we have.
//!
//! No zone data is hand-written here: the rules come from the message, the tz database from
//! `chrono-tz`, the Windows map from `windows-timezones` (CLDR).
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

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;
use icalendar::parser::{Component, Property};
use strum::IntoEnumIterator;
use windows_timezones::WindowsTimezone;

use crate::core::model::EventTime;

/// VTIMEZONEs kept per calendar; later ones are ignored (their TZIDs resolve by name).
const MAX_ZONES: usize = 64;
/// STANDARD/DAYLIGHT sub-components per VTIMEZONE; over it, the zone's rules are not evaluated.
const MAX_OBSERVANCES: usize = 64;
/// Observances with an RRULE per VTIMEZONE (each costs a little per resolve).
const MAX_RRULES_PER_ZONE: usize = 32;
/// RDATE values per VTIMEZONE (tzurl's full-history zones have a few hundred at most).
const MAX_RDATES_PER_ZONE: usize = 1000;
/// Entries in one BYDAY / BYMONTHDAY list.
const MAX_RULE_LIST: usize = 31;
/// How many candidate years an RRULE is searched back for its latest onset.
const SEARCH_BACK_STEPS: u32 = 10;
/// Steps of COUNT expansion allowed per calendar, all zones together: per year expanded, the
/// rule's worst-case step count plus one per occurrence found (a "last Sunday of October" rule
/// expanded from 1601 to the horizon costs about 12,000).
const COUNT_BUDGET: u32 = 200_000;
/// A COUNT still not exhausted by this year is treated as unbounded.
const COUNT_HORIZON_YEAR: i32 = 2600;
/// TZIDs longer than this are not looked up by name (they are still matched to VTIMEZONEs).
const MAX_NAME_LEN: usize = 256;

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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("not an iCalendar date or date-time: {0:?}")]
    BadValue(String),
    #[error("not an iCalendar duration: {0:?}")]
    BadDuration(String),
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

/// A FREQ=YEARLY rule, the only frequency VTIMEZONEs use in practice.
#[derive(Debug, Clone)]
struct YearlyRule {
    interval: i32,
    /// Bit m set for month m (1..=12).
    months: u16,
    /// (n, weekday): n = 0 every such weekday of the month, n > 0 the nth, n < 0 the nth from the end.
    byday: Vec<(i32, Weekday)>,
    bymonthday: MonthDays,
    /// Last allowed onset, local (from UNTIL, or from COUNT expanded at parse time).
    until: Option<NaiveDateTime>,
}

/// A BYMONTHDAY list as two bit sets, so a membership test is O(1) however long the list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct MonthDays {
    /// Bit d for day d (1..=31).
    from_start: u32,
    /// Bit d for day -d (the dth day from the end).
    from_end: u32,
}

impl MonthDays {
    fn insert(&mut self, monthday: i32) -> Option<()> {
        let bit = 1u32
            .checked_shl(monthday.unsigned_abs())
            .filter(|_| monthday != 0)?;
        if monthday.unsigned_abs() > 31 {
            return None;
        }
        if monthday > 0 {
            self.from_start |= bit;
        } else {
            self.from_end |= bit;
        }
        Some(())
    }

    fn is_empty(self) -> bool {
        self.from_start == 0 && self.from_end == 0
    }

    /// Whether `day` of a month with `last` days is in the set.
    fn contains(self, day: u32, last: u32) -> bool {
        let from_end = last.checked_add(1).and_then(|n| n.checked_sub(day));
        self.from_start & 1u32.checked_shl(day).unwrap_or(0) != 0
            || from_end.is_some_and(|d| self.from_end & 1u32.checked_shl(d).unwrap_or(0) != 0)
    }
}

/// Why a VTIMEZONE's rules were not evaluated (internal; the zone then falls through by name).
#[derive(Debug)]
struct Unsupported;

/// A value as written, before any zone is applied.
#[derive(Debug, Clone, Copy)]
enum Parsed {
    Date(NaiveDate),
    Utc(NaiveDateTime),
    Local(NaiveDateTime),
}

/// What a TZID resolved to.
#[derive(Debug, Clone, Copy)]
enum ZoneRef<'a> {
    Rules(&'a Rules, Option<Tz>),
    Iana(Tz),
    Unknown,
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
            let iana = named_zone(tzid).or_else(|| {
                prop_value(component, "X-LIC-LOCATION")
                    .map(clean_name)
                    .and_then(named_zone)
            });
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
                let zone = self.zone_for(tzid);
                Ok(Resolved {
                    time: match zone.to_utc(local) {
                        Some(utc) => EventTime::Utc(utc),
                        None => EventTime::Floating(local),
                    },
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
                let zone = self.zone_for(tzid);
                let time = match zone.to_utc(shifted) {
                    Some(utc) => EventTime::Utc(
                        utc.checked_add_signed(
                            TimeDelta::try_seconds(dur.seconds).ok_or_else(overflow)?,
                        )
                        .ok_or_else(overflow)?,
                    ),
                    None => {
                        EventTime::Floating(add_seconds(shifted, dur.seconds).ok_or_else(overflow)?)
                    }
                };
                Ok(Resolved {
                    time,
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

    fn zone_for(&self, tzid: &str) -> ZoneRef<'_> {
        if let Some(def) = self.find(tzid) {
            if let Some(rules) = &def.rules {
                return ZoneRef::Rules(rules, def.iana);
            }
            if let Some(tz) = def.iana {
                return ZoneRef::Iana(tz);
            }
        }
        match named_zone(tzid) {
            Some(tz) => ZoneRef::Iana(tz),
            None => ZoneRef::Unknown,
        }
    }
}

impl ZoneRef<'_> {
    /// The UTC instant of a local time in this zone; None for an unknown zone.
    fn to_utc(self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let offset = match self {
            ZoneRef::Rules(rules, _) => rules.offset_for_local(local),
            ZoneRef::Iana(tz) => iana_offset_for_local(tz, local)?,
            ZoneRef::Unknown => return None,
        };
        add_seconds(local, -i64::from(offset)).map(|utc| utc.and_utc())
    }

    fn name(self, tzid: &str) -> String {
        match self {
            ZoneRef::Rules(_, Some(tz)) | ZoneRef::Iana(tz) => tz.name().to_string(),
            ZoneRef::Rules(_, None) | ZoneRef::Unknown => tzid.to_string(),
        }
    }
}

/// The UTC offset (seconds east) of a local time in an IANA zone, RFC 5545 3.3.5 style.
fn iana_offset_for_local(tz: Tz, local: NaiveDateTime) -> Option<i32> {
    if let Some(instant) = tz.from_local_datetime(&local).earliest() {
        return Some(instant.offset().fix().local_minus_utc());
    }
    // A gap: use the offset in force a day before (no zone changes twice within a day).
    let before = local.checked_sub_signed(TimeDelta::try_days(1)?)?;
    Some(tz.offset_from_utc_datetime(&before).fix().local_minus_utc())
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

impl YearlyRule {
    /// The latest occurrence at or before `local` (and not before `start`, nor after UNTIL).
    fn latest(&self, start: NaiveDateTime, local: NaiveDateTime) -> Option<NaiveDateTime> {
        let limit = match self.until {
            Some(until) => local.min(until),
            None => local,
        };
        if limit < start {
            return None;
        }
        let interval = self.interval.max(1);
        let mut year = limit.year();
        year -= (year - start.year()).rem_euclid(interval);
        for _ in 0..SEARCH_BACK_STEPS {
            if year < start.year() {
                break;
            }
            let mut found: Option<NaiveDateTime> = None;
            self.each_in_year(year, start, |occurrence| {
                if occurrence >= start && occurrence <= limit {
                    found = found.max(Some(occurrence));
                }
            });
            if found.is_some() {
                return found;
            }
            year -= interval;
        }
        None
    }

    /// Calls `f` with every occurrence of the rule in `year` (unordered, not filtered by start).
    fn each_in_year(&self, year: i32, start: NaiveDateTime, mut f: impl FnMut(NaiveDateTime)) {
        let time = start.time();
        let months = if self.months != 0 {
            self.months
        } else if !self.bymonthday.is_empty() {
            0b1_1111_1111_1110 // YEARLY with BYMONTHDAY and no BYMONTH: every month
        } else {
            1 << start.month()
        };
        for month in 1..=12u32 {
            if months & (1 << month) == 0 {
                continue;
            }
            let Some(last) = last_day_of_month(year, month) else {
                continue;
            };
            let mut emit = |day: u32| {
                if let Some(date) = NaiveDate::from_ymd_opt(year, month, day) {
                    f(date.and_time(time));
                }
            };
            if !self.byday.is_empty() {
                let Some(first_weekday) = NaiveDate::from_ymd_opt(year, month, 1)
                    .map(|d| d.weekday().num_days_from_monday())
                else {
                    continue;
                };
                for &(n, weekday) in &self.byday {
                    // The first day of the month that falls on `weekday`.
                    let first = 1 + (weekday.num_days_from_monday() + 7 - first_weekday) % 7;
                    // How many of them the month has (4 or 5), and the last one.
                    let count = (last - first) / 7 + 1;
                    let chosen: Option<u32> = match n {
                        0 => {
                            for day in (first..=last).step_by(7) {
                                if self.monthday_allows(day, last) {
                                    emit(day);
                                }
                            }
                            continue;
                        }
                        n => {
                            let index = if n > 0 {
                                u32::try_from(n - 1).ok()
                            } else {
                                u32::try_from(-n)
                                    .ok()
                                    .and_then(|back| count.checked_sub(back))
                            };
                            index.filter(|i| *i < count).map(|i| first + 7 * i)
                        }
                    };
                    if let Some(day) = chosen.filter(|day| self.monthday_allows(*day, last)) {
                        emit(day);
                    }
                }
            } else if !self.bymonthday.is_empty() {
                for day in 1..=last {
                    if self.bymonthday.contains(day, last) {
                        emit(day);
                    }
                }
            } else {
                emit(start.day());
            }
        }
    }

    fn monthday_allows(&self, day: u32, last: u32) -> bool {
        self.bymonthday.is_empty() || self.bymonthday.contains(day, last)
    }

    /// An upper bound on the steps [`Self::each_in_year`] takes, for the COUNT budget.
    fn year_cost(&self) -> u32 {
        let months = if self.months == 0 {
            12
        } else {
            self.months.count_ones()
        };
        let per_month = if self.byday.is_empty() {
            31
        } else {
            u32::try_from(self.byday.len())
                .unwrap_or(u32::MAX)
                .saturating_mul(5)
        };
        months.saturating_mul(per_month)
    }
}

fn last_day_of_month(year: i32, month: u32) -> Option<u32> {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year.checked_add(1)?, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    next.pred_opt().map(|d| d.day())
}

// ---------------------------------------------------------------------------------------------
// VTIMEZONE parsing (once per calendar)
// ---------------------------------------------------------------------------------------------

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

fn parse_rrule(
    text: &str,
    start: NaiveDateTime,
    from: i32,
    budget: &mut u32,
) -> Result<YearlyRule, Unsupported> {
    let mut yearly = false;
    let mut rule = YearlyRule {
        interval: 1,
        months: 0,
        byday: Vec::new(),
        bymonthday: MonthDays::default(),
        until: None,
    };
    let mut count: Option<u64> = None;
    for part in text.trim().split(';').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or(Unsupported)?;
        let key = key.trim();
        let value = value.trim();
        if key.eq_ignore_ascii_case("FREQ") {
            yearly = value.eq_ignore_ascii_case("YEARLY");
        } else if key.eq_ignore_ascii_case("INTERVAL") {
            rule.interval = value
                .parse::<i32>()
                .ok()
                .filter(|i| (1..=1000).contains(i))
                .ok_or(Unsupported)?;
        } else if key.eq_ignore_ascii_case("BYMONTH") {
            for item in value.split(',') {
                let month: u32 = item.trim().parse().map_err(|_| Unsupported)?;
                if !(1..=12).contains(&month) {
                    return Err(Unsupported);
                }
                rule.months |= 1 << month;
            }
        } else if key.eq_ignore_ascii_case("BYDAY") {
            for item in value.split(',') {
                if rule.byday.len() >= MAX_RULE_LIST {
                    return Err(Unsupported);
                }
                rule.byday
                    .push(parse_byday(item.trim()).ok_or(Unsupported)?);
            }
        } else if key.eq_ignore_ascii_case("BYMONTHDAY") {
            for item in value.split(',') {
                let day: i32 = item
                    .trim()
                    .trim_start_matches('+')
                    .parse()
                    .map_err(|_| Unsupported)?;
                rule.bymonthday.insert(day).ok_or(Unsupported)?;
            }
        } else if key.eq_ignore_ascii_case("UNTIL") {
            let until = match parse_value(value, false).map_err(|_| Unsupported)? {
                Parsed::Date(date) => date.and_hms_opt(23, 59, 59).ok_or(Unsupported)?,
                Parsed::Local(local) => local,
                Parsed::Utc(utc) => add_seconds(utc, i64::from(from)).ok_or(Unsupported)?,
            };
            rule.until = Some(until);
        } else if key.eq_ignore_ascii_case("COUNT") {
            count = Some(value.parse::<u64>().map_err(|_| Unsupported)?);
        } else if key.eq_ignore_ascii_case("WKST") || !key.get(..2).is_some_and(is_by) {
            // WKST does not change yearly month-based rules; unknown non-BY parts are extensions.
        } else {
            // BYSETPOS, BYYEARDAY, BYWEEKNO, BYHOUR, ...: not used by VTIMEZONE writers we know.
            return Err(Unsupported);
        }
    }
    if !yearly {
        return Err(Unsupported);
    }
    if rule.months == 0 && !rule.byday.is_empty() {
        return Err(Unsupported); // "nth weekday of the year"
    }
    if let Some(count) = count {
        let end = count_end(&rule, start, count, budget)?;
        rule.until = match (rule.until, end) {
            (Some(until), Some(end)) => Some(until.min(end)),
            (until, end) => until.or(end),
        };
    }
    Ok(rule)
}

fn is_by(prefix: &str) -> bool {
    prefix.eq_ignore_ascii_case("BY")
}

/// The last onset of a COUNT-bounded rule (DTSTART counts as the first), or None when the count
/// outlasts [`COUNT_HORIZON_YEAR`]. Spends `budget` (see [`COUNT_BUDGET`]).
fn count_end(
    rule: &YearlyRule,
    start: NaiveDateTime,
    count: u64,
    budget: &mut u32,
) -> Result<Option<NaiveDateTime>, Unsupported> {
    if count == 0 {
        return Err(Unsupported);
    }
    let mut remaining = count - 1;
    if remaining == 0 {
        return Ok(Some(start));
    }
    let mut year = start.year();
    let mut occurrences: Vec<NaiveDateTime> = Vec::new();
    while year <= COUNT_HORIZON_YEAR {
        *budget = budget
            .checked_sub(rule.year_cost().saturating_add(1))
            .ok_or(Unsupported)?;
        occurrences.clear();
        rule.each_in_year(year, start, |occurrence| {
            if occurrence > start && rule.until.is_none_or(|until| occurrence <= until) {
                occurrences.push(occurrence);
            }
        });
        let spent = u32::try_from(occurrences.len()).unwrap_or(u32::MAX);
        *budget = budget.checked_sub(spent).ok_or(Unsupported)?;
        occurrences.sort_unstable();
        occurrences.dedup();
        let in_year = occurrences.len() as u64;
        if in_year >= remaining {
            let index = usize::try_from(remaining - 1).map_err(|_| Unsupported)?;
            return occurrences.get(index).copied().map(Some).ok_or(Unsupported);
        }
        remaining -= in_year;
        if rule.until.is_some_and(|until| until.year() < year) {
            return Ok(None); // UNTIL ends it first
        }
        year += rule.interval.max(1);
    }
    Ok(None)
}

fn parse_byday(text: &str) -> Option<(i32, Weekday)> {
    let split = text.len().checked_sub(2)?;
    let (ordinal, day) = (text.get(..split)?, text.get(split..)?);
    const DAYS: [(&str, Weekday); 7] = [
        ("MO", Weekday::Mon),
        ("TU", Weekday::Tue),
        ("WE", Weekday::Wed),
        ("TH", Weekday::Thu),
        ("FR", Weekday::Fri),
        ("SA", Weekday::Sat),
        ("SU", Weekday::Sun),
    ];
    let weekday = DAYS
        .iter()
        .find(|(code, _)| code.eq_ignore_ascii_case(day))
        .map(|(_, weekday)| *weekday)?;
    let n = match ordinal.trim_start_matches('+') {
        "" => 0,
        digits => digits
            .parse::<i32>()
            .ok()
            .filter(|n| *n != 0 && n.abs() <= 53)?,
    };
    Some((n, weekday))
}

/// "+0200", "-0800", "+013952", "+05:30"; seconds east of UTC.
fn parse_offset(text: &str) -> Option<i32> {
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

// ---------------------------------------------------------------------------------------------
// Values and durations
// ---------------------------------------------------------------------------------------------

/// DATE "YYYYMMDD", DATE-TIME "YYYYMMDDTHHMMSS" with an optional "Z". A leap second (60) is read as
/// 59. With VALUE=DATE, a DATE-TIME's date part is taken (clients do mislabel).
fn parse_value(value: &str, value_is_date: bool) -> Result<Parsed, TimeError> {
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
struct Duration {
    days: i64,
    seconds: i64,
}

/// RFC 5545 3.3.6, leniently: the week form may be combined with days and time ("P1W2D").
fn parse_duration(text: &str) -> Result<Duration, TimeError> {
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

fn add_seconds(naive: NaiveDateTime, seconds: i64) -> Option<NaiveDateTime> {
    naive.checked_add_signed(TimeDelta::try_seconds(seconds)?)
}

/// Nominal days on a wall-clock time: the same time of day, `days` calendar days later.
fn add_nominal_days(naive: NaiveDateTime, days: i64) -> Option<NaiveDateTime> {
    naive.checked_add_signed(TimeDelta::try_days(days)?)
}

// ---------------------------------------------------------------------------------------------
// Zone names: IANA (chrono-tz) and Windows (windows-timezones, CLDR)
// ---------------------------------------------------------------------------------------------

fn prop_value<'c>(component: &'c Component<'_>, name: &str) -> Option<&'c str> {
    component
        .properties
        .iter()
        .find(|prop: &&Property<'_>| prop.name.as_str().eq_ignore_ascii_case(name))
        .map(|prop| prop.val.as_str())
}

/// RFC 5545 3.3.11 TEXT escapes: `\\,` `\\;` `\\\\` `\\n`.
fn unescape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push(' '),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Trims whitespace and one pair of surrounding double quotes.
fn clean_name(name: &str) -> &str {
    let name = name.trim();
    name.strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .map_or(name, str::trim)
}

/// The IANA zone a TZID names: IANA (whole, then each `/`-suffix), then Windows.
fn named_zone(name: &str) -> Option<Tz> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> EventTime {
        EventTime::Utc(
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ")
                .expect("test literal")
                .and_utc(),
        )
    }

    fn floating(text: &str) -> EventTime {
        EventTime::Floating(
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").expect("test literal"),
        )
    }

    fn date(text: &str) -> EventTime {
        EventTime::Date(NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test literal"))
    }

    fn resolved(time: EventTime, zone: Option<&str>) -> Resolved {
        Resolved {
            time,
            zone: zone.map(str::to_string),
        }
    }

    /// Builds a table from VTIMEZONE text (CRLF or LF, folded or not).
    fn table(ics: &str) -> ZoneTable {
        timed_table(ics).0
    }

    /// The table and the time `from_components` took (the icalendar parse is not counted).
    fn timed_table(ics: &str) -> (ZoneTable, std::time::Duration) {
        let text =
            format!("BEGIN:VCALENDAR\nVERSION:2.0\n{ics}\nEND:VCALENDAR\n").replace("\r\n", "\n");
        let unfolded = icalendar::parser::unfold(&text);
        let calendar = icalendar::parser::read_calendar(&unfolded).expect("test calendar parses");
        let started = std::time::Instant::now();
        let zones = ZoneTable::from_components(&calendar.components);
        (zones, started.elapsed())
    }

    fn at(table: &ZoneTable, value: &str, tzid: &str) -> Resolved {
        table.resolve(value, Some(tzid), false).expect("resolves")
    }

    const OUTLOOK_W_EUROPE: &str = "BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE";

    const OUTLOOK_FLE: &str = "BEGIN:VTIMEZONE
TZID:FLE Standard Time
BEGIN:STANDARD
DTSTART:16010101T040000
TZOFFSETFROM:+0300
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0300
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE";

    /// Thunderbird's full historical Europe/Helsinki (corpus: thunderbird/message-non-invite.eml).
    const HELSINKI: &str = "BEGIN:VTIMEZONE
TZID:Europe/Helsinki
TZURL:http://tzurl.org/zoneinfo/Europe/Helsinki
X-LIC-LOCATION:Europe/Helsinki
BEGIN:DAYLIGHT
TZOFFSETFROM:+0200
TZOFFSETTO:+0300
TZNAME:EEST
DTSTART:19830327T030000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0300
TZOFFSETTO:+0200
TZNAME:EET
DTSTART:19961027T040000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
BEGIN:STANDARD
TZOFFSETFROM:+013952
TZOFFSETTO:+013952
TZNAME:HMT
DTSTART:18780531T000000
RDATE:18780531T000000
END:STANDARD
BEGIN:STANDARD
TZOFFSETFROM:+013952
TZOFFSETTO:+0200
TZNAME:EET
DTSTART:19210501T000000
RDATE:19210501T000000
END:STANDARD
BEGIN:DAYLIGHT
TZOFFSETFROM:+0200
TZOFFSETTO:+0300
TZNAME:EEST
DTSTART:19420403T000000
RDATE:19420403T000000
RDATE:19810329T020000
RDATE:19820328T020000
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0300
TZOFFSETTO:+0200
TZNAME:EET
DTSTART:19421003T000000
RDATE:19421003T000000
RDATE:19810927T030000
RDATE:19820926T030000
RDATE:19830925T040000
RDATE:19840930T040000
RDATE:19850929T040000
RDATE:19860928T040000
RDATE:19870927T040000
RDATE:19880925T040000
RDATE:19890924T040000
RDATE:19900930T040000
RDATE:19910929T040000
RDATE:19920927T040000
RDATE:19930926T040000
RDATE:19940925T040000
RDATE:19950924T040000
END:STANDARD
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0200
TZNAME:EET
DTSTART:19830101T000000
RDATE:19830101T000000
END:STANDARD
END:VTIMEZONE";

    const US_PACIFIC: &str = "BEGIN:VTIMEZONE
TZID:US/Pacific
BEGIN:DAYLIGHT
TZOFFSETFROM:-0800
TZOFFSETTO:-0700
DTSTART:20070311T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
TZNAME:PDT
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0700
TZOFFSETTO:-0800
DTSTART:20071104T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
TZNAME:PST
END:STANDARD
END:VTIMEZONE";

    /// Outlook's Sydney zone: daylight time spans the new year (southern hemisphere).
    const OUTLOOK_AUS_EASTERN: &str = "BEGIN:VTIMEZONE
TZID:AUS Eastern Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+1100
TZOFFSETTO:+1000
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=4
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+1000
TZOFFSETTO:+1100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=10
END:DAYLIGHT
END:VTIMEZONE";

    // ----- plain values -----------------------------------------------------------------------

    #[test]
    fn utc_floating_and_date_values() {
        let empty = ZoneTable::default();
        assert_eq!(
            empty.resolve("20261201T100000Z", None, false),
            Ok(resolved(utc("2026-12-01T10:00:00Z"), None))
        );
        // Z wins over any TZID.
        assert_eq!(
            empty.resolve("20261201T100000Z", Some("Europe/Berlin"), false),
            Ok(resolved(utc("2026-12-01T10:00:00Z"), None))
        );
        assert_eq!(
            empty.resolve("20261201T100000", None, false),
            Ok(resolved(floating("2026-12-01T10:00:00"), None))
        );
        assert_eq!(
            empty.resolve("20261201T100000", Some("  "), false),
            Ok(resolved(floating("2026-12-01T10:00:00"), None))
        );
        assert_eq!(
            empty.resolve("20261224", None, true),
            Ok(resolved(date("2026-12-24"), None))
        );
        // 8 digits is a DATE even without VALUE=DATE, and a DATE ignores its TZID.
        assert_eq!(
            empty.resolve("20261224", Some("Europe/Berlin"), false),
            Ok(resolved(date("2026-12-24"), None))
        );
        // VALUE=DATE with a DATE-TIME written: the date part.
        assert_eq!(
            empty.resolve("20261224T000000", None, true),
            Ok(resolved(date("2026-12-24"), None))
        );
        // Surrounding whitespace and lower-case t/z are tolerated; a leap second reads as :59.
        assert_eq!(
            empty.resolve(" 20261201t100000z ", None, false),
            Ok(resolved(utc("2026-12-01T10:00:00Z"), None))
        );
        assert_eq!(
            empty.resolve("20261231T235960Z", None, false),
            Ok(resolved(utc("2026-12-31T23:59:59Z"), None))
        );
    }

    #[test]
    fn malformed_values_are_bad_value() {
        let empty = ZoneTable::default();
        for value in [
            "",
            "2026",
            "2026120",
            "202612011",
            "20261301",
            "20260230",
            "20261201T",
            "20261201T1000",
            "20261201T100000ZZ",
            "20261201X100000",
            "20261201T250000",
            "20261201T106000",
            "2026-12-01",
            "2026-12-01T10:00:00Z",
            "+2026120",
            "20261201T10000Z",
            "20261201T١٠٠٠٠٠",
            "２０２６１２０１",
        ] {
            assert_eq!(
                empty.resolve(value, Some("Europe/Berlin"), false),
                Err(TimeError::BadValue(value.to_string())),
                "{value:?}"
            );
        }
        assert_eq!(
            TimeError::BadValue("x".into()).to_string(),
            "not an iCalendar date or date-time: \"x\""
        );
    }

    // ----- VTIMEZONE rules --------------------------------------------------------------------

    #[test]
    fn outlook_w_europe_1601_rules() {
        let zones = table(OUTLOOK_W_EUROPE);
        let tz = "W. Europe Standard Time";
        // python3: datetime(2026,7,1,10,tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
        assert_eq!(
            at(&zones, "20260701T100000", tz),
            resolved(utc("2026-07-01T08:00:00Z"), Some("Europe/Berlin"))
        );
        assert_eq!(
            at(&zones, "20261201T100000", tz),
            resolved(utc("2026-12-01T09:00:00Z"), Some("Europe/Berlin"))
        );
        // Around the 2026 transitions (29 Mar, 25 Oct).
        assert_eq!(
            at(&zones, "20260329T015959", tz).time,
            utc("2026-03-29T00:59:59Z")
        );
        assert_eq!(
            at(&zones, "20260329T030000", tz).time,
            utc("2026-03-29T01:00:00Z")
        );
        assert_eq!(
            at(&zones, "20261025T033000", tz).time,
            utc("2026-10-25T02:30:00Z")
        );
        // January 1601 itself and a year far ahead.
        assert_eq!(
            at(&zones, "16010101T000000", tz).time,
            utc("1600-12-31T23:00:00Z")
        );
        assert_eq!(
            at(&zones, "20990615T120000", tz).time,
            utc("2099-06-15T10:00:00Z")
        );
    }

    #[test]
    fn outlook_southern_hemisphere() {
        let zones = table(OUTLOOK_AUS_EASTERN);
        let tz = "AUS Eastern Standard Time";
        // python3 zoneinfo Australia/Sydney.
        assert_eq!(
            at(&zones, "20260115T090000", tz),
            resolved(utc("2026-01-14T22:00:00Z"), Some("Australia/Sydney"))
        );
        assert_eq!(
            at(&zones, "20260715T090000", tz).time,
            utc("2026-07-14T23:00:00Z")
        );
        assert_eq!(
            at(&zones, "20261231T235959", tz).time,
            utc("2026-12-31T12:59:59Z")
        );
    }

    #[test]
    fn outlook_fle_standard_time() {
        // corpus: thunderbird/outlook-test-invite.eml
        let zones = table(OUTLOOK_FLE);
        let tz = "FLE Standard Time";
        let summer = at(&zones, "20260615T090000", tz);
        assert_eq!(summer.time, utc("2026-06-15T06:00:00Z"));
        // The CLDR map sends FLE Standard Time to Kyiv/Kiev (whichever the data spells).
        let zone = summer.zone.expect("Windows name maps to IANA");
        assert!(zone == "Europe/Kiev" || zone == "Europe/Kyiv", "{zone}");
        assert_eq!(
            at(&zones, "20261215T090000", tz).time,
            utc("2026-12-15T07:00:00Z")
        );
    }

    #[test]
    fn helsinki_history_with_rdates_and_seconds_offset() {
        let zones = table(HELSINKI);
        let tz = "Europe/Helsinki";
        // corpus event: 2021-11-29 10:55 EET
        assert_eq!(
            at(&zones, "20211129T105500", tz),
            resolved(utc("2021-11-29T08:55:00Z"), Some("Europe/Helsinki"))
        );
        assert_eq!(
            at(&zones, "20210701T120000", tz).time,
            utc("2021-07-01T09:00:00Z")
        );
        // Helsinki Mean Time as this VTIMEZONE writes it, +01:39:52 (tzdata today says +01:39:49,
        // python3 zoneinfo gives 10:20:11Z: the sender's rules win).
        assert_eq!(
            at(&zones, "19000601T120000", tz).time,
            utc("1900-06-01T10:20:08Z")
        );
        // Before the first onset: its TZOFFSETFROM.
        assert_eq!(
            at(&zones, "18000101T000000", tz).time,
            utc("1799-12-31T22:20:08Z")
        );
        // 1942 daylight by RDATE (1942-04-03 .. 1942-10-03).
        assert_eq!(
            at(&zones, "19420701T120000", tz).time,
            utc("1942-07-01T09:00:00Z")
        );
        assert_eq!(
            at(&zones, "19500701T120000", tz).time,
            utc("1950-07-01T10:00:00Z")
        );
        // 1990: daylight by RRULE (from 1983), standard by RDATE 1990-09-30 04:00.
        assert_eq!(
            at(&zones, "19900915T120000", tz).time,
            utc("1990-09-15T09:00:00Z")
        );
        assert_eq!(
            at(&zones, "19901015T120000", tz).time,
            utc("1990-10-15T10:00:00Z")
        );
        // 1996 on: standard by RRULE, last Sunday of October.
        assert_eq!(
            at(&zones, "19961020T120000", tz).time,
            utc("1996-10-20T09:00:00Z")
        );
        assert_eq!(
            at(&zones, "19961028T120000", tz).time,
            utc("1996-10-28T10:00:00Z")
        );
    }

    #[test]
    fn only_standard_no_dst() {
        let zones = table(
            "BEGIN:VTIMEZONE
TZID:India Standard Time
BEGIN:STANDARD
DTSTART:16010101T000000
TZOFFSETFROM:+0530
TZOFFSETTO:+0530
END:STANDARD
END:VTIMEZONE",
        );
        let r = at(&zones, "20260701T100000", "India Standard Time");
        assert_eq!(r.time, utc("2026-07-01T04:30:00Z"));
        let zone = r.zone.expect("mapped");
        assert!(zone == "Asia/Calcutta" || zone == "Asia/Kolkata", "{zone}");
    }

    #[test]
    fn custom_tzid_answered_by_its_vtimezone() {
        let zones = table(
            "BEGIN:VTIMEZONE
TZID:Company HQ Time
BEGIN:STANDARD
DTSTART:19701101T020000
TZOFFSETFROM:-0700
TZOFFSETTO:-0800
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700308T020000
TZOFFSETFROM:-0800
TZOFFSETTO:-0700
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
END:VTIMEZONE",
        );
        assert_eq!(
            at(&zones, "20260701T100000", "Company HQ Time"),
            resolved(utc("2026-07-01T17:00:00Z"), Some("Company HQ Time"))
        );
        assert_eq!(
            at(&zones, "20261201T100000", "Company HQ Time"),
            resolved(utc("2026-12-01T18:00:00Z"), Some("Company HQ Time"))
        );
        // TZIDs match case-insensitively as a fallback.
        assert_eq!(
            at(&zones, "20261201T100000", "company hq time").time,
            utc("2026-12-01T18:00:00Z")
        );
    }

    #[test]
    fn escaped_display_name_tzid_matches_its_parameter() {
        // Outlook writes the display name as TZID; in the TZID property commas are escaped.
        let zones = table(
            "BEGIN:VTIMEZONE
TZID:(UTC+01:00) Amsterdam\\, Berlin\\, Bern\\, Rome\\, Stockholm\\, Vienna
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE",
        );
        assert_eq!(zones.zones.len(), 1);
        assert!(zones.zones.iter().all(|zone| zone.rules.is_some()));
        assert_eq!(
            at(
                &zones,
                "20260701T100000",
                "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna"
            ),
            resolved(utc("2026-07-01T08:00:00Z"), Some("Europe/Berlin"))
        );
        assert_eq!(unescape_text(r"a\,b\;c\\d\ne\"), "a,b;c\\d e\\");
    }

    #[test]
    fn vtimezone_rules_win_over_the_iana_database() {
        // A sender whose client still thinks Berlin is UTC+3 all year: we follow the sender.
        let zones = table(
            "BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:STANDARD
DTSTART:19700101T000000
TZOFFSETFROM:+0300
TZOFFSETTO:+0300
END:STANDARD
END:VTIMEZONE",
        );
        assert_eq!(
            at(&zones, "20261201T100000", "Europe/Berlin"),
            resolved(utc("2026-12-01T07:00:00Z"), Some("Europe/Berlin"))
        );
    }

    #[test]
    fn x_lic_location_names_the_zone() {
        let zones = table(
            "BEGIN:VTIMEZONE
TZID:/citadel.org/20190914_1/Some Label
X-LIC-LOCATION:America/New_York
BEGIN:STANDARD
DTSTART:19701101T020000
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700308T020000
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
END:VTIMEZONE",
        );
        assert_eq!(
            at(
                &zones,
                "20260701T100000",
                "/citadel.org/20190914_1/Some Label"
            ),
            resolved(utc("2026-07-01T14:00:00Z"), Some("America/New_York"))
        );
    }

    #[test]
    fn unsupported_rules_fall_back_to_the_name() {
        // FREQ=MONTHLY is not evaluated: the TZID (an IANA name) answers instead.
        let zones = table(
            "BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:STANDARD
DTSTART:19700101T000000
TZOFFSETFROM:+0500
TZOFFSETTO:+0500
RRULE:FREQ=MONTHLY;BYMONTHDAY=1
END:STANDARD
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:Strange Place
X-LIC-LOCATION:Asia/Tokyo
BEGIN:STANDARD
DTSTART:19700101T000000
TZOFFSETFROM:+0500
TZOFFSETTO:+0500
RRULE:FREQ=YEARLY;BYWEEKNO=20
END:STANDARD
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:Nowhere Special
BEGIN:STANDARD
DTSTART:19700101T000000
TZOFFSETTO:+0500
RRULE:FREQ=YEARLY;BYSETPOS=1
END:STANDARD
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:No Offsets
BEGIN:STANDARD
DTSTART:19700101T000000
END:STANDARD
END:VTIMEZONE",
        );
        assert_eq!(
            at(&zones, "20261201T100000", "Europe/Berlin"),
            resolved(utc("2026-12-01T09:00:00Z"), Some("Europe/Berlin"))
        );
        assert_eq!(
            at(&zones, "20261201T100000", "Strange Place"),
            resolved(utc("2026-12-01T01:00:00Z"), Some("Asia/Tokyo"))
        );
        assert_eq!(
            at(&zones, "20261201T100000", "Nowhere Special"),
            resolved(floating("2026-12-01T10:00:00"), Some("Nowhere Special"))
        );
        assert_eq!(
            at(&zones, "20261201T100000", "No Offsets"),
            resolved(floating("2026-12-01T10:00:00"), Some("No Offsets"))
        );
    }

    #[test]
    fn rrule_until_count_and_bymonthday() {
        // An old US rule (last Sunday of April / October) ended by UNTIL in 2006, COUNT-bounded
        // rule pieces, and the "Sunday on or after the 8th" BYMONTHDAY form.
        let zones = table(
            "BEGIN:VTIMEZONE
TZID:Test/Eastern
BEGIN:DAYLIGHT
DTSTART:19870405T020000
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU;UNTIL=20060402T070000Z
END:DAYLIGHT
BEGIN:STANDARD
DTSTART:19671029T020000
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU;UNTIL=20061029T060000Z
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:20070311T020000
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=SU;BYMONTHDAY=8,9,10,11,12,13,14
END:DAYLIGHT
BEGIN:STANDARD
DTSTART:20071104T020000
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE",
        );
        let tz = "Test/Eastern";
        // python3 zoneinfo America/New_York for each.
        // 2006: DST 2 Apr .. 29 Oct.
        assert_eq!(
            at(&zones, "20060315T120000", tz).time,
            utc("2006-03-15T17:00:00Z")
        );
        assert_eq!(
            at(&zones, "20060415T120000", tz).time,
            utc("2006-04-15T16:00:00Z")
        );
        assert_eq!(
            at(&zones, "20061101T120000", tz).time,
            utc("2006-11-01T17:00:00Z")
        );
        // 2026: DST 8 Mar .. 1 Nov; 2 Apr 2026 would have been DST under old rules too.
        assert_eq!(
            at(&zones, "20260307T120000", tz).time,
            utc("2026-03-07T17:00:00Z")
        );
        assert_eq!(
            at(&zones, "20260309T120000", tz).time,
            utc("2026-03-09T16:00:00Z")
        );
        assert_eq!(
            at(&zones, "20261030T120000", tz).time,
            utc("2026-10-30T16:00:00Z")
        );
        assert_eq!(
            at(&zones, "20261102T120000", tz).time,
            utc("2026-11-02T17:00:00Z")
        );

        // COUNT: DST in 2000, 2001, 2002 only (last Sunday of March .. last Sunday of October).
        let counted = table(
            "BEGIN:VTIMEZONE
TZID:Counted
BEGIN:DAYLIGHT
DTSTART:20000326T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU;COUNT=3
END:DAYLIGHT
BEGIN:STANDARD
DTSTART:20001029T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU;COUNT=3
END:STANDARD
END:VTIMEZONE",
        );
        assert_eq!(
            at(&counted, "20020701T120000", "Counted").time,
            utc("2002-07-01T10:00:00Z")
        );
        assert_eq!(
            at(&counted, "20030701T120000", "Counted").time,
            utc("2003-07-01T11:00:00Z")
        );
        assert_eq!(
            at(&counted, "19990701T120000", "Counted").time,
            utc("1999-07-01T11:00:00Z")
        );

        // BYMONTHDAY alone: fixed-date transitions (1 April / 1 October), every other year.
        let fixed = table(
            "BEGIN:VTIMEZONE
TZID:Fixed Dates
BEGIN:DAYLIGHT
DTSTART:20000401T000000
TZOFFSETFROM:+0000
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=2;BYMONTH=4;BYMONTHDAY=1
END:DAYLIGHT
BEGIN:STANDARD
DTSTART:20001001T000000
TZOFFSETFROM:+0100
TZOFFSETTO:+0000
RRULE:FREQ=YEARLY;BYMONTH=10;BYMONTHDAY=-31
END:STANDARD
END:VTIMEZONE",
        );
        assert_eq!(
            at(&fixed, "20260501T120000", "Fixed Dates").time,
            utc("2026-05-01T11:00:00Z")
        );
        // 2027 is not a DST year (INTERVAL=2).
        assert_eq!(
            at(&fixed, "20270501T120000", "Fixed Dates").time,
            utc("2027-05-01T12:00:00Z")
        );
    }

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
    fn dst_gap_and_overlap_in_vtimezone_rules() {
        let zones = table(US_PACIFIC);
        let tz = "US/Pacific";
        // corpus: ccs/good_reply.eml, 2008-08-12 10:00 PDT.
        assert_eq!(
            at(&zones, "20080812T100000", tz),
            resolved(utc("2008-08-12T17:00:00Z"), Some("US/Pacific"))
        );
        // Gap (2026-03-08 02:00 -> 03:00): 02:30 uses the offset before the gap, = 03:30 PDT.
        assert_eq!(
            at(&zones, "20260308T023000", tz).time,
            utc("2026-03-08T10:30:00Z")
        );
        assert_eq!(
            at(&zones, "20260308T015959", tz).time,
            utc("2026-03-08T09:59:59Z")
        );
        assert_eq!(
            at(&zones, "20260308T030000", tz).time,
            utc("2026-03-08T10:00:00Z")
        );
        // Overlap (2026-11-01 02:00 PDT -> 01:00 PST): 01:30 is the first (PDT) occurrence.
        assert_eq!(
            at(&zones, "20261101T013000", tz).time,
            utc("2026-11-01T08:30:00Z")
        );
        assert_eq!(
            at(&zones, "20261101T020000", tz).time,
            utc("2026-11-01T10:00:00Z")
        );
        assert_eq!(
            at(&zones, "20261101T005959", tz).time,
            utc("2026-11-01T07:59:59Z")
        );
    }

    // ----- names without VTIMEZONE ------------------------------------------------------------

    #[test]
    fn iana_without_vtimezone() {
        let empty = ZoneTable::default();
        assert_eq!(
            at(&empty, "20261201T100000", "Europe/Berlin"),
            resolved(utc("2026-12-01T09:00:00Z"), Some("Europe/Berlin"))
        );
        assert_eq!(
            at(&empty, "20260701T100000", "Europe/Berlin").time,
            utc("2026-07-01T08:00:00Z")
        );
        // America/New_York across DST (2026-03-08, 2026-11-01).
        assert_eq!(
            at(&empty, "20260307T090000", "America/New_York"),
            resolved(utc("2026-03-07T14:00:00Z"), Some("America/New_York"))
        );
        assert_eq!(
            at(&empty, "20260309T090000", "America/New_York").time,
            utc("2026-03-09T13:00:00Z")
        );
        // Gap and overlap as RFC 5545 3.3.5 says.
        assert_eq!(
            at(&empty, "20260308T023000", "America/New_York").time,
            utc("2026-03-08T07:30:00Z")
        );
        assert_eq!(
            at(&empty, "20261101T013000", "America/New_York").time,
            utc("2026-11-01T05:30:00Z")
        );
        // Legacy alias, case-insensitive, quoted, Etc.
        assert_eq!(
            at(&empty, "20260701T100000", "US/Pacific"),
            resolved(utc("2026-07-01T17:00:00Z"), Some("US/Pacific"))
        );
        assert_eq!(
            at(&empty, "20260701T100000", "europe/berlin"),
            resolved(utc("2026-07-01T08:00:00Z"), Some("Europe/Berlin"))
        );
        assert_eq!(
            at(&empty, "20260701T100000", "\"Asia/Kolkata\""),
            resolved(utc("2026-07-01T04:30:00Z"), Some("Asia/Kolkata"))
        );
        assert_eq!(
            at(&empty, "20260701T100000", "UTC"),
            resolved(utc("2026-07-01T10:00:00Z"), Some("UTC"))
        );
        assert_eq!(
            at(&empty, "20260701T100000", "america/new york"),
            resolved(utc("2026-07-01T14:00:00Z"), Some("America/New_York"))
        );
        assert_eq!(
            at(&empty, "20260701T100000", "Asia/Kathmandu").time,
            utc("2026-07-01T04:15:00Z")
        );
    }

    #[test]
    fn prefixed_tzids() {
        let empty = ZoneTable::default();
        for tzid in [
            "/mozilla.org/20050126_1/Europe/Berlin",
            "/mozilla.org/20070129_1/Europe/Berlin",
            "/softwarestudio.org/Olson_20011030_5/Europe/Berlin",
            "/freeassociation.sourceforge.net/Tzfile/Europe/Berlin",
            "/freeassociation.sourceforge.net/Europe/Berlin",
        ] {
            assert_eq!(
                at(&empty, "20261201T100000", tzid),
                resolved(utc("2026-12-01T09:00:00Z"), Some("Europe/Berlin")),
                "{tzid}"
            );
        }
        assert_eq!(
            at(
                &empty,
                "20260701T100000",
                "/softwarestudio.org/Olson_20011030_5/America/Argentina/Buenos_Aires"
            ),
            resolved(
                utc("2026-07-01T13:00:00Z"),
                Some("America/Argentina/Buenos_Aires")
            )
        );
        assert_eq!(
            at(
                &empty,
                "20260701T100000",
                "tzone://Microsoft/Pacific Standard Time"
            ),
            resolved(utc("2026-07-01T17:00:00Z"), Some("America/Los_Angeles"))
        );
    }

    #[test]
    fn windows_names_without_vtimezone() {
        let empty = ZoneTable::default();
        // python3 zoneinfo: America/Los_Angeles, America/New_York, Asia/Tokyo.
        assert_eq!(
            at(&empty, "20260701T100000", "Pacific Standard Time"),
            resolved(utc("2026-07-01T17:00:00Z"), Some("America/Los_Angeles"))
        );
        assert_eq!(
            at(&empty, "20261201T100000", "Pacific Standard Time").time,
            utc("2026-12-01T18:00:00Z")
        );
        assert_eq!(
            at(&empty, "20260701T100000", "Eastern Standard Time"),
            resolved(utc("2026-07-01T14:00:00Z"), Some("America/New_York"))
        );
        assert_eq!(
            at(&empty, "20261201T100000", "Eastern Standard Time").time,
            utc("2026-12-01T15:00:00Z")
        );
        assert_eq!(
            at(&empty, "20260701T100000", "Tokyo Standard Time"),
            resolved(utc("2026-07-01T01:00:00Z"), Some("Asia/Tokyo"))
        );
        assert_eq!(
            at(&empty, "20260701T100000", "W. Europe Standard Time"),
            resolved(utc("2026-07-01T08:00:00Z"), Some("Europe/Berlin"))
        );
        assert_eq!(
            at(&empty, "20260701T100000", "GMT Standard Time"),
            resolved(utc("2026-07-01T09:00:00Z"), Some("Europe/London"))
        );
        // Case and spacing do not matter.
        assert_eq!(
            at(&empty, "20260701T100000", "pacific  standard time").time,
            utc("2026-07-01T17:00:00Z")
        );
    }

    #[test]
    fn windows_display_names() {
        let empty = ZoneTable::default();
        for tzid in [
            "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna",
            "(UTC+01:00)  Amsterdam,Berlin, Bern, Rome, Stockholm, Vienna ",
            "(GMT+01.00) Amsterdam / Berlin / Bern / Rome / Stockholm / Vienna",
        ] {
            assert_eq!(
                at(&empty, "20261201T100000", tzid),
                resolved(utc("2026-12-01T09:00:00Z"), Some("Europe/Berlin")),
                "{tzid}"
            );
        }
        assert_eq!(
            at(
                &empty,
                "20260701T100000",
                "(UTC-08:00) Pacific Time (US & Canada)"
            ),
            resolved(utc("2026-07-01T17:00:00Z"), Some("America/Los_Angeles"))
        );
        assert_eq!(
            at(
                &empty,
                "20260701T100000",
                "(UTC-05:00) Eastern Time (US & Canada)"
            ),
            resolved(utc("2026-07-01T14:00:00Z"), Some("America/New_York"))
        );
        assert_eq!(
            at(
                &empty,
                "20260701T100000",
                "(UTC+09:00) Osaka, Sapporo, Tokyo"
            ),
            resolved(utc("2026-07-01T01:00:00Z"), Some("Asia/Tokyo"))
        );
    }

    #[test]
    fn every_windows_zone_resolves_by_name_and_description() {
        let empty = ZoneTable::default();
        for zone in WindowsTimezone::iter() {
            let tz = Tz::from(zone);
            assert_eq!(windows_zone(zone.name()), Some(tz), "{}", zone.name());
            let by_name = at(&empty, "20260701T100000", zone.name());
            assert!(matches!(by_name.time, EventTime::Utc(_)), "{}", zone.name());
            // Descriptions are unique except where two Windows zones share one; then both map to
            // zones with the same rules today, so checking an offset is enough.
            let by_description = windows_zone(zone.description()).expect("description maps");
            let probe = NaiveDate::from_ymd_opt(2026, 7, 1)
                .and_then(|d| d.and_hms_opt(10, 0, 0))
                .expect("literal");
            assert_eq!(
                iana_offset_for_local(by_description, probe),
                iana_offset_for_local(tz, probe),
                "{}",
                zone.description()
            );
        }
    }

    #[test]
    fn unknown_tzid_is_floating_with_the_tzid() {
        let empty = ZoneTable::default();
        assert_eq!(
            at(&empty, "20261201T100000", "Mars/Olympus_Mons"),
            resolved(floating("2026-12-01T10:00:00"), Some("Mars/Olympus_Mons"))
        );
        assert_eq!(
            at(&empty, "20261201T100000", "Customized Time Zone"),
            resolved(
                floating("2026-12-01T10:00:00"),
                Some("Customized Time Zone")
            )
        );
        let long = "x/".repeat(1000);
        assert_eq!(
            at(&empty, "20261201T100000", &long),
            resolved(floating("2026-12-01T10:00:00"), Some(long.as_str()))
        );
    }

    // ----- durations --------------------------------------------------------------------------

    #[test]
    fn durations() {
        let berlin = table(OUTLOOK_W_EUROPE);
        let empty = ZoneTable::default();
        let tz = Some("W. Europe Standard Time");
        // P1D across the 2026-03-29 change: 24 local hours apart, 23 real hours.
        assert_eq!(
            berlin.add_duration("20260328T100000", tz, false, "P1D"),
            Ok(resolved(utc("2026-03-29T08:00:00Z"), Some("Europe/Berlin")))
        );
        // PT24H across it is exact.
        assert_eq!(
            berlin.add_duration("20260328T100000", tz, false, "PT24H"),
            Ok(resolved(utc("2026-03-29T09:00:00Z"), Some("Europe/Berlin")))
        );
        // Same through the IANA path.
        assert_eq!(
            empty.add_duration("20261031T100000", Some("America/New_York"), false, "P1D"),
            Ok(resolved(
                utc("2026-11-01T15:00:00Z"),
                Some("America/New_York")
            ))
        );
        assert_eq!(
            berlin.add_duration("20261201T100000", tz, false, "PT1H30M"),
            Ok(resolved(utc("2026-12-01T10:30:00Z"), Some("Europe/Berlin")))
        );
        assert_eq!(
            berlin.add_duration("20261201T100000", tz, false, "P1W"),
            Ok(resolved(utc("2026-12-08T09:00:00Z"), Some("Europe/Berlin")))
        );
        assert_eq!(
            berlin.add_duration("20261201T100000", tz, false, "-PT15M"),
            Ok(resolved(utc("2026-12-01T08:45:00Z"), Some("Europe/Berlin")))
        );
        assert_eq!(
            berlin.add_duration("20261201T100000", tz, false, "P1DT2H"),
            Ok(resolved(utc("2026-12-02T11:00:00Z"), Some("Europe/Berlin")))
        );
        assert_eq!(
            empty.add_duration("20261201T100000Z", None, false, "PT45S"),
            Ok(resolved(utc("2026-12-01T10:00:45Z"), None))
        );
        assert_eq!(
            empty.add_duration("20261201T100000", None, false, "P1DT1H"),
            Ok(resolved(floating("2026-12-02T11:00:00"), None))
        );
        assert_eq!(
            empty.add_duration("20261201T100000", Some("Nowhere"), false, "PT1H"),
            Ok(resolved(floating("2026-12-01T11:00:00"), Some("Nowhere")))
        );
        // DATE + P1D is a DATE; across a year end; a time part adds whole days only.
        assert_eq!(
            empty.add_duration("20261224", None, true, "P1D"),
            Ok(resolved(date("2026-12-25"), None))
        );
        assert_eq!(
            empty.add_duration("20261231", Some("Europe/Berlin"), false, "P1W"),
            Ok(resolved(date("2027-01-07"), None))
        );
        assert_eq!(
            empty.add_duration("20261224", None, true, "PT25H"),
            Ok(resolved(date("2026-12-25"), None))
        );
        assert_eq!(
            empty.add_duration("20261224", None, true, "+P2D"),
            Ok(resolved(date("2026-12-26"), None))
        );
    }

    #[test]
    fn bad_durations() {
        let empty = ZoneTable::default();
        for bad in [
            "",
            "P",
            "PT",
            "1D",
            "P1",
            "PT1D",
            "P1H",
            "P1DT",
            "PDT1H",
            "P-1D",
            "P1D2",
            "P1.5D",
            "P99999999999D",
            "PT1H30",
            "P1DT1HT1M",
            "--P1D",
        ] {
            assert_eq!(
                empty.add_duration("20261201T100000Z", None, false, bad),
                Err(TimeError::BadDuration(bad.to_string())),
                "{bad:?}"
            );
        }
        assert_eq!(
            empty.add_duration("2026120", None, false, "P1D"),
            Err(TimeError::BadValue("2026120".to_string()))
        );
        // A huge but well-formed duration overflows chrono's range: an error, not a panic.
        assert!(
            empty
                .add_duration("99991231", None, true, "P1000000000W")
                .is_err()
        );
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

    // ----- hostile input ----------------------------------------------------------------------

    #[test]
    fn hostile_count_finishes_fast_and_stays_correct() {
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
        let (zones, built) = timed_table(ics.trim_end());
        let started = std::time::Instant::now();
        for i in 0..MAX_ZONES + 10 {
            let _ = at(&zones, "99991231T235959", &format!("Hostile {i}"));
            let _ = at(&zones, "20260701T120000", &format!("Hostile {i}"));
        }
        let resolving = started.elapsed();
        // Generous bounds for an unoptimized build on a busy machine.
        assert!(built < std::time::Duration::from_millis(500), "{built:?}");
        assert!(
            resolving < std::time::Duration::from_millis(500),
            "{resolving:?}"
        );
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
    fn hostile_rdates_finish_fast() {
        let mut rdates = String::new();
        for day in 0..5_000u32 {
            let date = NaiveDate::from_ymd_opt(1900, 1, 1)
                .and_then(|d| d.checked_add_days(chrono::Days::new(u64::from(day))))
                .expect("in range");
            rdates.push_str(&format!("RDATE:{}T020000\n", date.format("%Y%m%d")));
        }
        let (zones, built) = timed_table(&format!(
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
        assert!(built < std::time::Duration::from_millis(200), "{built:?}");

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
            let _ = parse_offset(&text);
            let _ = parse_byday(&text);
        }
    }

    #[test]
    fn yearly_rule_days() {
        let rule = |byday: Vec<(i32, Weekday)>, monthdays: Vec<i32>| {
            let mut bymonthday = MonthDays::default();
            for day in monthdays {
                bymonthday.insert(day).expect("valid month day");
            }
            YearlyRule {
                interval: 1,
                months: 1 << 3,
                byday,
                bymonthday,
                until: None,
            }
        };
        let start = NaiveDate::from_ymd_opt(1970, 3, 1)
            .and_then(|d| d.and_hms_opt(2, 0, 0))
            .expect("literal");
        let days = |rule: &YearlyRule, year: i32| {
            let mut days = Vec::new();
            rule.each_in_year(year, start, |dt| days.push(dt.day()));
            days.sort_unstable();
            days
        };
        // March 2026: Sundays are 1, 8, 15, 22, 29.
        assert_eq!(days(&rule(vec![(-1, Weekday::Sun)], vec![]), 2026), [29]);
        assert_eq!(days(&rule(vec![(2, Weekday::Sun)], vec![]), 2026), [8]);
        assert_eq!(days(&rule(vec![(5, Weekday::Sun)], vec![]), 2026), [29]);
        assert_eq!(
            days(&rule(vec![(6, Weekday::Sun)], vec![]), 2026),
            [0u32; 0]
        );
        assert_eq!(days(&rule(vec![(-5, Weekday::Sun)], vec![]), 2026), [1]);
        assert_eq!(
            days(&rule(vec![(0, Weekday::Sun)], vec![]), 2026),
            [1, 8, 15, 22, 29]
        );
        assert_eq!(
            days(&rule(vec![(0, Weekday::Sun)], (8..=14).collect()), 2026),
            [8]
        );
        assert_eq!(days(&rule(vec![], vec![-1, 1]), 2026), [1, 31]);
        assert_eq!(days(&rule(vec![], vec![-31, 30, -2]), 2026), [1, 30]);
        assert_eq!(
            days(
                &rule(vec![(0, Weekday::Sun)], vec![-7, -6, -5, -4, -3, -2, -1]),
                2026
            ),
            [29]
        );
        assert_eq!(days(&rule(vec![], vec![]), 2026), [1]);
        assert_eq!(days(&rule(vec![(1, Weekday::Mon)], vec![]), 2026), [2]);
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
