//! The offline embedder: deterministic feature hashing ("hashing trick").
//!
//! Why: tickerd must embed and search news with no API key and no network
//! (the default install, CI, tests). Hashing gives lexical similarity —
//! articles sharing names, tickers and words land close — which is what news
//! deduplication and "related articles" mostly need; it knows no synonyms.
//!
//! Features of a text, after lowercasing (and folding full-width ASCII such
//! as `ＬＧ` to `lg`, common in Korean and Japanese news):
//! - Latin (any non-CJK script) words of two or more characters, minus a few
//!   English stopwords: unigrams, and bigrams of consecutive words;
//! - Hangul / CJK / kana runs: character 2-grams and 3-grams (a single
//!   character on its own is a unigram). Korean glues particles to words
//!   (`삼성전자는`, `삼성전자가`) and spacing is unreliable, so overlapping
//!   character n-grams match where whole words would not.
//!
//! Each feature is hashed (FNV-1a 64 + a murmur3 finaliser: our own code, so
//! stable across Rust and crate versions, unlike `std`'s `DefaultHasher`)
//! into one of `dimensions` buckets; another bit of the hash picks the sign so
//! that collisions cancel out on average instead of piling up. A feature seen
//! `tf` times weighs `1 + ln tf` (sublinear: repetition counts, but less and
//! less). The vector is then L2-normalised, so a dot product is the cosine.
//!
//! Empty or whitespace-only text is rejected ([`EmbedError::BadInput`]): a
//! zero vector has no cosine, and a fixed "empty" vector would make every
//! empty article a perfect duplicate of every other. Text with no word
//! features (e.g. `"!!!"`) falls back to its characters as features.
//!
//! [`MODEL`] names this exact recipe. Any change to the features, the hash or
//! the weights must bump it (`hashing-v2`, …): the model is part of the
//! collection name, so old and new vectors are never mixed.

use super::{check_not_blank, EmbedError, EmbedderId, Usage};

/// The recipe's name; bump on any change to features, hash or weights.
pub const MODEL: &str = "hashing-v1";
/// Default vector size: small (1 KiB per vector) and enough for news titles
/// and summaries.
pub const DEFAULT_DIMENSIONS: usize = 256;
/// Upper bound for `dimensions`: beyond this, hashing gains nothing.
pub const MAX_DIMENSIONS: usize = 16_384;
/// Above this many texts, [`Hashing::embed`] moves the work off the async
/// runtime (a short article takes ~2 µs in release, a 2,000-char one ~17 µs,
/// so 64 inline stay around a millisecond at worst).
const INLINE_LIMIT: usize = 64;

/// `[embedder] kind = "hashing"`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HashingConfig {
    /// Vector size (default 256).
    pub dimensions: usize,
}

impl Default for HashingConfig {
    fn default() -> Self {
        HashingConfig {
            dimensions: DEFAULT_DIMENSIONS,
        }
    }
}

/// The hashing embedder (cheap to clone: one number).
#[derive(Debug, Clone)]
pub struct Hashing {
    dimensions: usize,
}

impl Hashing {
    pub fn new(cfg: &HashingConfig) -> Result<Hashing, EmbedError> {
        if !(2..=MAX_DIMENSIONS).contains(&cfg.dimensions) {
            return Err(EmbedError::Config(format!(
                "hashing dimensions must be between 2 and {MAX_DIMENSIONS}, not {}",
                cfg.dimensions
            )));
        }
        Ok(Hashing {
            dimensions: cfg.dimensions,
        })
    }

    pub fn id(&self) -> EmbedderId {
        EmbedderId {
            embedder: "hashing".into(),
            model: MODEL.into(),
            dimensions: self.dimensions,
        }
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// Embeds one text (synchronous; `index` only labels a `BadInput`).
    pub fn embed_one(&self, index: usize, text: &str) -> Result<Vec<f32>, EmbedError> {
        Scratch::default().embed(self.dimensions, index, text)
    }

    /// Embeds texts in order (synchronous, reusing buffers across texts).
    pub fn embed_all(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut scratch = Scratch::default();
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| scratch.embed(self.dimensions, i, t))
            .collect()
    }

