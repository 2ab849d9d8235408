//! The sentiment words the sample's news are written with, and a scorer
//! over them.
//!
//! Every generated item carries words of exactly one list below and none of
//! the other, so [`score`] recovers each item's planted sentiment from its
//! title and summary. tickerd's `baseline` model has a news-sentiment input
//! (`predict::baseline::NewsSignal::news_sentiment`, −1..1) that `predict`
//! leaves empty today; a mean of [`score`] over a stock's recent linked news
//! is one way to fill it.
//!
//! English words count as whole words (case-insensitive), so `miss` does
//! not fire inside `mission`. Korean words count as substrings: particles
//! and endings attach to them (`급등세`, `적자로`).

/// Positive English words (every inflection the templates use).
pub const POSITIVE_EN: &[&str] = &[
    "surge",
    "surges",
    "surged",
    "jump",
    "jumps",
    "jumped",
    "rally",
    "rallies",
    "rallied",
    "soar",
    "soars",
    "soared",
    "record",
    "upgrade",
    "upgrades",
    "upgraded",
    "beat",
    "beats",
    "strong",
    "stronger",
    "raise",
    "raises",
    "raised",
    "win",
    "wins",
    "winning",
    "upbeat",
    "gain",
    "gains",
    "gained",
    "outperform",
];

/// Negative English words.
pub const NEGATIVE_EN: &[&str] = &[
    "plunge",
    "plunges",
    "plunged",
    "slump",
    "slumps",
    "slumped",
    "tumble",
    "tumbles",
    "tumbled",
    "sink",
    "sinks",
    "sank",
    "miss",
    "misses",
    "missed",
    "loss",
    "losses",
    "lose",
    "loses",
    "lost",
    "losing",
    "cut",
    "cuts",
    "downgrade",
    "downgrades",
    "downgraded",
    "weak",
    "weaker",
    "gloomy",
    "recall",
    "recalls",
    "warn",
    "warns",
    "warned",
    "underperform",
];

/// Positive Korean words (급등 surge, 상승 rise, 강세 strength, 호실적
/// strong results, 수주 order win, 상향 raised, 흑자전환 turn to profit,
/// 호조 upturn, 신고가 new high).
pub const POSITIVE_KO: &[&str] = &[
    "급등",
    "상승",
    "강세",
    "호실적",
    "수주",
    "상향",
    "흑자전환",
    "호조",
    "신고가",
];

/// Negative Korean words (급락 plunge, 하락 fall, 약세 weakness, 부진
/// slump, 적자 loss, 리콜 recall, 하향 lowered, 손실 loss, 악화
/// deterioration, 신저가 new low).
pub const NEGATIVE_KO: &[&str] = &[
    "급락",
    "하락",
    "약세",
    "부진",
    "적자",
    "리콜",
    "하향",
    "손실",
    "악화",
    "신저가",
];

/// Positive and negative word counts in `text`.
pub fn counts(text: &str) -> (usize, usize) {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.is_ascii())
        .map(str::to_ascii_lowercase)
        .collect();
    let english = |list: &[&str]| words.iter().filter(|w| list.contains(&w.as_str())).count();
    let korean = |list: &[&str]| list.iter().map(|k| text.matches(k).count()).sum::<usize>();
    (
        english(POSITIVE_EN) + korean(POSITIVE_KO),
        english(NEGATIVE_EN) + korean(NEGATIVE_KO),
    )
}

/// `(positive − negative) / (positive + negative)` in −1..1; `None` when
/// the text has no sentiment word.
pub fn score(text: &str) -> Option<f64> {
    let (p, n) = counts(text);
    (p + n > 0).then(|| (p as f64 - n as f64) / (p + n) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_count_whole_in_english_and_as_substrings_in_korean() {
        assert_eq!(counts("Mission accomplished: Acme beats estimates"), (1, 0));
        assert_eq!(counts("Acme misses; guidance cut"), (0, 2));
        assert_eq!(counts("다온반도체, 분기 적자로 주가 급락세"), (0, 2));
        assert_eq!(score("no opinion here"), None);
        assert_eq!(score("Strong quarter, record sales"), Some(1.0));
    }

    #[test]
    fn the_lists_do_not_overlap() {
        for p in POSITIVE_EN.iter().chain(POSITIVE_KO) {
            assert_eq!(counts(p), (1, 0), "{p}");
        }
        for n in NEGATIVE_EN.iter().chain(NEGATIVE_KO) {
            assert_eq!(counts(n), (0, 1), "{n}");
        }
    }
}
