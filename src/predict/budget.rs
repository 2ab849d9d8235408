//! Token and cost budget for one prediction run.
//!
//! Every LLM call (a repair attempt is a second call) first reserves its
//! worst case: the estimated prompt tokens plus the `max_tokens` output
//! limit, priced. A reservation that would take calls, tokens or cost past a
//! limit is refused and the caller records the prediction as skipped; so
//! concurrent predictions can never overshoot by more than the difference
//! between estimates and actual usage. After the call the reservation is
//! settled with the provider's reported usage, or released if no call was
//! made.

use serde::{Deserialize, Serialize};
use std::sync::{Mutex, MutexGuard};

/// A model's prices.
#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// USD per 1M input tokens
    pub input_per_mtok: f64,
    /// USD per 1M output tokens
    pub output_per_mtok: f64,
}

/// The run's limits; `None` is unlimited.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    pub max_calls: Option<u64>,
    /// input + output tokens
    pub max_tokens: Option<u64>,
    pub max_cost_usd: Option<f64>,
}

/// What has been spent (settled calls only; reservations in flight are not
/// included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spent {
    pub calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

/// A reservation was refused: `used` (spent plus in flight) and this call's
/// estimate would pass `limit`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("budget exhausted: {what} limit {limit}, {used} used or reserved")]
pub struct Exhausted {
    /// "calls", "tokens" or "cost_usd"
    pub what: &'static str,
    pub limit: f64,
    pub used: f64,
}

/// The worst case held for one call until it is settled or released. Not
/// `Clone`, and consumed by both, so it cannot be returned twice.
#[derive(Debug)]
#[must_use = "settle or release a reservation, or the budget stays held"]
pub struct Reservation {
    tokens: u64,
    cost_usd: f64,
}

#[derive(Debug, Default)]
struct State {
    spent: Spent,
    reserved_calls: u64,
    reserved_tokens: u64,
    reserved_cost: f64,
}

impl State {
    fn take(&mut self, r: &Reservation) {
        self.reserved_calls = self.reserved_calls.saturating_sub(1);
        self.reserved_tokens = self.reserved_tokens.saturating_sub(r.tokens);
        // Float subtraction leaves dust; with nothing in flight the exact
        // value is known to be zero.
        self.reserved_cost = if self.reserved_calls == 0 {
            0.0
        } else {
            (self.reserved_cost - r.cost_usd).max(0.0)
        };
    }
}

/// The budget of one run. Thread-safe: concurrent predictions share one
/// (behind an `Arc`), and the check and the reservation happen under one
/// lock so two callers cannot both take the last call.
#[derive(Debug)]
pub struct Budget {
    cfg: BudgetConfig,
    state: Mutex<State>,
}

