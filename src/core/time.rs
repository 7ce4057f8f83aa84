//! DATE / DATE-TIME values to `EventTime`. Interim version: UTC, floating, dates and IANA zone
//! names through chrono-tz; VTIMEZONE rules and Windows zone names arrive with the full module.

use chrono::{Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use icalendar::parser::Component;

use super::model::EventTime;

pub struct ZoneTable {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub time: EventTime,
    pub zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("not an iCalendar date or date-time: {0:?}")]
    BadValue(String),
    #[error("not an iCalendar duration: {0:?}")]
    BadDuration(String),
}

impl ZoneTable {
    pub fn from_components(_components: &[Component<'_>]) -> ZoneTable {
        ZoneTable {}
    }

    pub fn resolve(
        &self,
        value: &str,
        tzid: Option<&str>,
        value_is_date: bool,
    ) -> Result<Resolved, TimeError> {
        let value = value.trim();
        let bad = || TimeError::BadValue(value.to_owned());
        if value_is_date || value.len() == 8 {
            let date = NaiveDate::parse_from_str(value.get(..8).ok_or_else(bad)?, "%Y%m%d")
                .map_err(|_| bad())?;
            return Ok(Resolved {
                time: EventTime::Date(date),
                zone: None,
            });
        }
        if let Some(utc) = value.strip_suffix('Z') {
            let naive = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
            return Ok(Resolved {
                time: EventTime::Utc(naive.and_utc()),
                zone: None,
            });
        }
        let naive = NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
        let Some(tzid) = tzid else {
            return Ok(Resolved {
                time: EventTime::Floating(naive),
                zone: None,
            });
        };
        match tzid.parse::<chrono_tz::Tz>() {
            Ok(zone) => {
                let instant = match zone.from_local_datetime(&naive) {
                    LocalResult::Single(instant) | LocalResult::Ambiguous(instant, _) => instant,
                    LocalResult::None => zone
                        .from_local_datetime(&(naive + Duration::hours(1)))
                        .earliest()
                        .ok_or_else(bad)?,
                };
                Ok(Resolved {
                    time: EventTime::Utc(instant.with_timezone(&chrono::Utc)),
                    zone: Some(zone.name().to_owned()),
                })
            }
            Err(_) => Ok(Resolved {
                time: EventTime::Floating(naive),
                zone: Some(tzid.to_owned()),
            }),
        }
    }

    pub fn add_duration(
        &self,
        start_value: &str,
        tzid: Option<&str>,
        value_is_date: bool,
        duration: &str,
    ) -> Result<Resolved, TimeError> {
        let _ = (start_value, tzid, value_is_date);
        Err(TimeError::BadDuration(duration.to_owned()))
    }
}
