//! An RRULE value read by RFC 5545 section 3.3.10's grammar. The rule is published as written
//! (subscribers expand it); what is checked here is that it is one: a rule we cannot read would be
//! read differently by every subscriber, so it is refused rather than passed on.

use super::value::parse_value;
use super::yearly_rule::parse_byday;

const FREQUENCIES: [&str; 7] = [
    "SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY",
];

/// `Err` says which part is wrong.
pub fn check_rrule(text: &str) -> Result<(), String> {
    let mut seen: Vec<&str> = Vec::new();
    for part in text.trim().split(';') {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not NAME=value"))?;
        let name_upper = name.to_ascii_uppercase();
        if seen
            .iter()
            .any(|seen| seen.eq_ignore_ascii_case(&name_upper))
        {
            return Err(format!("{name} twice"));
        }
        seen.push(name);
        let valid = match name_upper.as_str() {
            "FREQ" => FREQUENCIES
                .iter()
                .any(|frequency| frequency.eq_ignore_ascii_case(value)),
            "UNTIL" => parse_value(value, !value.contains(['T', 't'])).is_ok(),
            "COUNT" | "INTERVAL" => value.parse::<u32>().is_ok_and(|n| n > 0),
            "BYSECOND" => each(value, |n| in_range(n, 0, 60, false)),
            "BYMINUTE" => each(value, |n| in_range(n, 0, 59, false)),
            "BYHOUR" => each(value, |n| in_range(n, 0, 23, false)),
            "BYMONTHDAY" => each(value, |n| in_range(n, 1, 31, true)),
            "BYYEARDAY" => each(value, |n| in_range(n, 1, 366, true)),
            "BYWEEKNO" => each(value, |n| in_range(n, 1, 53, true)),
            "BYMONTH" => each(value, |n| in_range(n, 1, 12, false)),
            "BYSETPOS" => each(value, |n| in_range(n, 1, 366, true)),
            "BYDAY" => value.split(',').all(|day| parse_byday(day).is_some()),
            "WKST" => parse_byday(value).is_some_and(|(ordinal, _)| ordinal == 0),
            // x-name (RFC 5545 3.3.10 allows extensions); their values are not ours to read.
            other => other.starts_with("X-"),
        };
        if !valid {
            return Err(format!("{name}={value}"));
        }
    }
    if !seen.iter().any(|name| name.eq_ignore_ascii_case("FREQ")) {
        return Err("no FREQ".into());
    }
    let has = |wanted: &str| seen.iter().any(|name| name.eq_ignore_ascii_case(wanted));
    if has("UNTIL") && has("COUNT") {
        return Err("both UNTIL and COUNT".into());
    }
    Ok(())
}

fn each(list: &str, valid: impl Fn(&str) -> bool) -> bool {
    list.split(',').all(valid)
}

/// `[+/-]n` with `min <= |n| <= max`; a sign only where `signed`.
fn in_range(text: &str, min: i32, max: i32, signed: bool) -> bool {
    let digits = if signed {
        text.strip_prefix(['+', '-']).unwrap_or(text)
    } else {
        text
    };
    !digits.is_empty()
        && digits.bytes().all(|byte| byte.is_ascii_digit())
        && digits
            .parse::<i32>()
            .is_ok_and(|n| (min..=max).contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_clients_write_are_read() {
        for rule in [
            "FREQ=WEEKLY;BYDAY=MO,WE,FR",
            "FREQ=WEEKLY;WKST=SU;UNTIL=20270331T215959Z;INTERVAL=2;BYDAY=TU",
            "FREQ=MONTHLY;BYDAY=-1FR;COUNT=10",
            "FREQ=MONTHLY;BYMONTHDAY=-1",
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
            "FREQ=DAILY;UNTIL=20271231",
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            "freq=weekly;byday=mo",
            "FREQ=WEEKLY;X-NAME=anything",
        ] {
            assert_eq!(check_rrule(rule), Ok(()), "{rule}");
        }
    }

    #[test]
    fn what_is_not_a_rule_is_said() {
        for rule in [
            "",
            "BYDAY=MO",
            "FREQ=FORTNIGHTLY",
            "FREQ=WEEKLY;FREQ=DAILY",
            "FREQ=WEEKLY;COUNT=0",
            "FREQ=WEEKLY;COUNT=3;UNTIL=20270101T000000Z",
            "FREQ=WEEKLY;UNTIL=2027-01-01",
            "FREQ=WEEKLY;BYDAY=XX",
            "FREQ=MONTHLY;BYMONTHDAY=32",
            "FREQ=WEEKLY;BYHOUR=-1",
            "FREQ=WEEKLY;WKST=1MO",
            "FREQ=WEEKLY;BYDAY",
            "FREQ=WEEKLY;SOMETHING=1",
        ] {
            assert!(check_rrule(rule).is_err(), "{rule:?} passed");
        }
    }
}
