//! Exchange calendars: trading days and session hours, from the data files
//! under `jobs/calendars/` (one per exchange, named by its MIC, e.g. XKRX).
//!
//! A calendar answers "is this instant inside a trading session?" and "when
//! does the next session start?", so calendar-gated schedules skip nights,
//! weekends and holidays without stepping through every second of them.

use crate::diagnostics::{Problem, SourceFile};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    name: String,
    #[serde(default)]
    description: String,
    timezone: String,
    open: String,
    close: String,
    weekdays: Vec<String>,
    valid_from: NaiveDate,
    valid_to: NaiveDate,
    #[serde(default)]
    holidays: Vec<DayEntry>,
    #[serde(default)]
    early_closes: Vec<TimeEntry>,
    #[serde(default)]
    late_opens: Vec<TimeEntry>,
    #[serde(default)]
    late_closes: Vec<TimeEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DayEntry {
    date: NaiveDate,
    #[allow(dead_code)]
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeEntry {
    date: NaiveDate,
    #[serde(alias = "open")]
    close: Option<String>,
    #[allow(dead_code)]
    name: String,
}

/// One exchange's sessions.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub name: String,
    pub description: String,
    pub tz: Tz,
    open: NaiveTime,
    close: NaiveTime,
    weekdays: [bool; 7],
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
    holidays: BTreeMap<NaiveDate, ()>,
    opens: HashMap<NaiveDate, NaiveTime>,
    closes: HashMap<NaiveDate, NaiveTime>,
}

fn parse_hm(s: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| format!("{s:?} is not a HH:MM time"))
}

fn parse_weekday(s: &str) -> Result<Weekday, String> {
    s.parse::<Weekday>()
        .map_err(|_| format!("{s:?} is not a weekday (Mon..Sun)"))
}

impl Calendar {
    fn from_file(f: CalendarFile) -> Result<Calendar, String> {
        let tz: Tz = f
            .timezone
            .parse()
            .map_err(|_| format!("timezone {:?} is not an IANA zone name", f.timezone))?;
        let mut weekdays = [false; 7];
        for d in &f.weekdays {
            weekdays[parse_weekday(d)?.num_days_from_monday() as usize] = true;
        }
        let mut opens = HashMap::new();
        for e in &f.late_opens {
            let t = e.close.as_deref().ok_or("late_opens entry without open")?;
            opens.insert(e.date, parse_hm(t)?);
        }
        let mut closes = HashMap::new();
        for e in f.early_closes.iter().chain(&f.late_closes) {
            let t = e.close.as_deref().ok_or("close entry without close")?;
            closes.insert(e.date, parse_hm(t)?);
        }
        let cal = Calendar {
            name: f.name,
            description: f.description,
            tz,
            open: parse_hm(&f.open)?,
            close: parse_hm(&f.close)?,
            weekdays,
            valid_from: f.valid_from,
            valid_to: f.valid_to,
            holidays: f.holidays.iter().map(|h| (h.date, ())).collect(),
            opens,
            closes,
        };
        if cal.open >= cal.close {
            return Err("open must be before close".into());
        }
        Ok(cal)
    }

    pub fn is_trading_day(&self, date: NaiveDate) -> bool {
        self.weekdays[date.weekday().num_days_from_monday() as usize]
            && !self.holidays.contains_key(&date)
    }

    /// Whether the calendar's holiday data covers `date`.
    pub fn covers(&self, date: NaiveDate) -> bool {
        (self.valid_from..=self.valid_to).contains(&date)
    }

    /// The session of a local date, as UTC instants [open, close].
    pub fn session(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.is_trading_day(date) {
            return None;
        }
        let open = self.opens.get(&date).copied().unwrap_or(self.open);
        let close = self.closes.get(&date).copied().unwrap_or(self.close);
        let at = |t: NaiveTime| {
            self.tz
                .from_local_datetime(&date.and_time(t))
                .earliest()
                .map(|d| d.with_timezone(&Utc))
        };
        Some((at(open)?, at(close)?))
    }

    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// Whether `t` lies in a session, open and close included (a job at the
    /// closing minute still sees the session's last bar).
    pub fn in_session(&self, t: DateTime<Utc>) -> bool {
        self.session(self.local_date(t))
            .is_some_and(|(o, c)| o <= t && t <= c)
    }

