//! The LLM's structured answer: its JSON Schema, parsing, validation and the
//! text of the one repair attempt.
//!
//! The model is asked (with OpenAI's strict `json_schema` response format
//! where the provider has it) for one JSON object holding, per configured
//! horizon, up/flat/down probabilities, an expected return with a band of
//! stated coverage and optional price levels. Nothing the model says is
//! trusted: [`parse`] checks every field and returns *all* problems at once
//! so that [`repair_prompt`] can ask for every fix in a single follow-up.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Stored with every prediction so answers produced under an older schema
/// can be told apart; bump it when the fields or their meaning change.
pub const SCHEMA_VERSION: &str = "1";

/// How far the stated band coverage may be from the coverage the prompt asks
/// for. The prompt states the coverage, so an answer with another one is a
/// band we cannot score against the others (calibration is measured per
/// nominal coverage); it is rejected rather than rescaled. The slack only
/// absorbs "0.8" written as "0.79" or "0.85".
pub const COVERAGE_TOLERANCE: f64 = 0.05;

/// The whole answer. `deny_unknown_fields` matches the schema's
/// `additionalProperties: false`: a misspelt field is reported instead of
/// silently dropped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub horizons: Vec<HorizonAnswer>,
    pub drivers: Vec<String>,
    pub explanation: String,
}

/// The forecast for one horizon (in trading days).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HorizonAnswer {
    pub horizon_days: u32,
    pub p_up: f64,
    pub p_flat: f64,
    pub p_down: f64,
    /// percent
    pub expected_return: f64,
    /// percent return, lower end of the band
    pub band_low: f64,
    /// percent return, upper end of the band
    pub band_high: f64,
    /// nominal coverage of [band_low, band_high], e.g. 0.8
    pub coverage: f64,
    /// a price (same currency as the last close), above the last close
    pub price_target: Option<f64>,
    /// a price (same currency as the last close), below the last close
    pub support: Option<f64>,
}

/// What a valid answer must look like; comes from the job's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// The horizons (trading days) the answer must cover, e.g. `[1, 5]`.
    pub horizons: Vec<u32>,
    /// How far p_up + p_flat + p_down may be from 1, e.g. 0.02.
    pub prob_tolerance: f64,
    /// The band coverage the prompt asks for, e.g. 0.8.
    pub coverage: f64,
    /// "Flat" means an absolute return below this many percent; only used
    /// to describe the fields to the model.
    pub flat_band_pct: f64,
}

/// Why an answer was rejected. Every variant names the horizon it concerns
/// (`h`, in days) where there is one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Invalid {
    #[error("the reply is not one JSON object: {0}")]
    NotJson(String),
    #[error("the JSON does not have the required shape: {0}")]
    Shape(String),
    #[error("horizon {0} (days) is missing")]
    MissingHorizon(u32),
    #[error("horizon {0} (days) was not asked for or appears more than once")]
    UnexpectedHorizon(u32),
    #[error("horizon {h}: {which} is {value}, a probability must be between 0 and 1")]
    ProbabilityRange {
        h: u32,
        which: &'static str,
        value: f64,
    },
    #[error("horizon {h}: p_up + p_flat + p_down is {sum}, it must be 1")]
    ProbabilitySum { h: u32, sum: f64 },
    #[error(
        "horizon {h}: band_low ({low}) <= expected_return ({expected}) <= band_high ({high}) does not hold"
    )]
    BandOrder {
        h: u32,
        low: f64,
        expected: f64,
        high: f64,
    },
    #[error("horizon {h}: coverage is {value}, it must be {expected}")]
    Coverage { h: u32, value: f64, expected: f64 },
    #[error(
        "horizon {h}: price_target ({target:?}) must be above and support ({support:?}) below the last close {base}"
    )]
    TargetOrder {
        h: u32,
        support: Option<f64>,
        base: f64,
        target: Option<f64>,
    },
    #[error("horizon {h}: {field} is not a finite number")]
    NotFinite { h: u32, field: &'static str },
    #[error("the explanation is empty")]
    EmptyExplanation,
}

