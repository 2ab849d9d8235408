//! `schedules.toml`: when each job runs.
//!
//! ```toml
//! [defaults]
//! timezone = "Asia/Seoul"
//!
//! [jobs.ohlc_minute]
//! cron = "0 * 9-15 * * 1-5"     # or a list of expressions
//! calendar = "XKRX"             # only slots inside XKRX sessions
//! ```
//!
//! The file is walked key by key (not deserialized in one go) so that every
//! problem is reported at once with its file, key and line.

use crate::diagnostics::{Problem, Problems, SourceFile};
use crate::jobs::JobName;
use crate::time::{zoned, Calendar, Calendars, Cron};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// What happens to slots missed while no daemon was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    None,
    Latest,
    All,
}

/// What happens when a slot fires while the previous run is still going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    Skip,
    Queue,
    Replace,
}

/// How a calendar gates slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarGate {
    /// Only slots inside a trading session (open to close).
    Session,
    /// Any slot on a trading day (for after-close jobs).
    TradingDay,
}

#[derive(Debug, Clone)]
pub struct JobSchedule {
    pub job: JobName,
    pub crons: Vec<Cron>,
    pub tz: Tz,
    pub calendar: Option<Calendar>,
    pub calendar_gate: CalendarGate,
    pub catch_up: CatchUp,
    pub max_catch_up: u32,
    pub overlap: Overlap,
    pub timeout: Duration,
    pub retries: u32,
    pub retry_backoff: Duration,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct Schedules {
    pub path: PathBuf,
    pub jobs: BTreeMap<JobName, JobSchedule>,
}

/// Per-job settings that `[defaults]` may also give.
#[derive(Debug, Clone)]
struct Settings {
    tz: Tz,
    calendar: Option<String>,
    calendar_gate: CalendarGate,
    catch_up: CatchUp,
    max_catch_up: u32,
    overlap: Overlap,
    timeout: Duration,
    retries: u32,
    retry_backoff: Duration,
    enabled: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tz: Tz::UTC,
            calendar: None,
            calendar_gate: CalendarGate::Session,
            catch_up: CatchUp::Latest,
            max_catch_up: 10,
            overlap: Overlap::Skip,
            timeout: Duration::hours(1),
            retries: 2,
            retry_backoff: Duration::seconds(30),
            enabled: true,
        }
    }
}

/// Parses `90`, `"90s"`, `"5m"`, `"1h30m"`, `"250ms"`, `"2d"`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<i64>() {
        return Ok(Duration::seconds(secs));
    }
    let mut total = Duration::zero();
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("{text:?} is not a duration like 90s, 5m, 1h30m"));
        }
        let n: i64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?}: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        total += match unit {
            "ms" => Duration::milliseconds(n),
            "s" => Duration::seconds(n),
            "m" => Duration::minutes(n),
            "h" => Duration::hours(n),
            "d" => Duration::days(n),
            _ => {
                return Err(format!(
                    "{text:?}: unknown unit {unit:?} (use ms, s, m, h, d)"
                ))
            }
        };
    }
    Ok(total)
}

struct Walker<'a> {
    src: SourceFile<'a>,
    calendars: &'a Calendars,
    problems: Vec<Problem>,
}

type Val<'i> = Spanned<DeValue<'i>>;