    /// Embeds texts in order; large inputs run on the blocking pool so a big
    /// backlog does not stall the daemon's other tasks.
    pub async fn embed(&self, texts: &[String]) -> Result<(Vec<Vec<f32>>, Usage), EmbedError> {
        let vectors = if texts.len() <= INLINE_LIMIT {
            self.embed_all(texts)?
        } else {
            let this = self.clone();
            let owned = texts.to_vec();
            tokio::task::spawn_blocking(move || this.embed_all(&owned))
                .await
                .map_err(|e| EmbedError::Internal(format!("hashing worker failed: {e}")))??
        };
        Ok((vectors, Usage::default()))
    }
}

/// Buffers reused across texts, so a batch allocates little beyond its
/// output vectors.
#[derive(Default)]
struct Scratch {
    /// The normalised (lowercased, width-folded) text.
    text: String,
    /// Byte offsets of the chars of the current Hangul/CJK run, plus its end.
    run: Vec<usize>,
    /// One hash per feature occurrence; sorted to count term frequencies.
    features: Vec<u64>,
}

/// Feature kinds, hashed in first so equal strings of different kinds differ.
const WORD: u8 = 1;
const WORD_PAIR: u8 = 2;
const CJK_UNI: u8 = 3;
const CJK_BI: u8 = 4;
const CJK_TRI: u8 = 5;
const CHAR: u8 = 6;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Sep,
    Word,
    Cjk,
}

impl Scratch {
    fn embed(&mut self, dims: usize, index: usize, text: &str) -> Result<Vec<f32>, EmbedError> {
        check_not_blank(index, text)?;
        self.normalise(text);
        self.extract();
        if self.features.is_empty() {
            // Only punctuation, symbols or one-letter words: the characters
            // themselves are the best description there is.
            for c in self.text.chars().filter(|c| !c.is_whitespace()) {
                let mut buf = [0u8; 4];
                self.features
                    .push(hash(CHAR, c.encode_utf8(&mut buf).as_bytes(), None));
            }
        }
        self.features.sort_unstable();

        let mut v = vec![0f32; dims];
        let mut i = 0;
        while i < self.features.len() {
            let h = self.features[i];
            let mut j = i + 1;
            while j < self.features.len() && self.features[j] == h {
                j += 1;
            }
            let tf = j - i;
            let weight = if tf == 1 { 1.0 } else { 1.0 + (tf as f32).ln() };
            // dims ≤ MAX_DIMENSIONS, so the modulo bias is negligible.
            let bucket = (h % dims as u64) as usize;
            if h >> 63 == 1 {
                v[bucket] -= weight;
            } else {
                v[bucket] += weight;
            }
            i = j;
        }
        if super::l2_normalize(&mut v).is_none() {
            // Every feature cancelled out against another in the same bucket
            // (possible, if improbable, for a text with two features): fall
            // back to a deterministic unit vector rather than fail a real text.
            if let Some(&h) = self.features.first() {
                v[(h % dims as u64) as usize] = 1.0;
            }
        }
        Ok(v)
    }

    /// Lowercases and folds full-width ASCII into `self.text`.
    fn normalise(&mut self, text: &str) {
        self.text.clear();
        for c in text.chars() {
            let c = match c {
                // Full-width ASCII variants (！ … ～) → ASCII.
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                '\u{3000}' => ' ', // ideographic space
                _ => c,
            };
            if c.is_ascii() {
                self.text.push(c.to_ascii_lowercase());
            } else {
                self.text.extend(c.to_lowercase());
            }
        }
    }

    /// Splits `self.text` into runs and pushes their feature hashes.
    fn extract(&mut self) {
        self.features.clear();
        let text = std::mem::take(&mut self.text);
        // Previous word, for bigrams; reset by CJK runs (a new "sentence").
        let mut prev: Option<&str> = None;
        let mut class = Class::Sep;
        let mut start = 0;
        for (pos, c) in text.char_indices() {
            let next = classify(c);
            if next != class || next == Class::Sep {
                self.finish_run(&text, class, start, pos, &mut prev);
                class = next;
                start = pos;
                self.run.clear();
            }
            if class == Class::Cjk {
                self.run.push(pos);
            }
        }
        self.finish_run(&text, class, start, text.len(), &mut prev);
        self.run.clear();
        self.text = text;
    }