impl Invalid {
    /// A short stable code for reports and the DB. Never rename one: stored
    /// rows and dashboards group by it.
    pub fn code(&self) -> &'static str {
        match self {
            Invalid::NotJson(_) => "not_json",
            Invalid::Shape(_) => "shape",
            Invalid::MissingHorizon(_) => "missing_horizon",
            Invalid::UnexpectedHorizon(_) => "unexpected_horizon",
            Invalid::ProbabilityRange { .. } => "probability_range",
            Invalid::ProbabilitySum { .. } => "probability_sum",
            Invalid::BandOrder { .. } => "band_order",
            Invalid::Coverage { .. } => "coverage",
            Invalid::TargetOrder { .. } => "target_order",
            Invalid::NotFinite { .. } => "not_finite",
            Invalid::EmptyExplanation => "empty_explanation",
        }
    }
}

/// JSON Schema (the draft 2020-12 subset accepted by OpenAI's
/// `response_format: {type: "json_schema", json_schema: {name, strict: true,
/// schema}}`) for the configured horizons. Strict mode needs every property
/// in `required` and `additionalProperties: false` on every object; optional
/// values are expressed as nullable (`["number", "null"]`).
///
/// The schema cannot express the cross-field rules (sum of probabilities,
/// band order, one entry per horizon, price levels versus the last close);
/// [`parse`] checks those.
pub fn json_schema(rules: &Rules) -> Value {
    let flat = rules.flat_band_pct;
    let n = rules.horizons.len();
    let prob = |what: &str| {
        json!({
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "description": what,
        })
    };
    let horizon = json!({
        "type": "object",
        "additionalProperties": false,
        "required": [
            "horizon_days", "p_up", "p_flat", "p_down", "expected_return",
            "band_low", "band_high", "coverage", "price_target", "support"
        ],
        "properties": {
            "horizon_days": {
                "type": "integer",
                "enum": rules.horizons,
                "description": "Forecast horizon in trading days.",
            },
            "p_up": prob(&format!("Probability that the return over the horizon is above +{flat}%.")),
            "p_flat": prob(&format!("Probability that the return over the horizon is within ±{flat}%.")),
            "p_down": prob(&format!("Probability that the return over the horizon is below -{flat}%.")),
            "expected_return": {
                "type": "number",
                "description": "Expected return over the horizon, in percent.",
            },
            "band_low": {
                "type": "number",
                "description": "Lower end of the return band, in percent; at most expected_return.",
            },
            "band_high": {
                "type": "number",
                "description": "Upper end of the return band, in percent; at least expected_return.",
            },
            "coverage": {
                "type": "number",
                "description": format!(
                    "Probability that the return falls inside [band_low, band_high]; must be {}.",
                    rules.coverage
                ),
            },
            "price_target": {
                "type": ["number", "null"],
                "description": "Price target above the last close, or null.",
            },
            "support": {
                "type": ["number", "null"],
                "description": "Support level below the last close, or null.",
            },
        },
    });
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["horizons", "drivers", "explanation"],
        "properties": {
            "horizons": {
                "type": "array",
                "minItems": n,
                "maxItems": n,
                "description": "One entry per horizon, each horizon exactly once.",
                "items": horizon,
            },
            "drivers": {
                "type": "array",
                "items": { "type": "string" },
                "description": "The main factors behind the forecast, most important first.",
            },
            "explanation": {
                "type": "string",
                "description": "A short plain-language explanation of the forecast.",
            },
        },
    })
}

/// The whole `response_format` value for an OpenAI-compatible chat request.
pub fn response_format(rules: &Rules) -> Value {
    json!({
        "type": "json_schema",
        "json_schema": {
            "name": "stock_prediction",
            "strict": true,
            "schema": json_schema(rules),
        },
    })
}

