//! Turning local cron matches into UTC instants under a zone's DST rules.
//!
//! The rules (the ones mature schedulers converged on, see
//! shared/reference/scheduling.md):
//! - a local time inside a DST gap (02:30 on a spring-forward night) fires
//!   once, at the first valid instant after the gap (03:00 local);
//! - a local time inside a repeated hour fires once, at its first occurrence;
//! - except, as in Vixie cron, expressions whose hour field is `*` follow the
//!   wall clock through the repeated hour too, so an every-minute job does not
//!   fall silent for an hour each autumn.
//!
//! Every instant is UTC; zones only exist while computing.

use super::cron::Cron;
use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// The first instant whose local wall-clock time is `>= naive` (used when
/// `naive` falls in a gap).
fn first_instant_at_or_after(tz: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    let base = naive.and_utc().timestamp();
    let (mut lo, mut hi) = (base - 26 * 3600, base + 26 * 3600);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let local = tz
            .timestamp_opt(mid, 0)
            .single()
            .expect("UTC instants always map")
            .naive_local();
        if local >= naive {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Utc.timestamp_opt(lo, 0).single().expect("in range")
}

/// The instants at which a matching local time `naive` fires, earliest first.
fn instants_for(tz: Tz, naive: NaiveDateTime, follow_wall_clock: bool) -> Vec<DateTime<Utc>> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
        LocalResult::Ambiguous(first, second) => {
            if follow_wall_clock {
                vec![first.with_timezone(&Utc), second.with_timezone(&Utc)]
            } else {
                vec![first.with_timezone(&Utc)]
            }
        }
        LocalResult::None => vec![first_instant_at_or_after(tz, naive)],
    }
}

/// Whether the zone changes its UTC offset within `hours` of `t`.
fn transition_near(tz: Tz, t: DateTime<Utc>, hours: i64) -> bool {
    let off = |t: DateTime<Utc>| tz.offset_from_utc_datetime(&t.naive_utc()).fix();
    off(t - Duration::hours(hours)) != off(t + Duration::hours(hours))
}

/// The next instant strictly after `after` at which `cron` fires in `tz`.
pub fn next_fire_after(cron: &Cron, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local_after = after.with_timezone(&tz).naive_local();
    let follow_wall_clock = cron.hour_is_wildcard();
    // Near a transition, local times earlier than `local_after` can still map
    // to instants after `after` (the second pass of a repeated hour), so the
    // search starts a little earlier there. Elsewhere, local order is UTC order.
    let near = transition_near(tz, after, 4);
    let mut from = if near {
        local_after - Duration::hours(3)
    } else {
        local_after
    };
    let mut best: Option<DateTime<Utc>> = None;
    loop {
        let candidate = cron.next_local_from(from)?;
        if let Some(b) = best {
            // Past the window where local order and UTC order can disagree.
            if candidate > local_after + Duration::hours(3) || !near {
                return Some(b);
            }
            if instants_for(tz, candidate, follow_wall_clock)[0] > b + Duration::hours(3) {
                return Some(b);
            }
        }
        for t in instants_for(tz, candidate, follow_wall_clock) {
            if t > after && best.is_none_or(|b| t < b) {
                best = Some(t);
            }
        }
        if best.is_some() && !near {
            return best;
        }
        from = candidate + Duration::seconds(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn fires(expr: &str, tz: Tz, from: &str, to: &str) -> Vec<String> {
        let cron: Cron = expr.parse().unwrap();
        let (mut t, to) = (utc(from), utc(to));
        let mut out = vec![];
        while let Some(n) = next_fire_after(&cron, tz, t) {
            if n > to {
                break;
            }
            out.push(n.format("%Y-%m-%dT%H:%MZ").to_string());
            t = n;
        }
        out
    }

    #[test]
    fn new_york_spring_gap_fires_once_after_the_gap() {
        let got = fires(
            "30 2 * * *",
            chrono_tz::America::New_York,
            "2026-03-07T00:00:00Z",
            "2026-03-09T23:00:00Z",
        );
        assert_eq!(
            got,
            [
                "2026-03-07T07:30Z",
                "2026-03-08T07:00Z",
                "2026-03-09T06:30Z"
            ]
        );
    }

    #[test]
    fn new_york_autumn_repeat_fires_at_first_occurrence() {
        let got = fires(
            "30 1 * * *",
            chrono_tz::America::New_York,
            "2026-10-31T00:00:00Z",
            "2026-11-02T23:00:00Z",
        );
        assert_eq!(
            got,
            [
                "2026-10-31T05:30Z",
                "2026-11-01T05:30Z",
                "2026-11-02T06:30Z"
            ]
        );
    }

    #[test]
    fn berlin_transitions() {
        let got = fires(
            "30 2 * * *",
            chrono_tz::Europe::Berlin,
            "2026-03-28T12:00:00Z",
            "2026-03-30T12:00:00Z",
        );
        assert_eq!(got, ["2026-03-29T01:00Z", "2026-03-30T00:30Z"]);
        let got = fires(
            "30 2 * * *",
            chrono_tz::Europe::Berlin,
            "2026-10-24T12:00:00Z",
            "2026-10-26T12:00:00Z",
        );
        assert_eq!(got, ["2026-10-25T00:30Z", "2026-10-26T01:30Z"]);
    }

    #[test]
    fn wildcard_hours_follow_the_wall_clock_through_the_repeat() {
        let got = fires(
            "0 * * * *",
            chrono_tz::America::New_York,
            "2026-11-01T04:30:00Z",
            "2026-11-01T07:30:00Z",
        );
        assert_eq!(
            got,
            [
                "2026-11-01T05:00Z",
                "2026-11-01T06:00Z",
                "2026-11-01T07:00Z"
            ]
        );
        // every 15 minutes through the gap: 02:00-02:45 collapse into 03:00
        let got = fires(
            "*/15 * * * *",
            chrono_tz::America::New_York,
            "2026-03-08T06:40:00Z",
            "2026-03-08T07:20:00Z",
        );
        assert_eq!(
            got,
            [
                "2026-03-08T06:45Z",
                "2026-03-08T07:00Z",
                "2026-03-08T07:15Z"
            ]
        );
    }
}