    /// The earliest instant `>= t` inside a session, looking up to a year ahead.
    pub fn next_session_instant(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut date = self.local_date(t);
        for _ in 0..370 {
            if let Some((open, close)) = self.session(date) {
                if t <= close {
                    return Some(t.max(open));
                }
            }
            date += Duration::days(1);
        }
        None
    }

    /// The earliest instant `>= t` on a trading day (local midnight or t).
    pub fn next_trading_day_instant(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut date = self.local_date(t);
        for i in 0..370 {
            if self.is_trading_day(date) {
                if i == 0 {
                    return Some(t);
                }
                return self
                    .tz
                    .from_local_datetime(&date.and_time(NaiveTime::MIN))
                    .earliest()
                    .map(|d| d.with_timezone(&Utc));
            }
            date += Duration::days(1);
        }
        None
    }
}

/// Every calendar found under a folder, by name.
#[derive(Debug, Clone, Default)]
pub struct Calendars {
    by_name: BTreeMap<String, Calendar>,
}

impl Calendars {
    pub fn get(&self, name: &str) -> Option<&Calendar> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    pub fn insert(&mut self, cal: Calendar) {
        self.by_name.insert(cal.name.clone(), cal);
    }

    /// Loads `DIR/*.toml`; a missing folder is an empty set. Every broken
    /// file is reported, the good ones are still loaded.
    pub fn load_dir(dir: &Path) -> (Calendars, Vec<Problem>) {
        let mut cals = Calendars::default();
        let mut problems = vec![];
        let Ok(entries) = std::fs::read_dir(dir) else {
            return (cals, problems);
        };
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            match Self::load_file(&path) {
                Ok(cal) => cals.insert(cal),
                Err(p) => problems.push(p),
            }
        }
        (cals, problems)
    }

    pub fn load_file(path: &Path) -> Result<Calendar, Problem> {
        let text = std::fs::read_to_string(path).map_err(|e| Problem {
            file: path.to_path_buf(),
            line: None,
            key: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        let src = SourceFile { path, text: &text };
        let file: CalendarFile = toml::from_str(&text)
            .map_err(|e| src.problem(e.span().map(|s| s.start), "", e.message().to_string()))?;
        Calendar::from_file(file).map_err(|m| src.problem(None, "", m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xkrx() -> Calendar {
        let f: CalendarFile = toml::from_str(
            r#"
            name = "XKRX"
            timezone = "Asia/Seoul"
            open = "09:00"
            close = "15:30"
            weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri"]
            valid_from = "2026-01-01"
            valid_to = "2026-12-31"
            [[holidays]]
            date = "2026-12-25"
            name = "Christmas"
            [[late_opens]]
            date = "2026-01-02"
            open = "10:00"
            name = "first day"
            "#,
        )
        .unwrap();
        Calendar::from_file(f).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn sessions_and_holidays() {
        let c = xkrx();
        assert!(c.in_session(utc("2026-11-25T00:00:00Z"))); // 09:00 KST Wed
        assert!(c.in_session(utc("2026-11-25T06:30:00Z"))); // 15:30 KST, the close
        assert!(!c.in_session(utc("2026-11-25T06:31:00Z")));
        assert!(!c.in_session(utc("2026-11-28T01:00:00Z"))); // Saturday
        assert!(!c.in_session(utc("2026-12-25T01:00:00Z"))); // holiday
        assert!(!c.in_session(utc("2026-01-02T00:30:00Z"))); // late open day, 09:30 KST
        assert_eq!(
            c.next_session_instant(utc("2026-12-24T07:00:00Z")),
            Some(utc("2026-12-28T00:00:00Z"))
        );
    }
}