    fn finish_run<'t>(
        &mut self,
        text: &'t str,
        class: Class,
        start: usize,
        end: usize,
        prev: &mut Option<&'t str>,
    ) {
        match class {
            Class::Sep => {}
            Class::Word => {
                let word = &text[start..end];
                // One-letter words ("s" of "Samsung's", "a") carry nothing.
                if word.chars().nth(1).is_none() || is_stopword(word) {
                    return;
                }
                self.features.push(hash(WORD, word.as_bytes(), None));
                if let Some(p) = *prev {
                    self.features
                        .push(hash(WORD_PAIR, p.as_bytes(), Some(word.as_bytes())));
                }
                *prev = Some(word);
            }
            Class::Cjk => {
                *prev = None;
                self.run.push(end);
                let offs = &self.run;
                let n = offs.len() - 1; // chars in the run
                if n == 1 {
                    self.features
                        .push(hash(CJK_UNI, &text.as_bytes()[offs[0]..offs[1]], None));
                }
                for w in offs.windows(3) {
                    self.features
                        .push(hash(CJK_BI, &text.as_bytes()[w[0]..w[2]], None));
                }
                for w in offs.windows(4) {
                    self.features
                        .push(hash(CJK_TRI, &text.as_bytes()[w[0]..w[3]], None));
                }
            }
        }
    }
}

fn classify(c: char) -> Class {
    if is_cjk(c) {
        Class::Cjk
    } else if c.is_alphanumeric() {
        Class::Word
    } else {
        Class::Sep
    }
}

/// Scripts written without reliable word boundaries: Hangul, CJK ideographs,
/// kana.
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{1100}'..='\u{11FF}'     // Hangul Jamo
        | '\u{3040}'..='\u{30FF}'   // Hiragana, Katakana
        | '\u{3130}'..='\u{318F}'   // Hangul Compatibility Jamo
        | '\u{3400}'..='\u{4DBF}'   // CJK Extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK Unified Ideographs
        | '\u{A960}'..='\u{A97F}'   // Hangul Jamo Extended-A
        | '\u{AC00}'..='\u{D7AF}'   // Hangul Syllables (+ Jamo Extended-B)
        | '\u{F900}'..='\u{FAFF}'   // CJK Compatibility Ideographs
        | '\u{FF66}'..='\u{FFDC}'   // half-width Katakana and Hangul
        | '\u{20000}'..='\u{2FA1F}' // CJK Extensions B–F, compatibility supplement
    )
}

/// Very common English words that would make unrelated articles look alike.
/// Short on purpose: news vocabulary ("shares", "market") carries topic.
fn is_stopword(w: &str) -> bool {
    matches!(
        w,
        "an" | "the"
            | "and"
            | "or"
            | "of"
            | "to"
            | "in"
            | "on"
            | "at"
            | "for"
            | "by"
            | "with"
            | "from"
            | "as"
            | "is"
            | "are"
            | "was"
            | "were"
            | "be"
            | "been"
            | "it"
            | "its"
            | "this"
            | "that"
            | "these"
            | "those"
            | "has"
            | "have"
            | "had"
            | "will"
            | "would"
            | "but"
            | "not"
            | "than"
            | "into"
            | "after"
            | "about"
            | "said"
            | "says"
            | "he"
            | "she"
            | "they"
            | "we"
            | "you"
            | "his"
            | "her"
            | "their"
            | "our"
            | "which"
            | "who"
    )
}