impl Walker<'_> {
    fn fail(&mut self, at: &Val<'_>, key: &str, msg: impl Into<String>) {
        let p = self.src.problem(Some(at.span().start), key, msg);
        self.problems.push(p);
    }

    fn string(&mut self, v: &Val<'_>, key: &str) -> Option<String> {
        match v.get_ref().as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.fail(
                    v,
                    key,
                    format!("expected a string, found {}", v.get_ref().type_str()),
                );
                None
            }
        }
    }

    fn integer(&mut self, v: &Val<'_>, key: &str) -> Option<u32> {
        let parsed = v
            .get_ref()
            .as_integer()
            .and_then(|i| i64::from_str_radix(i.as_str(), i.radix()).ok())
            .and_then(|i| u32::try_from(i).ok());
        if parsed.is_none() {
            self.fail(v, key, "expected a non-negative integer");
        }
        parsed
    }

    fn duration(&mut self, v: &Val<'_>, key: &str) -> Option<Duration> {
        let parsed = if let Some(s) = v.get_ref().as_str() {
            parse_duration(s)
        } else if let Some(n) = self.integer(v, key) {
            Ok(Duration::seconds(n.into()))
        } else {
            return None;
        };
        match parsed {
            Ok(d) if d > Duration::zero() => Some(d),
            Ok(_) => {
                self.fail(v, key, "must be longer than zero");
                None
            }
            Err(e) => {
                self.fail(v, key, e);
                None
            }
        }
    }

    fn choice<T: Copy>(&mut self, v: &Val<'_>, key: &str, options: &[(&str, T)]) -> Option<T> {
        let s = self.string(v, key)?;
        match options.iter().find(|(name, _)| *name == s) {
            Some((_, t)) => Some(*t),
            None => {
                let names: Vec<_> = options.iter().map(|(n, _)| *n).collect();
                self.fail(v, key, format!("{s:?} is not one of {}", names.join(", ")));
                None
            }
        }
    }

    /// Applies one shared key onto `settings`; false if the key is unknown.
    fn setting(&mut self, settings: &mut Settings, name: &str, v: &Val<'_>, key: &str) -> bool {
        match name {
            "timezone" => {
                if let Some(s) = self.string(v, key) {
                    match s.parse::<Tz>() {
                        Ok(tz) => settings.tz = tz,
                        Err(_) => self.fail(v, key, format!("{s:?} is not an IANA time zone name")),
                    }
                }
            }
            "calendar" => {
                if let Some(s) = self.string(v, key) {
                    if self.calendars.get(&s).is_none() {
                        let known: Vec<_> = self.calendars.names().collect();
                        self.fail(
                            v,
                            key,
                            format!("unknown calendar {s:?} (known: {})", known.join(", ")),
                        );
                    }
                    settings.calendar = Some(s);
                }
            }
            "calendar_gate" => {
                let opts = [
                    ("session", CalendarGate::Session),
                    ("trading_day", CalendarGate::TradingDay),
                ];
                if let Some(g) = self.choice(v, key, &opts) {
                    settings.calendar_gate = g;
                }
            }
            "catch_up" => {
                let opts = [
                    ("none", CatchUp::None),
                    ("latest", CatchUp::Latest),
                    ("all", CatchUp::All),
                ];
                if let Some(c) = self.choice(v, key, &opts) {
                    settings.catch_up = c;
                }
            }
            "max_catch_up" => {
                if let Some(n) = self.integer(v, key) {
                    settings.max_catch_up = n;
                }
            }
            "overlap" => {
                let opts = [
                    ("skip", Overlap::Skip),
                    ("queue", Overlap::Queue),
                    ("replace", Overlap::Replace),
                ];
                if let Some(o) = self.choice(v, key, &opts) {
                    settings.overlap = o;
                }
            }
            "timeout" => {
                if let Some(d) = self.duration(v, key) {
                    settings.timeout = d;
                }
            }
            "retries" => {
                if let Some(n) = self.integer(v, key) {
                    settings.retries = n;
                }
            }
            "retry_backoff" => {
                if let Some(d) = self.duration(v, key) {
                    settings.retry_backoff = d;
                }
            }
            "enabled" => match v.get_ref().as_bool() {
                Some(b) => settings.enabled = b,
                None => self.fail(v, key, "expected true or false"),
            },
            _ => return false,
        }
        true
    }

    fn crons(&mut self, v: &Val<'_>, key: &str) -> Vec<Cron> {
        let items: Vec<&Val<'_>> = match v.get_ref() {
            DeValue::Array(a) => a.iter().collect(),
            _ => vec![v],
        };
        if items.is_empty() {
            self.fail(v, key, "empty list: give at least one cron expression");
        }
        let mut out = vec![];
        for item in items {
            if let Some(s) = self.string(item, key) {
                match s.parse::<Cron>() {
                    Ok(c) => out.push(c),
                    Err(e) => self.fail(item, key, e.to_string()),
                }
            }
        }
        out
    }
}

const SHARED_KEYS: &str = "timezone, calendar, calendar_gate, catch_up, max_catch_up, overlap, timeout, retries, retry_backoff, enabled";

