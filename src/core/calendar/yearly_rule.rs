//! The FREQ=YEARLY rules of VTIMEZONE observances (the only frequency zone definitions use):
//! parsed once, then stepped a year at a time around the instant asked about, never from
//! DTSTART (Outlook writes 1601) onward. Hostile rules are capped (list lengths, COUNT budget).

use chrono::{Datelike, NaiveDate, NaiveDateTime, Weekday};

use super::value::{Parsed, add_seconds, parse_value};

/// Entries in one BYDAY / BYMONTHDAY list.
const MAX_RULE_LIST: usize = 31;
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
    fn byday_codes() {
        assert_eq!(parse_byday("-1SU"), Some((-1, Weekday::Sun)));
        assert_eq!(parse_byday("+2mo"), Some((2, Weekday::Mon)));
        assert_eq!(parse_byday("TH"), Some((0, Weekday::Thu)));
        for bad in ["", "S", "0SU", "54SU", "-54SU", "1XX", "é", "1é"] {
            assert_eq!(parse_byday(bad), None, "{bad:?}");
        }
    }
}
