//! The sentiment words the sample's news are written with.
//!
//! Every generated item carries words of exactly one list below and none of
//! the other. tickerd's own lexicon (`news::sentiment`, which `predict`
//! uses for the baseline's news input) knows all of them, so it recovers
//! each item's planted tone from its title and summary (a test checks this
//! on every template).

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
