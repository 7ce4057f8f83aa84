//! The FREQ=YEARLY rules of VTIMEZONE observances (the only frequency zone definitions use):
//! parsed once, then stepped a year at a time around the instant asked about, never from
//! DTSTART (Outlook writes 1601) onward. Hostile rules are capped (list lengths, COUNT budget).
//!
//! Every rule part real zone definitions carry is evaluated: BYMONTH, BYDAY, BYMONTHDAY,
//! BYYEARDAY, BYHOUR / BYMINUTE / BYSECOND (Lotus Notes and Domino write `BYHOUR=2;BYMINUTE=0`),
//! BYSETPOS, INTERVAL, COUNT and UNTIL (local or UTC). BYWEEKNO and other frequencies are not:
//! such a zone falls through to its name, or refuses the calendar (see `vtimezone`).

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};

use super::value::{Parsed, add_seconds, parse_value};

/// Entries in one BYDAY / BYMONTHDAY / BYYEARDAY / BYSETPOS list.
const MAX_RULE_LIST: usize = 31;
/// Times of day one rule may name (BYHOUR x BYMINUTE x BYSECOND); a zone changes once a day at most.
const MAX_TIMES_OF_DAY: usize = 24;
/// How many candidate years an RRULE is searched back for its latest onset.
const SEARCH_BACK_STEPS: u32 = 10;
/// Steps of COUNT expansion allowed per calendar, all zones together: per year expanded, the
/// rule's worst-case step count plus one per occurrence found (a "last Sunday of October" rule
/// expanded from 1601 to the horizon costs about 12,000).
pub(crate) const COUNT_BUDGET: u32 = 200_000;
/// A COUNT still not exhausted by this year is treated as unbounded.
const COUNT_HORIZON_YEAR: i32 = 2600;

/// Why a VTIMEZONE's rules were not evaluated (internal; the zone then falls through by name).
#[derive(Debug)]
pub(crate) struct Unsupported;

