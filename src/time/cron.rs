//! Cron expressions, matched against *local wall-clock* times.
//!
//! We parse cron ourselves instead of using tokio-cron-scheduler's parser
//! because the scheduler library evaluates expressions with a frozen UTC
//! offset (its issue #87). Here an expression only answers "does this local
//! date-time match, and which is the next one that does"; turning local times
//! into instants (DST gaps and repeats) is `time::zoned`'s job.
//!
//! Accepted forms: 5 fields (`min hour dom month dow`, seconds = 0) or 6 fields
//! (`sec min hour dom month dow`), lists, ranges, steps, `*`, `?`, month and
//! weekday names, `7` as Sunday, and the macros `@yearly`, `@monthly`,
//! `@weekly`, `@daily`, `@hourly`. Day-of-month and day-of-week combine the
//! classic way: when both are restricted, a day matches if *either* does.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use std::fmt;
use std::str::FromStr;

/// A parsed cron expression.
#[derive(Clone, PartialEq, Eq)]
pub struct Cron {
    source: String,
    seconds: u64,
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    dom_restricted: bool,
    dow_restricted: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid cron expression {expr:?}: {reason}")]
pub struct CronError {
    pub expr: String,
    pub reason: String,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const SECOND: Field = Field {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
};
const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Field = Field {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
// Sunday is 0 (and 7).
const DOW: Field = Field {
    name: "day of week",
    min: 0,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};

impl Field {
    fn value(&self, text: &str) -> Result<u32, String> {
        if let Some(pos) = self.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
            return Ok(pos as u32 + self.min);
        }
        let v: u32 = text
            .parse()
            .map_err(|_| format!("{} field: {text:?} is not a number", self.name))?;
        if v < self.min || v > self.max {
            return Err(format!(
                "{} field: {v} is outside {}-{}",
                self.name, self.min, self.max
            ));
        }
        Ok(v)
    }

    /// Parses one field into a bit set; returns (bits, restricted).
    fn parse(&self, text: &str) -> Result<(u64, bool), String> {
        if text.is_empty() {
            return Err(format!("{} field is empty", self.name));
        }
        let mut bits = 0u64;
        let mut restricted = true;
        for part in text.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => {
                    let step: u32 = s
                        .parse()
                        .map_err(|_| format!("{} field: step {s:?} is not a number", self.name))?;
                    if step == 0 {
                        return Err(format!("{} field: step must be at least 1", self.name));
                    }
                    (r, step)
                }
                None => (part, 1),
            };
            let (lo, hi) = if range == "*" || range == "?" {
                if step == 1 && text.split(',').count() == 1 {
                    restricted = false;
                }
                (self.min, self.max)
            } else if let Some((a, b)) = range.split_once('-') {
                let (a, b) = (self.value(a)?, self.value(b)?);
                if a > b {
                    return Err(format!(
                        "{} field: range {range:?} runs backwards",
                        self.name
                    ));
                }
                (a, b)
            } else {
                let a = self.value(range)?;
                // `5/15` means "from 5, every 15".
                if part.contains('/') {
                    (a, self.max)
                } else {
                    (a, a)
                }
            };
            let mut v = lo;
            while v <= hi {
                bits |= 1 << v;
                v += step;
            }
        }
        Ok((bits, restricted))
    }
}

impl FromStr for Cron {
    type Err = CronError;

    fn from_str(expr: &str) -> Result<Self, CronError> {
        let err = |reason: String| CronError {
            expr: expr.to_string(),
            reason,
        };
        let trimmed = expr.trim();
        let expanded = match trimmed.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *".to_string(),
            "@monthly" => "0 0 1 * *".to_string(),
            "@weekly" => "0 0 * * 0".to_string(),
            "@daily" | "@midnight" => "0 0 * * *".to_string(),
            "@hourly" => "0 * * * *".to_string(),
            other if other.starts_with('@') => return Err(err(format!("unknown macro {other:?}"))),
            _ => trimmed.to_string(),
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let (sec, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => {
                return Err(err(format!(
                    "expected 5 fields (min hour day month weekday) or 6 (with seconds first), found {n}"
                )))
            }
        };
        let (seconds, _) = SECOND.parse(sec).map_err(err)?;
        let (minutes, _) = MINUTE.parse(rest[0]).map_err(err)?;
        let (hours, _) = HOUR.parse(rest[1]).map_err(err)?;
        let (days_of_month, dom_restricted) = DOM.parse(rest[2]).map_err(err)?;
        let (months, _) = MONTH.parse(rest[3]).map_err(err)?;
        let (mut days_of_week, dow_restricted) = DOW.parse(rest[4]).map_err(err)?;
        if days_of_week & (1 << 7) != 0 {
            days_of_week |= 1; // 7 is Sunday too
        }
        let cron = Cron {
            source: trimmed.to_string(),
            seconds,
            minutes,
            hours,
            days_of_month,
            months,
            days_of_week: days_of_week & 0x7f,
            dom_restricted,
            dow_restricted,
        };
        // Reject expressions that can never fire, such as `0 0 30 2 *`.
        let probe = NaiveDate::from_ymd_opt(2000, 1, 1)
            .unwrap()
            .and_time(NaiveTime::MIN);
        if cron.next_local_from(probe).is_none() {
            return Err(err("it never matches a real date".into()));
        }
        Ok(cron)
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl fmt::Debug for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cron({:?})", self.source)
    }
}