/// Parses and validates a reply; `base_price` is the last close (price
/// levels compare with it). Tolerates a ```json fenced block and prose
/// before and after ONE JSON object, because models add both even when told
/// not to; two objects, arrays, or repaired syntax (trailing commas, single
/// quotes, NaN) are rejected: guessing which object was meant is not ours to
/// do. On success the probabilities are renormalised to sum to 1 and the
/// horizons are sorted by length.
pub fn parse(text: &str, rules: &Rules, base_price: f64) -> Result<Answer, Vec<Invalid>> {
    let value = extract_object(text).map_err(|e| vec![e])?;
    let answer = to_answer(value)?;
    validate(answer, rules, base_price)
}

/// Validates an already deserialised answer (what [`parse`] does after
/// parsing); returns it renormalised and sorted by horizon.
pub fn validate(
    mut answer: Answer,
    rules: &Rules,
    base_price: f64,
) -> Result<Answer, Vec<Invalid>> {
    let mut problems = Vec::new();

    // Horizons: exactly the configured set, each once, in any order.
    let mut seen: Vec<u32> = Vec::new();
    for h in &answer.horizons {
        if !rules.horizons.contains(&h.horizon_days) || seen.contains(&h.horizon_days) {
            problems.push(Invalid::UnexpectedHorizon(h.horizon_days));
        } else {
            seen.push(h.horizon_days);
        }
    }
    for &h in &rules.horizons {
        if !seen.contains(&h) {
            problems.push(Invalid::MissingHorizon(h));
        }
    }

    for h in &answer.horizons {
        check_horizon(h, rules, base_price, &mut problems);
    }
    if answer.explanation.trim().is_empty() {
        problems.push(Invalid::EmptyExplanation);
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    for h in &mut answer.horizons {
        // The sum is within tolerance of 1 (so well above 0): dividing keeps
        // the model's proportions and makes the stored triple a distribution.
        let sum = h.p_up + h.p_flat + h.p_down;
        h.p_up /= sum;
        h.p_flat /= sum;
        h.p_down /= sum;
    }
    answer.horizons.sort_by_key(|h| h.horizon_days);
    Ok(answer)
}

fn check_horizon(h: &HorizonAnswer, rules: &Rules, base: f64, out: &mut Vec<Invalid>) {
    let d = h.horizon_days;
    let numbers: [(&'static str, Option<f64>); 9] = [
        ("p_up", Some(h.p_up)),
        ("p_flat", Some(h.p_flat)),
        ("p_down", Some(h.p_down)),
        ("expected_return", Some(h.expected_return)),
        ("band_low", Some(h.band_low)),
        ("band_high", Some(h.band_high)),
        ("coverage", Some(h.coverage)),
        ("price_target", h.price_target),
        ("support", h.support),
    ];
    let mut finite = true;
    for (field, v) in numbers {
        if v.is_some_and(|v| !v.is_finite()) {
            out.push(Invalid::NotFinite { h: d, field });
            finite = false;
        }
    }
    // Comparisons with NaN or infinities would only add noise to the report.
    if !finite {
        return;
    }

    let mut in_range = true;
    for (which, value) in [("p_up", h.p_up), ("p_flat", h.p_flat), ("p_down", h.p_down)] {
        if !(0.0..=1.0).contains(&value) {
            out.push(Invalid::ProbabilityRange { h: d, which, value });
            in_range = false;
        }
    }
    let sum = h.p_up + h.p_flat + h.p_down;
    // A sum is meaningless with an out-of-range term; that term is reported.
    if in_range && (sum - 1.0).abs() > rules.prob_tolerance {
        out.push(Invalid::ProbabilitySum { h: d, sum });
    }

    if !(h.band_low <= h.expected_return && h.expected_return <= h.band_high) {
        out.push(Invalid::BandOrder {
            h: d,
            low: h.band_low,
            expected: h.expected_return,
            high: h.band_high,
        });
    }

    if !(h.coverage > 0.0 && h.coverage < 1.0)
        || (h.coverage - rules.coverage).abs() > COVERAGE_TOLERANCE
    {
        out.push(Invalid::Coverage {
            h: d,
            value: h.coverage,
            expected: rules.coverage,
        });
    }

    // Without a usable last close there is nothing to compare the levels
    // with; that is the caller's data problem, not the model's.
    if base.is_finite() && base > 0.0 {
        let target_bad = h.price_target.is_some_and(|t| t <= base);
        let support_bad = h.support.is_some_and(|s| s >= base || s <= 0.0);
        if target_bad || support_bad {
            out.push(Invalid::TargetOrder {
                h: d,
                support: h.support,
                base,
                target: h.price_target,
            });
        }
    }
}

/// Finds the one JSON object in `text`. Code fences need no special case:
/// they are prose outside the braces.
fn extract_object(text: &str) -> Result<Value, Invalid> {
    let mut found: Vec<Value> = Vec::new();
    let mut first_error: Option<String> = None;
    let mut i = 0;
    while let Some(off) = text[i..].find('{') {
        let start = i + off;
        let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(v)) => {
                found.push(v);
                // Continue after the object so its nested objects are not
                // counted again.
                i = start + stream.byte_offset();
            }
            Some(Err(e)) if e.is_eof() => {
                // An object that never closes (a truncated reply): whatever
                // parses inside it is a fragment, not the answer.
                return Err(Invalid::NotJson(format!("truncated JSON: {e}")));
            }
            Some(Err(e)) if looks_like_object(&text[start + 1..]) => {
                // It opens like a JSON object (`{"` or `{}`) but is broken:
                // the objects nested in it would parse, and must not be
                // mistaken for the answer.
                return Err(Invalid::NotJson(format!("invalid JSON: {e}")));
            }
            Some(Err(e)) => {
                // Braces in prose ("{like this}") are not an object; keep
                // looking, but remember why in case nothing else parses.
                first_error.get_or_insert_with(|| e.to_string());
                i = start + 1;
            }
            None => break,
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Invalid::NotJson(
            first_error.unwrap_or_else(|| "no JSON object found".to_string()),
        )),
        n => Err(Invalid::NotJson(format!(
            "found {n} JSON objects, expected exactly one"
        ))),
    }
}