/// FNV-1a 64 over `kind`, `a` and (for pairs) a separator and `b`, then
/// murmur3's fmix64 so every output bit depends on every input bit (FNV's low
/// bits, used for the bucket, are weak on their own).
fn hash(kind: u8, a: &[u8], b: Option<&[u8]>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = (OFFSET ^ u64::from(kind)).wrapping_mul(PRIME);
    for &x in a {
        h = (h ^ u64::from(x)).wrapping_mul(PRIME);
    }
    if let Some(b) = b {
        // 0xFF never occurs in UTF-8, so "ab"+"c" ≠ "a"+"bc".
        h = (h ^ 0xFF).wrapping_mul(PRIME);
        for &x in b {
            h = (h ^ u64::from(x)).wrapping_mul(PRIME);
        }
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedder(dimensions: usize) -> Hashing {
        Hashing::new(&HashingConfig { dimensions }).unwrap()
    }

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn norm(v: &[f32]) -> f32 {
        v.iter().map(|x| x * x).sum::<f32>().sqrt()
    }

    #[test]
    fn deterministic() {
        let e = embedder(256);
        let t = "Samsung Electronics shares rose 3% after record HBM orders";
        assert_eq!(e.embed_one(0, t).unwrap(), e.embed_one(0, t).unwrap());
        // Pinned values: a change here means the recipe changed — bump MODEL
        // (stored vectors of the old recipe must not be compared with new ones).
        assert_ne!(hash(WORD, b"ab", None), hash(WORD_PAIR, b"a", Some(b"b")));
        assert_ne!(
            hash(WORD_PAIR, b"ab", Some(b"c")),
            hash(WORD_PAIR, b"a", Some(b"bc"))
        );
        const PINNED_SAMSUNG: u64 = 3_395_227_089_897_643_027;
        assert_eq!(hash(WORD, b"samsung", None), PINNED_SAMSUNG);
        // 8 features (samsung, hbm, samsung+hbm, 삼성, 성전, 전자, 삼성전, 성전자),
        // each once, in distinct buckets: ±1/√8.
        let v = e.embed_one(0, "Samsung HBM, 삼성전자").unwrap();
        let nonzero: Vec<(usize, f32)> = v
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, x)| *x != 0.0)
            .collect();
        let w = 1.0 / 8f32.sqrt();
        let pinned = [
            (1, -w),
            (19, w),
            (48, -w),
            (143, -w),
            (172, w),
            (173, -w),
            (192, w),
            (204, w),
        ];
        assert_eq!(nonzero.len(), pinned.len(), "{nonzero:?}");
        for ((i, x), (pi, px)) in nonzero.iter().zip(pinned) {
            assert_eq!(*i, pi, "{nonzero:?}");
            assert!((x - px).abs() < 1e-6, "{nonzero:?}");
        }
    }

    #[test]
    fn normalised_and_sized() {
        for dims in [2, 64, 256, 1024] {
            let e = embedder(dims);
            for t in [
                "Apple",
                "삼성전자",
                "!!!",
                "a",
                "株価が上昇した",
                "LG에너지솔루션 2차전지",
            ] {
                let v = e.embed_one(0, t).unwrap();
                assert_eq!(v.len(), dims);
                assert!((norm(&v) - 1.0).abs() < 1e-5, "{t} at {dims}: {}", norm(&v));
                assert!(v.iter().all(|x| x.is_finite()));
            }
        }
        assert_eq!(embedder(256).id().dimensions, 256);
        assert!(Hashing::new(&HashingConfig { dimensions: 1 }).is_err());
        assert!(Hashing::new(&HashingConfig {
            dimensions: MAX_DIMENSIONS + 1
        })
        .is_err());
    }

    #[test]
    fn blank_text_is_bad_input() {
        let e = embedder(256);
        for t in ["", "   ", "\n\t", "\u{3000}"] {
            let err = e.embed_one(7, t).unwrap_err();
            assert!(
                matches!(err, EmbedError::BadInput { index: 7, .. }),
                "{t:?}: {err}"
            );
        }
        let texts = vec!["fine".to_string(), String::new()];
        assert!(matches!(
            e.embed_all(&texts),
            Err(EmbedError::BadInput { index: 1, .. })
        ));
    }

    #[test]
    fn similar_articles_are_closer_than_unrelated_ones() {
        let e = embedder(256);
        let a = e
            .embed_one(
                0,
                "Samsung Electronics shares jump as Nvidia approves HBM3E memory chips",
            )
            .unwrap();
        let b = e
            .embed_one(
                0,
                "Nvidia approves Samsung Electronics HBM3E chips; Samsung shares rise",
            )
            .unwrap();
        let c = e
            .embed_one(
                0,
                "Federal Reserve holds interest rates steady, signals two cuts this year",
            )
            .unwrap();
        let d = e
            .embed_one(
                0,
                "Oil prices fall on weak Chinese demand and rising OPEC output",
            )
            .unwrap();
        let (ab, ac, ad, cd) = (cos(&a, &b), cos(&a, &c), cos(&a, &d), cos(&c, &d));
        assert!(ab > 0.5, "similar: {ab}");
        for unrelated in [ac, ad, cd] {
            assert!(unrelated.abs() < 0.2, "unrelated: {unrelated}");
            assert!(ab > unrelated + 0.4, "{ab} vs {unrelated}");
        }
    }

    #[test]
    fn korean_with_particles_matches() {
        let e = embedder(256);
        // Same story, different particles (는/가/를/의) and spacing.
        let a = e
            .embed_one(0, "삼성전자는 엔비디아에 HBM3E를 공급한다고 밝혔다")
            .unwrap();
        let b = e
            .embed_one(0, "삼성전자가 엔비디아의 HBM3E 공급을 확정했다")
            .unwrap();
        let c = e.embed_one(0, "한국은행이 기준금리를 동결했다").unwrap();
        let d = e
            .embed_one(0, "국제유가가 중국 수요 부진으로 하락했다")
            .unwrap();
        let (ab, ac, ad) = (cos(&a, &b), cos(&a, &c), cos(&a, &d));
        assert!(ab > 0.35, "similar: {ab}");
        assert!(ab > ac + 0.3 && ab > ad + 0.3, "{ab} vs {ac}, {ad}");
        // Full-width Latin folds to ASCII.
        assert_eq!(
            e.embed_one(0, "ＬＧ전자").unwrap(),
            e.embed_one(0, "lg전자").unwrap()
        );
        // Case does not matter.
        assert_eq!(
            e.embed_one(0, "Apple Inc").unwrap(),
            e.embed_one(0, "APPLE inc").unwrap()
        );
    }

    #[test]
    fn repetition_is_sublinear() {
        let e = embedder(1024);
        let once = e.embed_one(0, "tesla recall").unwrap();
        let many = e.embed_one(0, "tesla tesla tesla tesla recall").unwrap();
        // Still clearly the same topic, but "tesla" dominates more.
        assert!(cos(&once, &many) > 0.7, "{}", cos(&once, &many));
        assert!(cos(&once, &many) < 0.999);
    }

    #[tokio::test]
    async fn async_embed_keeps_order_across_the_blocking_path() {
        let e = embedder(128);
        let texts: Vec<String> = (0..200)
            .map(|i| format!("article number {i} about chips"))
            .collect();
        let (vs, usage) = e.embed(&texts).await.unwrap();
        assert_eq!(usage, Usage::default());
        assert_eq!(vs.len(), 200);
        for (i, v) in vs.iter().enumerate() {
            assert_eq!(v, &e.embed_one(i, &texts[i]).unwrap());
        }
    }

    /// `cargo test --release -- --ignored --nocapture hashing_throughput`
    #[test]
    #[ignore = "timing: run in release by hand"]
    fn hashing_throughput() {
        let e = embedder(256);
        let texts: Vec<String> = (0..20_000)
            .map(|i| {
                if i % 2 == 0 {
                    format!(
                        "Samsung Electronics shares rise {i}% as Nvidia approves HBM3E chips; \
                         analysts raise targets on AI memory demand and record quarterly profit"
                    )
                } else {
                    format!(
                        "삼성전자가 엔비디아에 HBM3E {i}단 제품 공급을 확정했다고 밝혔다. \
                         증권가는 인공지능 메모리 수요 증가로 목표주가를 올렸다"
                    )
                }
            })
            .collect();
        let t = std::time::Instant::now();
        let vs = e.embed_all(&texts).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let rate = vs.len() as f64 / secs;
        println!(
            "hashing: {} short texts in {secs:.3}s = {rate:.0}/s",
            vs.len()
        );
        assert!(rate >= 20_000.0, "{rate:.0}/s");

        // Long articles (~2,000 chars), for scale.
        let long: Vec<String> = texts.iter().take(2_000).map(|t| t.repeat(14)).collect();
        let t = std::time::Instant::now();
        let vs = e.embed_all(&long).unwrap();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "hashing: {} texts of ~{} chars in {secs:.3}s = {:.0}/s",
            vs.len(),
            long[0].chars().count(),
            vs.len() as f64 / secs
        );
    }
}