fn has(bits: u64, v: u32) -> bool {
    bits & (1 << v) != 0
}

/// Smallest set bit >= v, if any.
fn next_bit(bits: u64, v: u32) -> Option<u32> {
    if v >= 64 {
        return None;
    }
    let masked = bits & (!0u64 << v);
    (masked != 0).then(|| masked.trailing_zeros())
}

impl Cron {
    /// True when the hour field is `*`: such schedules follow the wall clock
    /// through a repeated DST hour (see `time::zoned`).
    pub fn hour_is_wildcard(&self) -> bool {
        self.hours == (1 << 24) - 1
    }

    pub fn day_matches(&self, date: NaiveDate) -> bool {
        if !has(self.months, date.month()) {
            return false;
        }
        let dom = has(self.days_of_month, date.day());
        let dow = has(self.days_of_week, date.weekday().num_days_from_sunday());
        match (self.dom_restricted, self.dow_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    pub fn matches(&self, t: NaiveDateTime) -> bool {
        self.day_matches(t.date())
            && has(self.hours, t.hour())
            && has(self.minutes, t.minute())
            && has(self.seconds, t.second())
            && t.nanosecond() == 0
    }

    /// The first local time `>= from` (whole seconds) that matches, searching
    /// up to eight years ahead (long enough for 29 February on a weekday).
    pub fn next_local_from(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut t = if from.nanosecond() > 0 {
            from.with_nanosecond(0)? + Duration::seconds(1)
        } else {
            from
        };
        let limit = from.date() + Duration::days(366 * 8);
        loop {
            if t.date() > limit {
                return None;
            }
            if !self.day_matches(t.date()) {
                t = (t.date() + Duration::days(1)).and_time(NaiveTime::MIN);
                continue;
            }
            let Some(h) = next_bit(self.hours, t.hour()) else {
                t = (t.date() + Duration::days(1)).and_time(NaiveTime::MIN);
                continue;
            };
            if h != t.hour() {
                t = t.date().and_hms_opt(h, 0, 0)?;
            }
            let Some(m) = next_bit(self.minutes, t.minute()) else {
                t = t.date().and_hms_opt(t.hour(), 0, 0)? + Duration::hours(1);
                continue;
            };
            if m != t.minute() {
                t = t.date().and_hms_opt(t.hour(), m, 0)?;
            }
            let Some(s) = next_bit(self.seconds, t.second()) else {
                t = t.date().and_hms_opt(t.hour(), t.minute(), 0)? + Duration::minutes(1);
                continue;
            };
            return t.date().and_hms_opt(t.hour(), t.minute(), s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn five_and_six_fields() {
        let c: Cron = "30 2 * * *".parse().unwrap();
        assert_eq!(
            c.next_local_from(at("2026-03-08 00:00:00")),
            Some(at("2026-03-08 02:30:00"))
        );
        let c: Cron = "*/15 * * * * *".parse().unwrap();
        assert_eq!(
            c.next_local_from(at("2026-03-08 00:00:01")),
            Some(at("2026-03-08 00:00:15"))
        );
    }

    #[test]
    fn dom_or_dow() {
        // the 1st of the month or any Monday
        let c: Cron = "0 0 1 * MON".parse().unwrap();
        assert!(c.day_matches(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap())); // Sunday the 1st
        assert!(c.day_matches(NaiveDate::from_ymd_opt(2026, 11, 2).unwrap())); // Monday
        assert!(!c.day_matches(NaiveDate::from_ymd_opt(2026, 11, 3).unwrap()));
    }

    #[test]
    fn rejects_bad_expressions() {
        for bad in [
            "",
            "* * * *",
            "61 * * * *",
            "0 0 30 2 *",
            "*/0 * * * *",
            "5-1 * * * *",
            "@often",
        ] {
            assert!(bad.parse::<Cron>().is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn names_and_sunday_seven() {
        let c: Cron = "0 9 * jan-mar 7".parse().unwrap();
        assert_eq!(
            c.next_local_from(at("2026-01-01 00:00:00")),
            Some(at("2026-01-04 09:00:00"))
        );
    }
}