/// Whether the text after a `{` starts the way a JSON object does.
fn looks_like_object(after_brace: &str) -> bool {
    matches!(
        after_brace.trim_start().chars().next(),
        Some('"') | Some('}')
    )
}

/// Deserialises with a path in the error: serde_json's own messages give a
/// line and column of the extracted object, which mean nothing to the model.
fn to_answer(value: Value) -> Result<Answer, Vec<Invalid>> {
    match serde_json::from_value::<Answer>(value.clone()) {
        Ok(a) => Ok(a),
        Err(whole) => {
            let mut problems = Vec::new();
            if let Some(items) = value.get("horizons").and_then(Value::as_array) {
                for (i, item) in items.iter().enumerate() {
                    if let Err(e) = serde_json::from_value::<HorizonAnswer>(item.clone()) {
                        problems.push(Invalid::Shape(format!("horizons[{i}]: {e}")));
                    }
                }
            }
            if problems.is_empty() {
                problems.push(Invalid::Shape(format!("top level: {whole}")));
            }
            Err(problems)
        }
    }
}

/// The follow-up message for the one repair attempt: lists every problem
/// plainly and asks for the corrected JSON only.
pub fn repair_prompt(problems: &[Invalid]) -> String {
    let mut s = String::from("Your previous answer could not be used because of these problems:\n");
    for p in problems {
        s.push_str("- ");
        s.push_str(&p.to_string());
        s.push('\n');
    }
    s.push_str(
        "\nReply with the corrected answer as a single JSON object that follows the same \
         schema, fixing every problem listed above. Reply with the JSON only: no prose, \
         no code fences.",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            horizons: vec![1, 5],
            prob_tolerance: 0.02,
            coverage: 0.8,
            flat_band_pct: 0.5,
        }
    }

    fn horizon(d: u32) -> Value {
        json!({
            "horizon_days": d, "p_up": 0.5, "p_flat": 0.2, "p_down": 0.3,
            "expected_return": 0.4, "band_low": -1.5, "band_high": 2.0,
            "coverage": 0.8, "price_target": 110.0, "support": 95.0
        })
    }

    fn good() -> Value {
        json!({
            "horizons": [horizon(1), horizon(5)],
            "drivers": ["earnings beat", "sector momentum"],
            "explanation": "Momentum after earnings."
        })
    }

    /// `good()` with `f` applied to the horizon of 5 days.
    fn with5(f: impl FnOnce(&mut Value)) -> String {
        let mut v = good();
        f(&mut v["horizons"][1]);
        v.to_string()
    }

    fn errs(text: &str) -> Vec<Invalid> {
        parse(text, &rules(), 100.0).expect_err("should be rejected")
    }

    #[test]
    fn accepts_a_good_answer() {
        let a = parse(&good().to_string(), &rules(), 100.0).expect("valid");
        assert_eq!(a.horizons.len(), 2);
        assert_eq!(a.drivers.len(), 2);
        assert_eq!(a.horizons[1].price_target, Some(110.0));
    }

    #[test]
    fn accepts_nulls_for_optional_levels() {
        let text = with5(|h| {
            h["price_target"] = Value::Null;
            h["support"] = Value::Null;
        });
        let a = parse(&text, &rules(), 100.0).expect("valid");
        assert_eq!(a.horizons[1].price_target, None);
        assert_eq!(a.horizons[1].support, None);
    }

    #[test]
    fn accepts_fenced_json() {
        let text = format!(
            "```json\n{}\n```",
            serde_json::to_string_pretty(&good()).unwrap()
        );
        assert!(parse(&text, &rules(), 100.0).is_ok());
        let text = format!("```\n{}\n```", good());
        assert!(parse(&text, &rules(), 100.0).is_ok());
    }

    #[test]
    fn accepts_prose_around_json() {
        let text = format!(
            "Sure! Here is my forecast {{as requested}}:\n\n```json\n{}\n```\nLet me know if you need more.",
            good()
        );
        assert!(parse(&text, &rules(), 100.0).is_ok());
    }

    #[test]
    fn rejects_two_objects() {
        let text = format!("First try: {}\nBetter: {}", good(), good());
        let e = errs(&text);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].code(), "not_json");
        assert!(e[0].to_string().contains("2 JSON objects"), "{}", e[0]);
    }

    #[test]
    fn rejects_not_json() {
        for text in [
            "I cannot predict stock prices.",
            "",
            "[1, 2, 3]",
            "{'horizons': []}",
            "{\"horizons\": [1,], }",
        ] {
            let e = errs(text);
            assert_eq!(e.len(), 1, "{text}: {e:?}");
            assert_eq!(e[0].code(), "not_json", "{text}: {e:?}");
        }
    }

    #[test]
    fn rejects_truncated_json_instead_of_a_fragment() {
        let full = good().to_string();
        let e = errs(&full[..full.len() - 40]);
        assert_eq!(e.len(), 1);
        assert!(
            matches!(&e[0], Invalid::NotJson(m) if m.contains("truncated")),
            "{e:?}"
        );
    }

    #[test]
    fn shape_errors_name_the_path() {
        let e = errs(&with5(|h| h["p_up"] = json!("high")));
        assert_eq!(e.len(), 1);
        assert!(
            matches!(&e[0], Invalid::Shape(m) if m.starts_with("horizons[1]")),
            "{e:?}"
        );

        let e = errs(&with5(|h| {
            h.as_object_mut().unwrap().remove("coverage");
        }));
        assert!(
            matches!(&e[0], Invalid::Shape(m) if m.contains("coverage")),
            "{e:?}"
        );

        let mut v = good();
        v["confidence"] = json!(0.9);
        let e = errs(&v.to_string());
        assert!(
            matches!(&e[0], Invalid::Shape(m) if m.contains("confidence")),
            "{e:?}"
        );

        let mut v = good();
        v.as_object_mut().unwrap().remove("explanation");
        assert_eq!(errs(&v.to_string())[0].code(), "shape");
    }

    #[test]
    fn missing_and_unexpected_horizons() {
        let mut v = good();
        v["horizons"] = json!([horizon(1), horizon(10)]);
        let e = errs(&v.to_string());
        assert!(e.contains(&Invalid::UnexpectedHorizon(10)), "{e:?}");
        assert!(e.contains(&Invalid::MissingHorizon(5)), "{e:?}");

        // A duplicate counts as unexpected (and here leaves 5 missing).
        v["horizons"] = json!([horizon(1), horizon(1)]);
        let e = errs(&v.to_string());
        assert_eq!(
            e,
            vec![Invalid::UnexpectedHorizon(1), Invalid::MissingHorizon(5)]
        );
    }

    #[test]
    fn horizon_order_is_irrelevant_and_output_is_sorted() {
        let mut v = good();
        v["horizons"] = json!([horizon(5), horizon(1)]);
        let a = parse(&v.to_string(), &rules(), 100.0).expect("valid");
        let days: Vec<u32> = a.horizons.iter().map(|h| h.horizon_days).collect();
        assert_eq!(days, vec![1, 5]);
    }

    #[test]
    fn probability_range() {
        let e = errs(&with5(|h| {
            h["p_up"] = json!(1.2);
            h["p_down"] = json!(-0.4);
        }));
        assert_eq!(
            e,
            vec![
                Invalid::ProbabilityRange {
                    h: 5,
                    which: "p_up",
                    value: 1.2
                },
                Invalid::ProbabilityRange {
                    h: 5,
                    which: "p_down",
                    value: -0.4
                },
            ]
        );
        assert_eq!(e[0].code(), "probability_range");
    }

    #[test]
    fn probability_sum() {
        let e = errs(&with5(|h| h["p_up"] = json!(0.6)));
        assert_eq!(e.len(), 1);
        assert!(matches!(e[0], Invalid::ProbabilitySum { h: 5, sum } if (sum - 1.1).abs() < 1e-9));
        assert_eq!(e[0].code(), "probability_sum");
    }

    #[test]
    fn renormalises_within_tolerance() {
        // Sums to 1.015: inside the 0.02 tolerance.
        let text = with5(|h| {
            h["p_up"] = json!(0.515);
            h["p_flat"] = json!(0.2);
            h["p_down"] = json!(0.3);
        });
        let a = parse(&text, &rules(), 100.0).expect("valid");
        let h = &a.horizons[1];
        assert!((h.p_up + h.p_flat + h.p_down - 1.0).abs() < 1e-12);
        assert!((h.p_up - 0.515 / 1.015).abs() < 1e-12);
        assert!((h.p_down - 0.3 / 1.015).abs() < 1e-12);
        // Below 1 too.
        let text = with5(|h| h["p_up"] = json!(0.485));
        let a = parse(&text, &rules(), 100.0).expect("valid");
        let h = &a.horizons[1];
        assert!((h.p_up + h.p_flat + h.p_down - 1.0).abs() < 1e-12);
    }

    #[test]
    fn band_order() {
        let e = errs(&with5(|h| h["expected_return"] = json!(3.0)));
        assert_eq!(
            e,
            vec![Invalid::BandOrder {
                h: 5,
                low: -1.5,
                expected: 3.0,
                high: 2.0
            }]
        );
        let e = errs(&with5(|h| {
            h["band_low"] = json!(2.0);
            h["band_high"] = json!(-1.0);
        }));
        assert_eq!(e[0].code(), "band_order");
    }

    #[test]
    fn coverage() {
        for bad in [0.0, 1.0, 0.5, 0.9, 1.5] {
            let e = errs(&with5(|h| h["coverage"] = json!(bad)));
            assert_eq!(
                e,
                vec![Invalid::Coverage {
                    h: 5,
                    value: bad,
                    expected: 0.8
                }],
                "{bad}"
            );
        }
        // Close enough to the asked-for 0.8.
        assert!(parse(&with5(|h| h["coverage"] = json!(0.79)), &rules(), 100.0).is_ok());
        assert!(parse(&with5(|h| h["coverage"] = json!(0.85)), &rules(), 100.0).is_ok());
    }

    #[test]
    fn target_order() {
        let e = errs(&with5(|h| h["price_target"] = json!(90.0)));
        assert_eq!(
            e,
            vec![Invalid::TargetOrder {
                h: 5,
                support: Some(95.0),
                base: 100.0,
                target: Some(90.0)
            }]
        );
        let e = errs(&with5(|h| {
            h["support"] = json!(101.0);
            h["price_target"] = Value::Null;
        }));
        assert_eq!(e[0].code(), "target_order");
        // Equal to the last close is not above it.
        assert_eq!(
            errs(&with5(|h| h["price_target"] = json!(100.0)))[0].code(),
            "target_order"
        );
        // Each level alone is fine on its own side.
        assert!(parse(&with5(|h| h["support"] = Value::Null), &rules(), 100.0).is_ok());
        // Without a usable last close the levels are not checked.
        assert!(parse(
            &with5(|h| h["price_target"] = json!(90.0)),
            &rules(),
            f64::NAN
        )
        .is_ok());
    }

    #[test]
    fn not_finite() {
        // JSON cannot carry NaN or infinities, so this reaches only
        // `validate` (answers built in code or from other formats).
        let mut a: Answer = serde_json::from_value(good()).unwrap();
        a.horizons[0].band_high = f64::INFINITY;
        a.horizons[1].support = Some(f64::NAN);
        let e = validate(a, &rules(), 100.0).expect_err("rejected");
        assert_eq!(
            e,
            vec![
                Invalid::NotFinite {
                    h: 1,
                    field: "band_high"
                },
                Invalid::NotFinite {
                    h: 5,
                    field: "support"
                },
            ]
        );
        assert_eq!(e[0].code(), "not_finite");
        // Out-of-range JSON numbers are a parse error, not a silent infinity.
        let text = with5(|h| h["band_high"] = json!(2.5)).replace("2.5", "1e999");
        assert!(text.contains("1e999"));
        assert_eq!(errs(&text)[0].code(), "not_json");
    }

    #[test]
    fn empty_explanation() {
        let mut v = good();
        v["explanation"] = json!("  \n");
        assert_eq!(errs(&v.to_string()), vec![Invalid::EmptyExplanation]);
        assert_eq!(Invalid::EmptyExplanation.code(), "empty_explanation");
    }

    #[test]
    fn reports_every_problem_at_once() {
        let mut v = good();
        v["explanation"] = json!("");
        v["horizons"][0]["coverage"] = json!(0.5);
        v["horizons"][1]["p_up"] = json!(0.9);
        let e = errs(&v.to_string());
        let codes: Vec<&str> = e.iter().map(Invalid::code).collect();
        assert_eq!(
            codes,
            vec!["coverage", "probability_sum", "empty_explanation"]
        );
    }

    #[test]
    fn codes_are_distinct() {
        let all = [
            Invalid::NotJson(String::new()),
            Invalid::Shape(String::new()),
            Invalid::MissingHorizon(1),
            Invalid::UnexpectedHorizon(1),
            Invalid::ProbabilityRange {
                h: 1,
                which: "p_up",
                value: 2.0,
            },
            Invalid::ProbabilitySum { h: 1, sum: 2.0 },
            Invalid::BandOrder {
                h: 1,
                low: 0.0,
                expected: 0.0,
                high: 0.0,
            },
            Invalid::Coverage {
                h: 1,
                value: 0.0,
                expected: 0.8,
            },
            Invalid::TargetOrder {
                h: 1,
                support: None,
                base: 1.0,
                target: None,
            },
            Invalid::NotFinite {
                h: 1,
                field: "p_up",
            },
            Invalid::EmptyExplanation,
        ];
        let mut codes: Vec<&str> = all.iter().map(Invalid::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }

    #[test]
    fn repair_prompt_lists_every_problem() {
        let problems = vec![
            Invalid::MissingHorizon(5),
            Invalid::ProbabilitySum { h: 1, sum: 1.1 },
            Invalid::Coverage {
                h: 1,
                value: 0.9,
                expected: 0.8,
            },
        ];
        let p = repair_prompt(&problems);
        assert!(p.contains("horizon 5 (days) is missing"), "{p}");
        assert!(p.contains("is 1.1, it must be 1"), "{p}");
        assert!(p.contains("coverage is 0.9, it must be 0.8"), "{p}");
        assert_eq!(
            p.matches("\n- ").count() + usize::from(p.starts_with("- ")),
            3,
            "{p}"
        );
        assert!(p.contains("JSON only"), "{p}");
    }

    /// Walks every subschema: strict mode rejects an object whose properties
    /// are not all required or that allows additional properties.
    fn assert_strict(schema: &Value, path: &str) {
        if let Some(obj) = schema.as_object() {
            if obj.get("type") == Some(&json!("object")) {
                assert_eq!(
                    obj.get("additionalProperties"),
                    Some(&json!(false)),
                    "{path}"
                );
                let props = obj["properties"].as_object().expect("properties");
                let mut required: Vec<&str> = obj["required"]
                    .as_array()
                    .expect("required")
                    .iter()
                    .map(|v| v.as_str().expect("string"))
                    .collect();
                let mut names: Vec<&str> = props.keys().map(String::as_str).collect();
                required.sort_unstable();
                names.sort_unstable();
                assert_eq!(required, names, "{path}");
            }
            for (k, v) in obj {
                assert_strict(v, &format!("{path}/{k}"));
            }
        } else if let Some(arr) = schema.as_array() {
            for (i, v) in arr.iter().enumerate() {
                assert_strict(v, &format!("{path}/{i}"));
            }
        }
    }

    #[test]
    fn schema_is_strict_valid() {
        let s = json_schema(&rules());
        assert_strict(&s, "#");
        let h = &s["properties"]["horizons"];
        assert_eq!(h["minItems"], json!(2));
        assert_eq!(h["maxItems"], json!(2));
        assert_eq!(
            h["items"]["properties"]["horizon_days"]["enum"],
            json!([1, 5])
        );
        assert_eq!(
            h["items"]["properties"]["support"]["type"],
            json!(["number", "null"])
        );
        assert!(h["items"]["properties"]["p_flat"]["description"]
            .as_str()
            .unwrap()
            .contains("0.5%"));
        let rf = response_format(&rules());
        assert_eq!(rf["json_schema"]["strict"], json!(true));
        assert_eq!(rf["json_schema"]["schema"], s);
    }

    #[test]
    fn schema_fields_match_the_struct() {
        // Every struct field is in the schema and vice versa: a field added
        // to one but not the other would fail every strict reply.
        let s = json_schema(&rules());
        let a = parse(&good().to_string(), &rules(), 100.0).unwrap();
        let v = serde_json::to_value(&a).unwrap();
        let keys = |o: &Value| {
            let mut k: Vec<String> = o.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&v), keys(&s["properties"]));
        assert_eq!(
            keys(&v["horizons"][0]),
            keys(&s["properties"]["horizons"]["items"]["properties"])
        );
    }
}
