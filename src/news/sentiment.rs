//! A small finance lexicon that gives a headline a tone, −1..1.
//!
//! `predict` feeds the baseline model the relevance-weighted mean tone of a
//! stock's recent linked news (`predict::baseline::NewsSignal`). A lexicon
//! is crude next to a trained model, but it is transparent, needs no key
//! and no network, and on headlines — short, formulaic, written to carry
//! direction — word lists in the style of Loughran–McDonald do most of
//! what a sentiment model does. An LLM predictor reads the text itself.
//!
//! English words count as whole words, case-insensitively, so `miss` does
//! not fire inside `mission`; a negator (`not`, `no`, `without`, `fails`,
//! `didn't`…) up to two words before flips a word (`not strong` is
//! negative; `never` is no negator: "never been stronger"). Korean words
//! count as substrings, because particles and endings attach to them
//! (`급등세`, `적자로`); `않` or `못` right after flips them
//! (`상승하지 않았다`).

/// Positive English words (inflections listed: no stemmer). Left out on
/// purpose: `profit` and `growth` (neutral in "profit fell"), `won` (the
/// Korean currency), `buyback` (suspended as often as announced).
pub const POSITIVE_EN: &[&str] = &[
    "surge",
    "surges",
    "surged",
    "surging",
    "jump",
    "jumps",
    "jumped",
    "rally",
    "rallies",
    "rallied",
    "soar",
    "soars",
    "soared",
    "climb",
    "climbs",
    "climbed",
    "rise",
    "rises",
    "rose",
    "record",
    "upgrade",
    "upgrades",
    "upgraded",
    "beat",
    "beats",
    "strong",
    "stronger",
    "strongest",
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
    "outperforms",
    "outperformed",
    "boost",
    "boosts",
    "boosted",
    "rebound",
    "rebounds",
    "rebounded",
    "optimistic",
    "exceed",
    "exceeds",
    "exceeded",
    "approval",
    "approved",
    "breakthrough",
    "bullish",
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
    "fall",
    "falls",
    "fell",
    "drop",
    "drops",
    "dropped",
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
    "weakest",
    "gloomy",
    "recall",
    "recalls",
    "warn",
    "warns",
    "warned",
    "warning",
    "underperform",
    "underperforms",
    "underperformed",
    "lawsuit",
    "probe",
    "fraud",
    "bankruptcy",
    "layoffs",
    "decline",
    "declines",
    "declined",
    "bearish",
    "halt",
    "halted",
    "delay",
    "delayed",
];

/// Words that flip the tone of a sentiment word up to two words after.
const NEGATORS_EN: &[&str] = &[
    "not", "no", "without", "fails", "failed", "fail", "didn't", "doesn't", "don't", "isn't",
    "wasn't", "won't",
];

/// Positive Korean words (급등 surge, 상승 rise, 강세 strength, 호실적
/// strong results, 수주 order win, 상향 raised, 흑자전환 turn to profit,
/// 호조 upturn, 신고가 new high, 반등 rebound, 최대 실적 record results,
/// 개선 improvement, 승인 approval).
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
    "반등",
    "최대 실적",
    "개선",
    "승인",
];

/// Negative Korean words (급락 plunge, 하락 fall, 약세 weakness, 부진
/// slump, 적자 loss, 리콜 recall, 하향 lowered, 손실 loss, 악화
/// deterioration, 신저가 new low, 소송 lawsuit, 감소 decrease, 우려
/// concern).
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
    "소송",
    "감소",
    "우려",
];

/// Korean negation that follows the word (`상승하지 않았다`, `개선되지 못했다`).
const NEGATORS_KO: &[&str] = &["않", "못"];

/// Positive and negative hits in `text`, negation applied.
pub fn counts(text: &str) -> (usize, usize) {
    let (mut pos, mut neg) = (0, 0);
    let mut add = |positive: bool, flipped: bool| {
        if positive != flipped {
            pos += 1;
        } else {
            neg += 1;
        }
    };
    let words: Vec<String> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect();
    for (i, w) in words.iter().enumerate() {
        if !w.is_ascii() {
            continue;
        }
        let positive = POSITIVE_EN.contains(&w.as_str());
        if !positive && !NEGATIVE_EN.contains(&w.as_str()) {
            continue;
        }
        let flipped = words[i.saturating_sub(2)..i]
            .iter()
            .any(|p| NEGATORS_EN.contains(&p.as_str()));
        add(positive, flipped);
    }
    for (list, positive) in [(POSITIVE_KO, true), (NEGATIVE_KO, false)] {
        for word in list {
            for (at, _) in text.match_indices(word) {
                // The negation sits within the same phrase, a few characters on.
                let after: String = text[at + word.len()..].chars().take(6).collect();
                let phrase = after.split([' ', ',', '.']).take(2).collect::<String>();
                add(positive, NEGATORS_KO.iter().any(|n| phrase.contains(n)));
            }
        }
    }
    (pos, neg)
}

/// `(positive − negative) / (positive + negative)` in −1..1; `None` when
/// the text has no sentiment word (no opinion, not a neutral one).
pub fn score(text: &str) -> Option<f64> {
    let (p, n) = counts(text);
    (p + n > 0).then(|| (p as f64 - n as f64) / (p + n) as f64)
}

/// The tone of a set of articles for one stock: the mean of their scores
/// weighted by link relevance, over the articles that have a score.
pub fn weighted_tone<'a>(articles: impl IntoIterator<Item = (&'a str, f64)>) -> Option<f64> {
    let (mut sum, mut weight) = (0.0, 0.0);
    for (text, relevance) in articles {
        if let Some(s) = score(text) {
            let w = relevance.clamp(0.0, 1.0);
            sum += w * s;
            weight += w;
        }
    }
    (weight > 0.0).then(|| sum / weight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_words_are_whole_words() {
        assert_eq!(score("Acme shares surge after results"), Some(1.0));
        assert_eq!(score("Acme mission update"), None);
        assert_eq!(score("Acme misses estimates, shares slump"), Some(-1.0));
        assert_eq!(score("Record quarter, but margins weak"), Some(0.0));
    }

    #[test]
    fn negation_flips_the_next_words() {
        assert_eq!(score("Demand was not strong"), Some(-1.0));
        assert_eq!(score("Acme didn't miss a quarter"), Some(1.0));
        assert_eq!(score("Orders have never been stronger"), Some(1.0));
        // Three words away: no longer the negator's scope.
        assert_eq!(score("No comment from Acme; shares surged"), Some(1.0));
    }

    #[test]
    fn korean_words_count_with_particles_and_negation() {
        assert_eq!(score("삼화전자 주가 급등세"), Some(1.0));
        assert_eq!(score("영업이익 적자로 전환"), Some(-1.0));
        assert_eq!(score("실적이 개선되지 못했다"), Some(-1.0));
        assert_eq!(score("주가 상승하지 않았다"), Some(-1.0));
        assert_eq!(score("정기 주주총회 개최"), None);
    }

    #[test]
    fn tone_is_relevance_weighted_over_scored_articles() {
        let tone = weighted_tone([
            ("Acme surges", 1.0),
            ("Acme slumps", 0.25),
            ("Acme to hold meeting", 1.0),
        ]);
        assert_eq!(tone, Some((1.0 - 0.25) / 1.25));
        assert_eq!(weighted_tone([("Acme to hold meeting", 1.0)]), None);
        assert_eq!(weighted_tone([("Acme surges", 0.0)]), None);
    }
}