impl Budget {
    pub fn new(cfg: &BudgetConfig) -> Self {
        Budget {
            cfg: cfg.clone(),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a few counters updated without any call that could
        // panic half-way, so a poisoned lock still holds consistent numbers.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserve before a call with a worst-case estimate (prompt tokens
    /// estimated + `max_output_tokens`, priced). Errs if it would exceed any
    /// limit; the caller records the prediction as skipped.
    pub fn reserve(
        &self,
        est_input_tokens: u64,
        max_output_tokens: u64,
        prices: &Prices,
    ) -> Result<Reservation, Exhausted> {
        let tokens = est_input_tokens.saturating_add(max_output_tokens);
        let cost_usd = cost(est_input_tokens, max_output_tokens, prices);
        let mut s = self.lock();

        let calls_used = s.spent.calls.saturating_add(s.reserved_calls);
        if let Some(limit) = self.cfg.max_calls {
            if calls_used.saturating_add(1) > limit {
                return Err(Exhausted {
                    what: "calls",
                    limit: limit as f64,
                    used: calls_used as f64,
                });
            }
        }
        let tokens_used = s
            .spent
            .input_tokens
            .saturating_add(s.spent.output_tokens)
            .saturating_add(s.reserved_tokens);
        if let Some(limit) = self.cfg.max_tokens {
            if tokens_used.saturating_add(tokens) > limit {
                return Err(Exhausted {
                    what: "tokens",
                    limit: limit as f64,
                    used: tokens_used as f64,
                });
            }
        }
        let cost_used = s.spent.cost_usd + s.reserved_cost;
        if let Some(limit) = self.cfg.max_cost_usd {
            // Written so that a NaN cost (NaN prices) is refused, not let
            // through as "not greater than the limit".
            let fits = matches!(
                (cost_used + cost_usd).partial_cmp(&limit),
                Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
            );
            if !fits {
                return Err(Exhausted {
                    what: "cost_usd",
                    limit,
                    used: cost_used,
                });
            }
        }

        s.reserved_calls += 1;
        s.reserved_tokens = s.reserved_tokens.saturating_add(tokens);
        s.reserved_cost += cost_usd;
        Ok(Reservation { tokens, cost_usd })
    }

    /// After the call: replace the estimate by the actual usage. A call that
    /// failed still counts as a call, with whatever tokens the provider
    /// reported (0 if none). Actual usage above the estimate is recorded as
    /// it is; later reservations see it and are refused.
    pub fn settle(&self, r: Reservation, input_tokens: u64, output_tokens: u64, prices: &Prices) {
        let mut s = self.lock();
        s.take(&r);
        s.spent.calls += 1;
        s.spent.input_tokens = s.spent.input_tokens.saturating_add(input_tokens);
        s.spent.output_tokens = s.spent.output_tokens.saturating_add(output_tokens);
        let c = cost(input_tokens, output_tokens, prices);
        // NaN prices must not poison the run's total.
        if c.is_finite() {
            s.spent.cost_usd += c;
        }
    }

    /// The call was not made: frees the reservation entirely.
    pub fn release(&self, r: Reservation) {
        self.lock().take(&r);
    }

    /// Settled usage so far.
    pub fn spent(&self) -> Spent {
        self.lock().spent
    }

    /// Reservations currently held (calls in flight).
    pub fn in_flight(&self) -> u64 {
        self.lock().reserved_calls
    }
}

/// USD for the given usage.
pub fn cost(input_tokens: u64, output_tokens: u64, p: &Prices) -> f64 {
    (input_tokens as f64 * p.input_per_mtok + output_tokens as f64 * p.output_per_mtok) / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    fn prices() -> Prices {
        // gpt-4.1-mini-like prices.
        Prices {
            input_per_mtok: 0.4,
            output_per_mtok: 1.6,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn cost_arithmetic() {
        assert!(close(cost(1_000_000, 0, &prices()), 0.4));
        assert!(close(cost(0, 1_000_000, &prices()), 1.6));
        assert!(close(cost(2_000, 500, &prices()), 0.0008 + 0.0008));
        assert_eq!(cost(0, 0, &prices()), 0.0);
        assert_eq!(cost(123, 456, &Prices::default()), 0.0);
    }

    #[test]
    fn exactly_max_calls_reservations_succeed() {
        let n = 7;
        let b = Budget::new(&BudgetConfig {
            max_calls: Some(n),
            ..Default::default()
        });
        let mut ok = Vec::new();
        let mut refused = 0;
        for _ in 0..n + 5 {
            match b.reserve(1000, 200, &prices()) {
                Ok(r) => ok.push(r),
                Err(e) => {
                    assert_eq!(e.what, "calls");
                    assert_eq!(e.limit, n as f64);
                    assert_eq!(e.used, n as f64);
                    refused += 1;
                }
            }
        }
        assert_eq!(ok.len() as u64, n);
        assert_eq!(refused, 5);
        // Settled calls keep counting against the limit.
        for r in ok {
            b.settle(r, 900, 150, &prices());
        }
        assert_eq!(b.spent().calls, n);
        assert!(b.reserve(1, 1, &prices()).is_err());
    }

    #[test]
    fn token_and_cost_limits() {
        let b = Budget::new(&BudgetConfig {
            max_tokens: Some(10_000),
            ..Default::default()
        });
        let r = b.reserve(3_000, 1_000, &prices()).unwrap();
        let r2 = b.reserve(5_000, 1_000, &prices()).unwrap();
        let e = b.reserve(1, 1, &prices()).unwrap_err();
        assert_eq!(
            e,
            Exhausted {
                what: "tokens",
                limit: 10_000.0,
                used: 10_000.0
            }
        );
        b.release(r2);
        b.release(r);

        let b = Budget::new(&BudgetConfig {
            max_cost_usd: Some(0.01),
            ..Default::default()
        });
        // 0.004 + 0.0016 = 0.0056 each: one fits, two do not.
        let r = b.reserve(10_000, 1_000, &prices()).unwrap();
        let e = b.reserve(10_000, 1_000, &prices()).unwrap_err();
        assert_eq!(e.what, "cost_usd");
        assert!(close(e.used, 0.0056), "{e}");
        b.release(r);
        // NaN prices are refused under a cost limit, not let through.
        let nan = Prices {
            input_per_mtok: f64::NAN,
            output_per_mtok: 1.0,
        };
        assert_eq!(b.reserve(1, 1, &nan).unwrap_err().what, "cost_usd");
    }

    #[test]
    fn unlimited_by_default() {
        let b = Budget::new(&BudgetConfig::default());
        for _ in 0..1000 {
            let r = b.reserve(u64::MAX / 2, u64::MAX / 2, &prices()).unwrap();
            b.settle(r, 10, 10, &prices());
        }
        assert_eq!(b.spent().calls, 1000);
    }

    #[test]
    fn settle_replaces_the_estimate() {
        let b = Budget::new(&BudgetConfig {
            max_tokens: Some(5_000),
            ..Default::default()
        });
        // The worst case (4,000) leaves no room for a second 2,000 call ...
        let r = b.reserve(3_000, 1_000, &prices()).unwrap();
        assert_eq!(b.reserve(1_500, 500, &prices()).unwrap_err().what, "tokens");
        // ... the actual 2,500 does.
        b.settle(r, 2_000, 500, &prices());
        let s = b.spent();
        assert_eq!((s.calls, s.input_tokens, s.output_tokens), (1, 2_000, 500));
        assert!(close(s.cost_usd, cost(2_000, 500, &prices())));
        assert_eq!(b.in_flight(), 0);
        let r = b.reserve(1_500, 500, &prices()).unwrap();
        b.settle(r, 0, 0, &prices());
        // A failed call with no usage still counts as a call.
        assert_eq!(b.spent().calls, 2);
        assert_eq!(b.spent().input_tokens, 2_000);
    }

    #[test]
    fn usage_above_the_estimate_is_recorded_and_blocks_later_calls() {
        let b = Budget::new(&BudgetConfig {
            max_tokens: Some(1_000),
            ..Default::default()
        });
        let r = b.reserve(100, 100, &prices()).unwrap();
        b.settle(r, 900, 300, &prices());
        assert_eq!(b.spent().input_tokens + b.spent().output_tokens, 1_200);
        let e = b.reserve(0, 0, &prices()).unwrap_err();
        assert_eq!(e.used, 1_200.0);
    }

    #[test]
    fn release_frees() {
        let b = Budget::new(&BudgetConfig {
            max_calls: Some(1),
            max_tokens: Some(1_000),
            max_cost_usd: Some(1.0),
        });
        let r = b.reserve(500, 500, &prices()).unwrap();
        assert!(b.reserve(0, 0, &prices()).is_err());
        b.release(r);
        assert_eq!(b.spent(), Spent::default());
        assert_eq!(b.in_flight(), 0);
        // The whole budget is available again.
        let r = b.reserve(500, 500, &prices()).unwrap();
        b.settle(r, 400, 100, &prices());
        assert_eq!(b.spent().calls, 1);
    }

    #[test]
    fn repair_attempt_reserves_as_a_second_call() {
        let b = Budget::new(&BudgetConfig {
            max_calls: Some(3),
            ..Default::default()
        });
        // Prediction 1: first call and its repair.
        let r = b.reserve(1000, 300, &prices()).unwrap();
        b.settle(r, 1000, 250, &prices());
        let r = b.reserve(1300, 300, &prices()).unwrap();
        b.settle(r, 1300, 240, &prices());
        // Prediction 2 gets its first call, but no repair.
        let r = b.reserve(1000, 300, &prices()).unwrap();
        b.settle(r, 1000, 250, &prices());
        assert!(b.reserve(1300, 300, &prices()).is_err());
        assert_eq!(b.spent().calls, 3);
    }

    #[test]
    fn concurrent_reservations_never_exceed_limits() {
        let cfg = BudgetConfig {
            max_calls: Some(100),
            max_tokens: Some(150_000),
            max_cost_usd: Some(0.1),
        };
        let b = Arc::new(Budget::new(&cfg));
        let granted = Arc::new(AtomicU64::new(0));
        // Highest number of reservations held at once, as seen by holders.
        let peak = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..8u64)
            .map(|t| {
                let (b, granted, peak) = (b.clone(), granted.clone(), peak.clone());
                std::thread::spawn(move || {
                    for i in 0..200u64 {
                        let input = 500 + (t * 37 + i * 11) % 1000;
                        match b.reserve(input, 300, &prices()) {
                            Ok(r) => {
                                granted.fetch_add(1, Ordering::SeqCst);
                                peak.fetch_max(b.in_flight(), Ordering::SeqCst);
                                // Hold it a moment, as a real call would, so
                                // reservations overlap.
                                std::thread::sleep(std::time::Duration::from_micros(50));
                                let s = b.spent();
                                assert!(s.calls <= 100);
                                assert!(s.input_tokens + s.output_tokens <= 150_000);
                                assert!(s.cost_usd <= 0.1 + 1e-12);
                                if i % 5 == 0 {
                                    b.release(r);
                                    granted.fetch_sub(1, Ordering::SeqCst);
                                } else {
                                    // Actual usage at most the estimate.
                                    b.settle(r, input - 100, 200, &prices());
                                }
                            }
                            Err(_) => std::thread::yield_now(),
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = b.spent();
        println!(
            "spent {s:?}, granted {}, peak in flight {}",
            granted.load(Ordering::SeqCst),
            peak.load(Ordering::SeqCst)
        );
        assert_eq!(s.calls, granted.load(Ordering::SeqCst));
        assert!(s.calls <= 100);
        assert!(s.input_tokens + s.output_tokens <= 150_000);
        assert!(s.cost_usd <= 0.1 + 1e-12);
        assert_eq!(b.in_flight(), 0);
        // 1,600 attempts against 100 calls: the calls limit is reached.
        assert_eq!(s.calls, 100);
    }

    #[test]
    fn concurrent_token_limit_holds_with_estimates_in_flight() {
        // Tokens bind here: 8 threads each hold up to one 1,000-token worst
        // case; what is spent plus held never passes 20,000.
        let b = Arc::new(Budget::new(&BudgetConfig {
            max_tokens: Some(20_000),
            ..Default::default()
        }));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || {
                    let mut granted = 0u64;
                    for _ in 0..100 {
                        if let Ok(r) = b.reserve(800, 200, &prices()) {
                            granted += 1;
                            std::thread::sleep(std::time::Duration::from_micros(20));
                            b.settle(r, 800, 200, &prices());
                        }
                    }
                    granted
                })
            })
            .collect();
        let granted: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        let s = b.spent();
        assert_eq!(granted, 20);
        assert_eq!(s.input_tokens + s.output_tokens, 20_000);
    }

    #[test]
    fn config_rejects_unknown_fields() {
        let c: BudgetConfig = serde_json::from_str(r#"{"max_calls": 10}"#).unwrap();
        assert_eq!(c.max_calls, Some(10));
        assert_eq!(c.max_tokens, None);
        assert!(serde_json::from_str::<BudgetConfig>(r#"{"max_call": 10}"#).is_err());
        assert!(serde_json::from_str::<Prices>(
            r#"{"input_per_mtok": 1, "output_per_mtok": 2, "x": 0}"#
        )
        .is_err());
    }
}