/// A FREQ=YEARLY rule, the only frequency VTIMEZONEs use in practice.
#[derive(Debug, Clone)]
pub(crate) struct YearlyRule {
    interval: i32,
    /// Bit m set for month m (1..=12).
    months: u16,
    /// (n, weekday): n = 0 every such weekday of the month, n > 0 the nth, n < 0 the nth from the end.
    byday: Vec<(i32, Weekday)>,
    bymonthday: MonthDays,
    /// Days of the year, 1..=366 from the start or -1..=-366 from the end.
    byyearday: Vec<i32>,
    /// The times of day of each occurrence, sorted: from BYHOUR / BYMINUTE / BYSECOND, the parts
    /// not given taken from DTSTART. Empty means DTSTART's time.
    times: Vec<NaiveTime>,
    /// BYSETPOS: which occurrences of each year's set are kept (1-based; negative from the end).
    setpos: Vec<i32>,
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

impl YearlyRule {
    /// The latest occurrence at or before `local` (and not before `start`, nor after UNTIL).
    pub(crate) fn latest(
        &self,
        start: NaiveDateTime,
        local: NaiveDateTime,
    ) -> Option<NaiveDateTime> {
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

    /// Calls `f` with every occurrence of the rule in `year` (unordered unless BYSETPOS picks
    /// among them, not filtered by start).
    fn each_in_year(&self, year: i32, start: NaiveDateTime, mut f: impl FnMut(NaiveDateTime)) {
        if self.setpos.is_empty() {
            return self.each_candidate_in_year(year, start, f);
        }
        let mut set = Vec::new();
        self.each_candidate_in_year(year, start, |occurrence| set.push(occurrence));
        set.sort_unstable();
        set.dedup();
        for &position in &self.setpos {
            let index = if position > 0 {
                usize::try_from(position - 1).ok()
            } else {
                usize::try_from(position.unsigned_abs())
                    .ok()
                    .and_then(|back| set.len().checked_sub(back))
            };
            if let Some(occurrence) = index.and_then(|index| set.get(index)) {
                f(*occurrence);
            }
        }
    }

    /// Every day and time the BY parts allow in `year`, before BYSETPOS.
    fn each_candidate_in_year(
        &self,
        year: i32,
        start: NaiveDateTime,
        mut f: impl FnMut(NaiveDateTime),
    ) {
        let start_time = [start.time()];
        let times: &[NaiveTime] = if self.times.is_empty() {
            &start_time
        } else {
            &self.times
        };
        let mut emit_on = |date: NaiveDate| {
            for time in times {
                f(date.and_time(*time));
            }
        };
        if !self.byyearday.is_empty() {
            return self.each_year_day(year, emit_on);
        }
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
                    emit_on(date);
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

    /// BYYEARDAY's days, filtered by BYMONTH, BYMONTHDAY and (plain) BYDAY weekdays.
    fn each_year_day(&self, year: i32, mut emit_on: impl FnMut(NaiveDate)) {
        let Some(days_in_year) = NaiveDate::from_ymd_opt(year, 12, 31).map(|d| d.ordinal()) else {
            return;
        };
        for &yearday in &self.byyearday {
            let ordinal = if yearday > 0 {
                yearday.unsigned_abs()
            } else {
                match (days_in_year + 1).checked_sub(yearday.unsigned_abs()) {
                    Some(ordinal) => ordinal,
                    None => continue,
                }
            };
            let Some(date) = NaiveDate::from_yo_opt(year, ordinal) else {
                continue;
            };
            let month_ok = self.months == 0 || self.months & (1 << date.month()) != 0;
            let weekday_ok = self.byday.is_empty()
                || self
                    .byday
                    .iter()
                    .any(|(_, weekday)| *weekday == date.weekday());
            let last = last_day_of_month(year, date.month()).unwrap_or(31);
            if month_ok && weekday_ok && self.monthday_allows(date.day(), last) {
                emit_on(date);
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
        let days = if self.byyearday.is_empty() {
            months.saturating_mul(per_month)
        } else {
            u32::try_from(self.byyearday.len()).unwrap_or(u32::MAX)
        };
        let times = u32::try_from(self.times.len().max(1)).unwrap_or(u32::MAX);
        days.saturating_mul(times)
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

pub(crate) fn parse_rrule(
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
        byyearday: Vec::new(),
        times: Vec::new(),
        setpos: Vec::new(),
        until: None,
    };
    let mut count: Option<u64> = None;
    let (mut hours, mut minutes, mut seconds) = (Vec::new(), Vec::new(), Vec::new());
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
        } else if key.eq_ignore_ascii_case("BYYEARDAY") {
            rule.byyearday = rule_list(value, 1..=366)?;
        } else if key.eq_ignore_ascii_case("BYSETPOS") {
            rule.setpos = rule_list(value, 1..=366)?;
        } else if key.eq_ignore_ascii_case("BYHOUR") {
            hours = time_part_list(value, 23)?;
        } else if key.eq_ignore_ascii_case("BYMINUTE") {
            minutes = time_part_list(value, 59)?;
        } else if key.eq_ignore_ascii_case("BYSECOND") {
            // 60 is a leap second; a zone cannot change in one, so it reads as 59.
            seconds = time_part_list(value, 60)?;
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
            // BYWEEKNO and unknown BY parts: not used by VTIMEZONE writers we know.
            return Err(Unsupported);
        }
    }
    if !yearly {
        return Err(Unsupported);
    }
    if rule.months == 0 && !rule.byday.is_empty() && rule.byyearday.is_empty() {
        return Err(Unsupported); // "nth weekday of the year"
    }
    if !rule.byyearday.is_empty() && rule.byday.iter().any(|(n, _)| *n != 0) {
        return Err(Unsupported); // RFC 5545: no BYDAY ordinal beside BYYEARDAY
    }
    rule.times = times_of_day(start.time(), &hours, &minutes, &seconds)?;
    if let Some(count) = count {
        let end = count_end(&rule, start, count, budget)?;
        rule.until = match (rule.until, end) {
            (Some(until), Some(end)) => Some(until.min(end)),
            (until, end) => until.or(end),
        };
    }
    Ok(rule)
}

/// A comma-separated list of non-zero integers whose magnitude is in `magnitudes`.
fn rule_list(
    value: &str,
    magnitudes: std::ops::RangeInclusive<u32>,
) -> Result<Vec<i32>, Unsupported> {
    let mut list = Vec::new();
    for item in value.split(',') {
        if list.len() >= MAX_RULE_LIST {
            return Err(Unsupported);
        }
        let n: i32 = item
            .trim()
            .trim_start_matches('+')
            .parse()
            .map_err(|_| Unsupported)?;
        if !magnitudes.contains(&n.unsigned_abs()) {
            return Err(Unsupported);
        }
        list.push(n);
    }
    Ok(list)
}

/// A BYHOUR / BYMINUTE / BYSECOND list: integers in 0..=max.
fn time_part_list(value: &str, max: u32) -> Result<Vec<u32>, Unsupported> {
    let mut list = Vec::new();
    for item in value.split(',') {
        if list.len() >= MAX_RULE_LIST {
            return Err(Unsupported);
        }
        let n: u32 = item.trim().parse().map_err(|_| Unsupported)?;
        if n > max {
            return Err(Unsupported);
        }
        list.push(n);
    }
    Ok(list)
}

/// Every time of day the BYHOUR x BYMINUTE x BYSECOND lists name, a part not given taken from
/// DTSTART; empty when none is given.
fn times_of_day(
    start: NaiveTime,
    hours: &[u32],
    minutes: &[u32],
    seconds: &[u32],
) -> Result<Vec<NaiveTime>, Unsupported> {
    if hours.is_empty() && minutes.is_empty() && seconds.is_empty() {
        return Ok(Vec::new());
    }
    let or_start = |list: &[u32], own: u32| {
        if list.is_empty() {
            vec![own]
        } else {
            list.to_vec()
        }
    };
    let (hours, minutes, seconds) = (
        or_start(hours, start.hour()),
        or_start(minutes, start.minute()),
        or_start(seconds, start.second()),
    );
    if hours.len() * minutes.len() * seconds.len() > MAX_TIMES_OF_DAY {
        return Err(Unsupported);
    }
    let mut times = Vec::new();
    for hour in &hours {
        for minute in &minutes {
            for second in &seconds {
                let time = NaiveTime::from_hms_opt(*hour, *minute, (*second).min(59))
                    .ok_or(Unsupported)?;
                times.push(time);
            }
        }
    }
    times.sort_unstable();
    times.dedup();
    Ok(times)
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

pub(crate) fn parse_byday(text: &str) -> Option<(i32, Weekday)> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
                byyearday: Vec::new(),
                times: Vec::new(),
                setpos: Vec::new(),
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

    /// The onsets a rule gives in `year`, sorted, as "MM-DD HH:MM:SS".
    fn onsets(rrule: &str, start: &str, year: i32) -> Vec<String> {
        let start = NaiveDateTime::parse_from_str(start, "%Y%m%dT%H%M%S").expect("literal");
        let mut budget = COUNT_BUDGET;
        let rule = parse_rrule(rrule, start, 0, &mut budget).expect("supported");
        let mut found = Vec::new();
        rule.each_in_year(year, start, |onset| found.push(onset));
        found.sort_unstable();
        found
            .iter()
            .map(|onset| onset.format("%m-%d %H:%M:%S").to_string())
            .collect()
    }

    #[test]
    fn the_rule_parts_zone_writers_use_are_evaluated() {
        // Lotus Notes / Domino: the time of day repeated as BYHOUR and BYMINUTE.
        assert_eq!(
            onsets(
                "FREQ=YEARLY;BYMINUTE=0;BYHOUR=2;BYDAY=-1SU;BYMONTH=3",
                "19700329T020000",
                2027
            ),
            ["03-28 02:00:00"]
        );
        // BYHOUR that differs from DTSTART's time wins over it.
        assert_eq!(
            onsets(
                "FREQ=YEARLY;BYHOUR=3;BYDAY=-1SU;BYMONTH=10",
                "19701025T020000",
                2027
            ),
            ["10-31 03:00:00"]
        );
        assert_eq!(
            onsets(
                "FREQ=YEARLY;BYHOUR=1,2;BYMINUTE=30;BYSECOND=60;BYDAY=1SU;BYMONTH=4",
                "19700405T020000",
                2027
            ),
            ["04-04 01:30:59", "04-04 02:30:59"]
        );
        // BYSETPOS picks from the year's set: the last Sunday of March, the first of November.
        assert_eq!(
            onsets(
                "FREQ=YEARLY;BYMONTH=3;BYDAY=SU;BYSETPOS=-1",
                "19700329T020000",
                2027
            ),
            ["03-28 02:00:00"]
        );
        assert_eq!(
            onsets(
                "FREQ=YEARLY;BYMONTH=3,11;BYDAY=SU;BYSETPOS=1,-1",
                "19700308T020000",
                2027
            ),
            ["03-07 02:00:00", "11-28 02:00:00"]
        );
        // BYYEARDAY, from either end, filtered by BYMONTH and weekdays.
        assert_eq!(
            onsets("FREQ=YEARLY;BYYEARDAY=80,-1", "19700321T000000", 2027),
            ["03-21 00:00:00", "12-31 00:00:00"]
        );
        assert_eq!(
            onsets(
                "FREQ=YEARLY;BYYEARDAY=80,-1;BYMONTH=12",
                "19700321T000000",
                2028
            ),
            ["12-31 00:00:00"]
        );
        assert_eq!(
            onsets(
                "FREQ=YEARLY;BYYEARDAY=1,2,3,4,5,6,7;BYDAY=SU",
                "19700104T000000",
                2027
            ),
            ["01-03 00:00:00"]
        );
    }

    #[test]
    fn rule_parts_outside_their_ranges_are_not_evaluated() {
        let start =
            NaiveDateTime::parse_from_str("19700329T020000", "%Y%m%dT%H%M%S").expect("literal");
        for bad in [
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU;BYHOUR=24",
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU;BYMINUTE=60",
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU;BYSECOND=61",
            "FREQ=YEARLY;BYMONTH=3;BYDAY=SU;BYSETPOS=0",
            "FREQ=YEARLY;BYYEARDAY=367",
            "FREQ=YEARLY;BYYEARDAY=1;BYDAY=1SU",
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU;BYHOUR=0,1,2,3,4,5;BYMINUTE=0,1,2,3,4",
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU;BYWEEKNO=13",
            "FREQ=MONTHLY;BYDAY=-1SU",
        ] {
            let mut budget = COUNT_BUDGET;
            assert!(parse_rrule(bad, start, 0, &mut budget).is_err(), "{bad}");
        }
    }

    #[test]
    fn byday_codes() {
        assert_eq!(parse_byday("-1SU"), Some((-1, Weekday::Sun)));
        assert_eq!(parse_byday("+2mo"), Some((2, Weekday::Mon)));
        assert_eq!(parse_byday("TH"), Some((0, Weekday::Thu)));
        for bad in ["", "S", "0SU", "54SU", "-54SU", "1XX", "é", "1é"] {
            assert_eq!(parse_byday(bad), None, "{bad:?}");
        }
    }
}