impl Schedules {
    /// Reads and checks a schedules file; `Err` lists every problem found.
    pub fn load(path: &Path, calendars: &Calendars) -> Result<Schedules, Problems> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Problems(vec![Problem {
                file: path.to_path_buf(),
                line: None,
                key: String::new(),
                message: format!("cannot read: {e}"),
            }])
        })?;
        Self::parse(path, &text, calendars)
    }

    pub fn parse(path: &Path, text: &str, calendars: &Calendars) -> Result<Schedules, Problems> {
        let src = SourceFile { path, text };
        let root = match DeTable::parse(text) {
            Ok(t) => t,
            Err(e) => {
                let at = e.span().map(|s| s.start);
                return Err(Problems(vec![src.problem(at, "", e.message().to_string())]));
            }
        };
        let mut w = Walker {
            src,
            calendars,
            problems: vec![],
        };
        let mut defaults = Settings::default();
        let mut job_tables = vec![];
        for (k, v) in root.get_ref() {
            match k.get_ref().as_ref() {
                "defaults" => match v.get_ref().as_table() {
                    Some(t) => {
                        for (dk, dv) in t {
                            let key = format!("defaults.{}", dk.get_ref());
                            if !w.setting(&mut defaults, dk.get_ref(), dv, &key) {
                                let msg = format!("unknown key (allowed: {SHARED_KEYS})");
                                w.problems
                                    .push(w.src.problem(Some(dk.span().start), &key, msg));
                            }
                        }
                    }
                    None => w.fail(v, "defaults", "expected a table"),
                },
                "jobs" => match v.get_ref().as_table() {
                    Some(t) => job_tables.extend(t.iter()),
                    None => w.fail(v, "jobs", "expected a table of jobs"),
                },
                other => {
                    let p = w.src.problem(
                        Some(k.span().start),
                        other,
                        "unknown top-level key (expected [defaults] and [jobs.NAME] tables)",
                    );
                    w.problems.push(p);
                }
            }
        }
        let mut jobs = BTreeMap::new();
        for (name, table) in job_tables {
            let base = format!("jobs.{}", name.get_ref());
            let job = match name.get_ref().parse::<JobName>() {
                Ok(j) => Some(j),
                Err(e) => {
                    w.problems
                        .push(w.src.problem(Some(name.span().start), &base, e.to_string()));
                    None
                }
            };
            let Some(t) = table.get_ref().as_table() else {
                w.fail(table, &base, "expected a table");
                continue;
            };
            let mut settings = defaults.clone();
            let mut crons = None;
            for (k, v) in t {
                let key = format!("{base}.{}", k.get_ref());
                if k.get_ref() == "cron" {
                    crons = Some(w.crons(v, &key));
                } else if !w.setting(&mut settings, k.get_ref(), v, &key) {
                    let msg = format!("unknown key (allowed: cron, {SHARED_KEYS})");
                    w.problems
                        .push(w.src.problem(Some(k.span().start), &key, msg));
                }
            }
            let Some(crons) = crons else {
                w.fail(table, &base, "missing key `cron`");
                continue;
            };
            if let Some(job) = job {
                jobs.insert(
                    job,
                    JobSchedule {
                        job,
                        crons,
                        tz: settings.tz,
                        calendar: settings
                            .calendar
                            .as_deref()
                            .and_then(|c| calendars.get(c))
                            .cloned(),
                        calendar_gate: settings.calendar_gate,
                        catch_up: settings.catch_up,
                        max_catch_up: settings.max_catch_up,
                        overlap: settings.overlap,
                        timeout: settings.timeout,
                        retries: settings.retries,
                        retry_backoff: settings.retry_backoff,
                        enabled: settings.enabled,
                    },
                );
            }
        }
        if w.problems.is_empty() {
            Ok(Schedules {
                path: path.to_path_buf(),
                jobs,
            })
        } else {
            Err(Problems(w.problems))
        }
    }

    pub fn get(&self, job: JobName) -> Option<&JobSchedule> {
        self.jobs.get(&job)
    }
}

impl JobSchedule {
    /// Whether the calendar (if any) lets a slot at `t` run.
    pub fn gate_allows(&self, t: DateTime<Utc>) -> bool {
        match (&self.calendar, self.calendar_gate) {
            (None, _) => true,
            (Some(c), CalendarGate::Session) => c.in_session(t),
            (Some(c), CalendarGate::TradingDay) => c.is_trading_day(c.local_date(t)),
        }
    }

    /// The first instant a gated slot could be at, at or after `t`.
    fn gate_next(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match (&self.calendar, self.calendar_gate) {
            (None, _) => Some(t),
            (Some(c), CalendarGate::Session) => c.next_session_instant(t),
            (Some(c), CalendarGate::TradingDay) => c.next_trading_day_instant(t),
        }
    }

    /// The next slot strictly after `after`: zone, DST and calendar applied.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut after = after;
        // Each round either returns or jumps to the next session, so the
        // bound is only reached for calendars with no sessions at all.
        for _ in 0..2000 {
            let t = self
                .crons
                .iter()
                .filter_map(|c| zoned::next_fire_after(c, self.tz, after))
                .min()?;
            if self.gate_allows(t) {
                return Some(t);
            }
            let next_open = self.gate_next(t)?;
            after = if next_open > t {
                next_open - Duration::nanoseconds(1)
            } else {
                t
            };
        }
        None
    }

    /// Every slot in `[from, to]`, in order.
    pub fn slots_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out = vec![];
        let mut t = from - Duration::nanoseconds(1);
        while let Some(next) = self.next_after(t) {
            if next > to {
                break;
            }
            out.push(next);
            t = next;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Schedules, Problems> {
        Schedules::parse(Path::new("schedules.toml"), text, &Calendars::default())
    }

    #[test]
    fn reports_every_problem_with_key_and_line() {
        let err = parse(
            "[defaults]\ntimezone = \"Mars/Olympus\"\n\n[jobs.predict]\ncron = \"61 * * * *\"\ncolour = \"red\"\n\n[jobs.nope]\ncron = \"* * * * *\"\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("schedules.toml:2: defaults.timezone"),
            "{text}"
        );
        assert!(
            text.contains("schedules.toml:5: jobs.predict.cron"),
            "{text}"
        );
        assert!(
            text.contains("schedules.toml:6: jobs.predict.colour: unknown key"),
            "{text}"
        );
        assert!(text.contains("schedules.toml:8: jobs.nope"), "{text}");
        assert_eq!(err.0.len(), 4);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::milliseconds(250)));
        assert_eq!(parse_duration("45"), Ok(Duration::seconds(45)));
        assert!(parse_duration("5 parsecs").is_err());
    }
}
