//! Exact and near duplicates among articles.
//!
//! Syndicated news is the norm: a wire story (Yonhap, Reuters, a company's
//! press release) appears on dozens of sites under different URLs, with a
//! different byline, a sentence added or cut, different boilerplate. Two
//! tools catch them:
//!
//! * [`content_hash`]: BLAKE3 of the [`normalize`]d title and body, for
//!   exact copies (same text, different URL or markup);
//! * [`simhash`] + [`NearDupIndex`] / [`cluster`]: a 64-bit SimHash whose
//!   Hamming distance is small between near copies, and an index that finds
//!   the closest earlier representative within a distance without comparing
//!   every pair.
//! * [`minhash64`]: a drop-in alternative to [`simhash`] (same `u64`, same
//!   Hamming distance, same index) that puts near copies about half as far
//!   apart and unrelated stories as far, so one threshold finds far more
//!   copies with fewer false merges; measured side by side in the bench.
//!
//! Everything here is pure and allocation-light so a whole backlog can be
//! deduplicated on one core (see `benches/news.rs`).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Default [`NearDupIndex`] threshold, for [`simhash`]: the largest Hamming
/// distance between two simhashes that still counts as the same story.
///
/// Not the 3 of web-page SimHash: articles are short (1,000–2,000
/// characters) and a syndicated copy's edits (another byline and footer, a
/// sentence added) change 5–10% of the shingles, which puts copies 4–10
/// bits apart (see [`simhash`]). On the bench's 100,000 generated articles
/// with 10% planted copies, ≤ 3 finds 25% of the copies, ≤ 5 51%, and ≤ 7
/// 72% while merging 0.75% of articles into a wrong cluster (the generated
/// text is more uniform than real news: different real stories on the same
/// company are 20–23 bits apart in the tests). A wrong merge only labels an
/// article's cluster, it is still stored and linked, so recall wins.
/// [`minhash64`] does better on both counts; see [`MINHASH_MAX_DISTANCE`].
pub const DEFAULT_MAX_DISTANCE: u32 = 7;

/// Threshold for [`minhash64`] sketches: on the same bench, ≤ 6 finds 97%
/// of the planted copies with no false merge (≤ 3: 76%; ≤ 8: 99.4% with
/// one); different real stories on the same company are 27–34 bits apart
/// in the tests.
pub const MINHASH_MAX_DISTANCE: u32 = 6;

/// Text reduced to what a reader sees as the same words: lowercase, runs of
/// whitespace collapsed to one space, punctuation and symbols dropped, ends
/// trimmed.
///
/// Without NFKC (no Unicode normalization crate here), the one compatibility
/// mapping that matters for Korean and Japanese sites is done by hand:
/// full-width ASCII (`ＳＫ`, `１２３`) becomes ASCII. Hangul syllables, CJK
/// ideographs and digits are alphanumeric and kept.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for_each_normalized(text, |c| match c {
        Some(c) => {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
        None => pending_space = !out.is_empty(),
    });
    out
}

/// Calls `f` with each character [`normalize`] keeps, lowercased, and with
/// `None` for each whitespace character; shared by [`normalize`] and
/// [`simhash`] so hashing needs no intermediate string.
///
/// ASCII and Hangul syllables, nearly all of the text, take fast paths: the
/// general Unicode tables cost several times more per character.
fn for_each_normalized(text: &str, mut f: impl FnMut(Option<char>)) {
    for c in text.chars() {
        match c {
            'a'..='z' | '0'..='9' | '\u{AC00}'..='\u{D7A3}' => f(Some(c)),
            'A'..='Z' => f(Some(c.to_ascii_lowercase())),
            _ if c.is_whitespace() => f(None),
            _ if c.is_ascii() => {}
            _ => {
                let c = fold_fullwidth(c);
                if c.is_alphanumeric() {
                    c.to_lowercase().for_each(|l| f(Some(l)));
                }
            }
        }
    }
}

/// `！`..`～` (U+FF01..U+FF5E) are ASCII `!`..`~` shifted by 0xFEE0.
fn fold_fullwidth(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Hex BLAKE3 of `normalize(title) + "\n" + normalize(body)`: equal for
/// exact copies whatever their URL, markup, spacing or punctuation.
pub fn content_hash(title: &str, body: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(normalize(title).as_bytes());
    hasher.update(b"\n");
    hasher.update(normalize(body).as_bytes());
    hasher.finalize().to_hex().to_string()
}

/// Number of differing bits.
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// Shingle length ending at a Hangul syllable or CJK character; see [`simhash`].
const DENSE_SHINGLE: usize = 3;
/// Shingle length ending at any other character; see [`simhash`].
const LATIN_SHINGLE: usize = 6;
/// Bits per packed code point (the largest is U+10FFFF).
const CODE_POINT_BITS: u32 = 21;

/// 64-bit SimHash of `text` over character shingles.
///
/// Features: [`normalize`]d text with the spaces removed, and at each
/// character the shingle ending there, 3 characters long when that
/// character is Hangul or CJK, 6 otherwise.
/// * Character shingles need no word segmentation, so they work the same
///   for Korean (particles glued to nouns: `삼성전자가`, `삼성전자는` still
///   share their shingles) and English.
/// * Removing spaces makes spacing variants (`삼성 전자` / `삼성전자`, which
///   differ between Korean outlets) the same text.
/// * The length follows the script because a Hangul syllable carries about
///   as much as three Latin letters: three syllables are about a Korean
///   word, six letters about an English one. A single length is too long
///   for one script or too short for the other. Measured on the test texts
///   below (a ~1,000-character Korean story re-bylined with a sentence
///   added; a ~1,800-character English wire story re-headlined with a
///   longer credit line; against a different earnings story of the same
///   company), as the expected distance 64·θ/π from the shingle vectors'
///   angle θ:
///
///   | features                  | KO copy | KO other | EN copy | EN other |
///   |---------------------------|--------:|---------:|--------:|---------:|
///   | 3 characters              |     6.8 |     24.1 |     3.2 |     13.4 |
///   | 4 characters              |     7.4 |     27.1 |     4.3 |     18.2 |
///   | 6 characters              |     8.1 |     30.2 |     5.6 |     22.9 |
///   | Latin word pairs + Hangul 3 in words | 5.2 | 21.3 | 5.8 | 27.5 |
///   | **Hangul 3 / other 6**    | **6.8** | **24.7** | **5.6** | **22.9** |
///
///   The chosen one has the widest margin between the farthest copy and
///   the closest different story among the character-shingle variants, and
///   unlike word pairs it needs no tokenizer and keeps Korean spacing
///   variants equal. English 3- and 4-grams are generic (`tion`, `the`),
///   which pulls unrelated English stories together.
///
/// Near copies of 1,000–2,000-character articles are therefore 4–10 bits
/// apart, not the ≤ 3 of web-page SimHash folklore: an edit of *L*
/// characters changes about *L* of *N* features, and the expected distance
/// is 64·acos(1 − *L*/*N*)/π, about 7 bits for a 6% edit. See
/// [`DEFAULT_MAX_DISTANCE`].
///
/// Each shingle's feature hash packs its code points (21 bits each, six fit
/// in 128 bits) and mixes them with multiply-xorshift rounds; a
/// cryptographic hash per shingle would cost more than everything else.
/// Bit *i* of the result is the majority of bit *i* over all features
/// (ties 0), counted with bit-sliced counters instead of 64 separate
/// additions per feature.
///
/// Text with nothing alphanumeric hashes to 0; text shorter than one
/// shingle is one feature.
pub fn simhash(text: &str) -> u64 {
    let mut counts = BitCounts::default();
    for_each_shingle(text, |h| counts.add(h));
    counts.majority()
}

/// 64 one-bit minwise hashes of `text`'s shingles (the same features as
/// [`simhash`]), by one-permutation hashing: a drop-in alternative to
/// [`simhash`] (a `u64` compared by [`hamming`], usable with
/// [`NearDupIndex`] and [`cluster`]) that separates near copies better.
///
/// Each feature hash goes to one of 64 bins by its top 6 bits, and each
/// bin keeps its smallest hash; bit *i* is one bit of bin *i*'s minimum.
/// Two texts with Jaccard similarity *J* over their shingle sets have equal
/// minima in a bin with probability *J*, and equal bits with probability
/// (1 + *J*)/2, so the expected distance is 32·(1 − *J*). SimHash's is
/// 64·θ/π, θ the angle between the shingle-count vectors, about twice as
/// large for the small edits of syndication: a 6% edit is ~3 bits here and
/// ~7 in SimHash, while unrelated texts stay near 32 in both. The bench
/// (`benches/news.rs`) measures the difference on 100,000 articles.
///
/// Empty bins (texts of fewer than ~200 shingles leave some) borrow the
/// minimum of another bin chosen by a fixed per-bin sequence ("optimal
/// densification", Shrivastava 2017), so two texts borrow alike. Text with
/// nothing alphanumeric hashes to 0.
pub fn minhash64(text: &str) -> u64 {
    const EMPTY: u64 = u64::MAX;
    let mut mins = [EMPTY; 64];
    for_each_shingle(text, |h| {
        let bin = (h >> 58) as usize;
        mins[bin] = mins[bin].min(h & (u64::MAX >> 6));
    });
    if mins.iter().all(|&m| m == EMPTY) {
        return 0;
    }
    (0..64u64).fold(0u64, |acc, bin| {
        let min = borrowed_min(&mins, bin, EMPTY);
        // Salted by the bin: a borrowed minimum must not copy its donor's bit.
        acc | ((fmix64(min ^ bin.wrapping_mul(0x9E37_79B9_7F4A_7C15)) & 1) << bin)
    })
}

/// `mins[bin]`, or for an empty bin the minimum of the first non-empty bin
/// in `bin`'s own pseudo-random probe sequence. Some bin is non-empty.
fn borrowed_min(mins: &[u64; 64], bin: u64, empty: u64) -> u64 {
    let mut probe = bin;
    for attempt in 1..=MAX_PROBES {
        if mins[probe as usize] != empty {
            return mins[probe as usize];
        }
        probe = fmix64((bin << 32) | attempt) & 63;
    }
    // Only for a text with a handful of shingles: any fixed choice is alike
    // for two texts, so the first non-empty bin will do.
    mins.iter().copied().find(|&m| m != empty).unwrap_or(0)
}

/// Probes before [`borrowed_min`] gives up on the random sequence; 256
/// probes miss a lone non-empty bin with probability (63/64)^256 ≈ 2%.
const MAX_PROBES: u64 = 256;

/// Calls `f` with the feature hash of every shingle of `text` (see
/// [`simhash`]); a text shorter than one shingle is one feature.
fn for_each_shingle(text: &str, mut f: impl FnMut(u64)) {
    // The last LATIN_SHINGLE code points, newest in the low bits.
    let mut window = 0u128;
    let mut seen = 0usize;
    let mut emitted = false;
    for_each_normalized(text, |c| {
        let Some(c) = c else { return };
        window = (window << CODE_POINT_BITS) | u128::from(u32::from(c));
        seen += 1;
        let len = if is_dense(c) {
            DENSE_SHINGLE
        } else {
            LATIN_SHINGLE
        };
        if seen >= len {
            f(shingle_hash(window, len));
            emitted = true;
        }
    });
    if !emitted && seen > 0 {
        f(shingle_hash(window, seen.min(LATIN_SHINGLE)));
    }
}

/// Hangul (syllables and jamo), CJK ideographs and kana: scripts where one
/// character is a syllable or a morpheme.
fn is_dense(c: char) -> bool {
    matches!(c,
        '\u{1100}'..='\u{11FF}'     // Hangul Jamo
        | '\u{3040}'..='\u{30FF}'   // Hiragana, Katakana
        | '\u{3130}'..='\u{318F}'   // Hangul Compatibility Jamo
        | '\u{3400}'..='\u{4DBF}'   // CJK Extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK Unified Ideographs
        | '\u{AC00}'..='\u{D7AF}'   // Hangul Syllables
        | '\u{F900}'..='\u{FAFF}'   // CJK Compatibility Ideographs
        | '\u{20000}'..='\u{3FFFF}' // CJK Extensions B and later
    )
}

/// Feature hash of the shingle made of the last `len` code points of
/// `window`: the packed bits folded to 64 and finished with the
/// SplitMix64/Murmur3 `fmix64` finalizer, so every input bit flips about
/// half the output bits, which SimHash needs (a weak hash correlates the
/// bits and shrinks every distance). Code points are never 0 after
/// [`normalize`], so shingles of different lengths never pack the same.
fn shingle_hash(window: u128, len: usize) -> u64 {
    let bits = CODE_POINT_BITS * len as u32;
    let packed = window & ((1u128 << bits) - 1);
    let folded = (packed as u64) ^ ((packed >> 64) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    fmix64(folded)
}

fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// 64 counters, one per bit position, stored bit-sliced: `planes[j]` holds
/// bit *j* of every counter. Adding a feature hash is a ripple-carry add of
/// one bit into each counter at once, which stops as soon as the carry is
/// zero (two planes on average), instead of 64 scalar additions.
#[derive(Default)]
struct BitCounts {
    planes: [u64; 32],
    total: u64,
}

impl BitCounts {
    fn add(&mut self, hash: u64) {
        self.total += 1;
        let mut carry = hash;
        for plane in &mut self.planes {
            if carry == 0 {
                break;
            }
            let next = *plane & carry;
            *plane ^= carry;
            carry = next;
        }
    }

    /// Bit *i* set when more than half the features had bit *i* set.
    fn majority(&self) -> u64 {
        (0..64).fold(0u64, |acc, bit| {
            let count = self
                .planes
                .iter()
                .enumerate()
                .fold(0u64, |n, (j, plane)| n | (((plane >> bit) & 1) << j));
            acc | (u64::from(count * 2 > self.total) << bit)
        })
    }
}

/// Hasher for band values, which are already uniformly distributed bits of
/// a simhash: SipHash would only cost time.
#[derive(Default)]
struct BandHasher(u64);

impl Hasher for BandHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = fmix64(n);
    }
}

type BandMap = HashMap<u64, Vec<(i64, u64)>, BuildHasherDefault<BandHasher>>;

/// One band: `width` bits starting at `shift`.
#[derive(Debug, Clone, Copy)]
struct Band {
    shift: u32,
    width: u32,
}

impl Band {
    fn value(self, hash: u64) -> u64 {
        let mask = if self.width >= 64 {
            u64::MAX
        } else {
            (1u64 << self.width) - 1
        };
        (hash >> self.shift) & mask
    }
}

/// Finds, among inserted representatives, the closest simhash within
/// `max_distance` bits, by banded LSH.
///
/// The 64 bits are split into `max_distance + 1` bands; two hashes within
/// `max_distance` differ in at most `max_distance` bits, so by pigeonhole at
/// least one band is identical. Each band maps its value to the
/// representatives having it, so a lookup checks only those, then filters
/// by the real distance: exact (no false negatives, no false positives).
///
/// `max_distance` is capped at 63 (64 one-bit bands): a threshold of 64
/// would match every hash, which is no index at all.
#[derive(Debug, Clone)]
pub struct NearDupIndex {
    max_distance: u32,
    bands: Vec<Band>,
    tables: Vec<BandMap>,
}

impl Default for NearDupIndex {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_DISTANCE)
    }
}

impl NearDupIndex {
    /// An empty index matching within `max_distance` bits (capped at 63).
    pub fn new(max_distance: u32) -> Self {
        let max_distance = max_distance.min(63);
        let bands = split_bands(max_distance + 1);
        let tables = bands.iter().map(|_| BandMap::default()).collect();
        Self {
            max_distance,
            bands,
            tables,
        }
    }

    /// The threshold in force (after the cap).
    pub fn max_distance(&self) -> u32 {
        self.max_distance
    }

    /// Adds a representative. Only representatives go in: members of a
    /// cluster are found through their representative.
    pub fn insert(&mut self, id: i64, hash: u64) {
        for (band, table) in self.bands.iter().zip(&mut self.tables) {
            table.entry(band.value(hash)).or_default().push((id, hash));
        }
    }

    /// The representative closest to `hash` within the threshold, with its
    /// distance; ties go to the smallest id.
    pub fn find(&self, hash: u64) -> Option<(i64, u32)> {
        self.find_where(hash, |_| true)
    }

    /// Like `find`, among the representatives `accept` takes (the crawl
    /// takes only those about the same stocks).
    pub fn find_where(&self, hash: u64, accept: impl Fn(i64) -> bool) -> Option<(i64, u32)> {
        let mut best: Option<(i64, u32)> = None;
        for (band, table) in self.bands.iter().zip(&self.tables) {
            let Some(bucket) = table.get(&band.value(hash)) else {
                continue;
            };
            for &(id, other) in bucket {
                let d = hamming(hash, other);
                if d <= self.max_distance && is_better((id, d), best) && accept(id) {
                    best = Some((id, d));
                }
            }
        }
        best
    }
}

fn is_better((id, d): (i64, u32), best: Option<(i64, u32)>) -> bool {
    best.is_none_or(|(best_id, best_d)| (d, id) < (best_d, best_id))
}

/// `count` contiguous bands covering all 64 bits, widths differing by at
/// most one.
fn split_bands(count: u32) -> Vec<Band> {
    let (base, extra) = (64 / count, 64 % count);
    let mut shift = 0;
    (0..count)
        .map(|i| {
            let width = base + u32::from(i < extra);
            let band = Band { shift, width };
            shift += width;
            band
        })
        .collect()
}

/// Cluster ids for `(id, simhash)` items, aligned with `items`.
///
/// Items are taken in ascending id order (ids are insertion order, so the
/// earliest article of a story leads it). Each gets the id of the closest
/// earlier representative within `max_distance` (ties: smallest id), as
/// [`NearDupIndex::find`] returns it; an item with none becomes a
/// representative and its own cluster id. Members never attract later
/// items, so a chain of small edits cannot drift a cluster across unrelated
/// stories.
pub fn cluster(items: &[(i64, u64)], max_distance: u32) -> Vec<i64> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| items[i].0);
    let mut index = NearDupIndex::new(max_distance);
    let mut out = vec![0i64; items.len()];
    for i in order {
        let (id, hash) = items[i];
        out[i] = match index.find(hash) {
            Some((rep, _)) => rep,
            None => {
                index.insert(id, hash);
                id
            }
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    // Real-shaped stories (~1,000 Korean and ~1,800 English characters).
    // The syndicated copies are made from them below by the edits
    // syndication makes; the "other" stories are different earnings
    // reports of the same company, the hardest non-duplicates.
    const KO_Q3_TITLE: &str =
        "삼성전자, 3분기 영업이익 9조1000억원…반도체 회복에도 시장 기대 못 미쳐";
    const KO_Q3_BODY: &str = "\
        [서울=연합뉴스] 김민수 기자 = 삼성전자가 올해 3분기 연결 기준 영업이익이 9조1000억원으로 지난해 같은 기간보다 274.5% 증가한 것으로 잠정 집계됐다고 8일 공시했다. 매출은 79조원으로 전년 동기 대비 17.2% 늘어 분기 기준 역대 최대를 기록했다. 시장 전망치 평균인 영업이익 10조7000억원에는 못 미쳤지만, 메모리 반도체 업황 회복이 실적 개선을 이끌었다는 평가가 나온다.\n\
        사업부별 실적은 이달 말 확정 실적 발표와 함께 공개되지만, 증권가에서는 반도체 부문을 담당하는 디바이스솔루션(DS) 부문이 4조원 안팎의 영업이익을 낸 것으로 추정한다. 고대역폭메모리(HBM)와 서버용 고용량 D램 판매가 늘었고, 범용 D램 가격도 상승세를 이어갔다. 다만 파운드리(반도체 위탁생산)와 시스템LSI 사업은 적자를 이어간 것으로 보인다.\n\
        모바일경험(MX) 부문은 갤럭시 Z 폴드6와 플립6 출시 효과로 2조원대 중반의 영업이익을 냈을 것으로 관측된다. 디스플레이 부문은 주요 고객사의 신제품 출시에 힘입어 1조원대 영업이익을 거둔 것으로 추정된다. 가전과 TV를 담당하는 영상디스플레이·생활가전 사업은 원자재 가격 상승과 물류비 부담으로 수익성이 다소 둔화했다.\n\
        전영현 삼성전자 DS부문장(부회장)은 이날 이례적으로 사과문을 내고 \"시장의 기대에 미치지 못하는 성과로 걱정을 끼쳐 송구하다\"며 \"기술의 근원적 경쟁력을 복원하겠다\"고 밝혔다. 회사 측은 HBM3E 제품의 주요 고객사 공급이 예상보다 지연되고 있으나 4분기에는 판매가 확대될 것이라고 설명했다.\n\
        증권업계는 4분기 실적에 대해서도 신중한 시각을 유지하고 있다. 한 증권사 연구원은 \"모바일과 PC 수요 회복이 더디고 중국 업체들의 범용 메모리 공급이 늘어나는 점이 부담\"이라며 \"HBM 경쟁력 회복 여부가 내년 주가 방향을 결정할 것\"이라고 말했다. 삼성전자 주가는 이날 오전 유가증권시장에서 전 거래일보다 1.5% 내린 6만500원에 거래됐다.\n\
        minsu@yna.co.kr 저작권자(c) 연합뉴스, 무단 전재-재배포, AI 학습 및 활용 금지";

    const KO_Q2_TITLE: &str =
        "삼성전자, 2분기 영업이익 10조4000억원…HBM 판매 늘며 2년 만에 10조 회복";
    const KO_Q2_BODY: &str = "\
        [서울=연합뉴스] 이정훈 기자 = 삼성전자가 2분기 연결 기준 영업이익이 10조4000억원으로 지난해 같은 기간보다 15배 넘게 늘었다고 5일 잠정 실적을 공시했다. 분기 영업이익이 10조원을 넘은 것은 2022년 2분기 이후 2년 만이다. 매출은 74조원으로 전년 동기 대비 23.3% 증가했고, 증권가 전망치 평균 8조3000억원을 크게 웃돌았다.\n\
        실적 개선은 메모리 반도체가 이끌었다. 인공지능(AI) 서버 투자가 늘면서 고부가 제품인 HBM과 DDR5 수요가 급증했고, 낸드플래시 가격도 큰 폭으로 올랐다. 업계에서는 DS 부문의 영업이익이 6조원을 넘었을 것으로 보고 있다. 재고평가손실 환입 효과도 이익 개선에 보탬이 됐다는 분석이 나온다.\n\
        반면 스마트폰 사업은 신제품 출시를 앞둔 비수기 영향으로 전 분기보다 이익이 줄었을 것으로 추정된다. 갤럭시 S24 판매 효과가 줄어든 데다 부품 가격이 올라 수익성이 낮아졌다는 것이다. TV와 가전 사업은 유럽 축구대회 특수에도 경쟁 심화로 소폭의 이익에 그친 것으로 보인다.\n\
        증권가는 하반기에도 메모리 가격 상승이 이어질 것으로 내다보며 연간 영업이익 전망치를 잇따라 올리고 있다. 한 자산운용사 펀드매니저는 \"AI 반도체 수요가 예상보다 강하고, 삼성전자의 HBM 엔비디아 품질 테스트 통과 여부가 추가 상승의 열쇠\"라고 말했다. 다만 미국의 대중국 반도체 규제 강화와 환율 변동성은 변수로 꼽힌다.\n\
        삼성전자 주가는 실적 발표 직후 상승 폭을 키워 전날보다 2.9% 오른 8만7100원에 장을 마쳤다. 외국인 투자자는 이날 삼성전자 주식을 5000억원어치 넘게 순매수했다. 삼성전자는 이달 말 컨퍼런스콜을 열고 사업부별 실적과 투자 계획을 설명할 예정이다.\n\
        jhlee@yna.co.kr 저작권자(c) 연합뉴스, 무단 전재-재배포, AI 학습 및 활용 금지";

    const EN_Q4_TITLE: &str =
        "Apple quarterly revenue beats estimates as iPhone sales rebound in China";
    const EN_Q4_BODY: &str = "\
        Oct 31 (Reuters) - Apple reported fourth-quarter revenue above Wall Street estimates on Thursday, helped by a rebound in iPhone sales in China and record revenue from its services business, but the company forecast growth in the holiday quarter that fell short of some analysts' expectations. Shares of the company fell about 2% in extended trading.\n\
        Revenue rose 6% to $94.93 billion in the quarter ended Sept. 28, compared with analysts' average estimate of $94.58 billion, according to LSEG data. iPhone revenue rose 5.5% to $46.22 billion, while services revenue, which includes the App Store, iCloud and Apple Music, grew 12% to a record $24.97 billion.\n\
        Chief Executive Tim Cook told analysts on a conference call that the iPhone 16 lineup was off to a strong start and that Apple Intelligence, the company's suite of artificial intelligence features, would roll out in more languages next year. \"We are seeing strong customer interest in the new lineup,\" Cook said.\n\
        Net income fell to $14.74 billion, or 97 cents per share, from $22.96 billion a year earlier, reflecting a one-time charge of about $10.2 billion related to a European Union tax ruling. Excluding the charge, Apple earned $1.64 per share, above estimates of $1.60.\n\
        Revenue from Greater China was $15.03 billion, roughly flat from a year ago, easing concerns about competition from Huawei. Mac sales rose 2% and iPad sales were flat, while the wearables, home and accessories segment declined 3%.\n\
        Chief Financial Officer Luca Maestri said Apple expected total revenue in the December quarter to grow in the low to mid single digits, and services revenue to grow at a rate similar to the past fiscal year.\n\
        (Reporting by Stephen Nellis in San Francisco; Editing by Leslie Adler)";

    const EN_Q3_TITLE: &str =
        "Apple forecasts slower revenue growth as iPhone demand in China weakens";
    const EN_Q3_BODY: &str = "\
        Aug 1 (Reuters) - Apple forecast revenue growth for the current quarter that trailed some analysts' expectations on Thursday, as iPhone sales in China declined for a third straight quarter amid fierce competition from Huawei and other domestic brands. Shares of the company were little changed in extended trading after swinging between gains and losses.\n\
        Revenue for the fiscal third quarter ended June 29 rose 4.9% to $85.78 billion, compared with an average analyst estimate of $84.53 billion, according to LSEG data. iPhone revenue fell 0.9% to $39.30 billion, slightly above estimates, while services revenue grew 14% to $24.21 billion.\n\
        Sales in Greater China dropped 6.5% to $14.73 billion, missing expectations of $15.3 billion. Chief Executive Tim Cook said on a call with analysts that Apple's business in mainland China was stable in local currency terms and pointed to strong demand in emerging markets such as India, where the company set a June quarter record.\n\
        Cook also said the first Apple Intelligence features would arrive in a software update later this year, and investors are betting the tools will drive a wave of upgrades to newer phones. \"We are excited about the opportunity,\" he said, adding that Apple would keep investing heavily in artificial intelligence.\n\
        Net income rose to $21.45 billion, or $1.40 per share, beating estimates of $1.35. iPad sales jumped 24% on new models, while Mac revenue rose 2.5%. Apple said its board authorized no new buyback, after a record $110 billion program announced in May.\n\
        (Reporting by Stephen Nellis and Max A. Cherney in San Francisco; Editing by Peter Henderson)";

    /// Another outlet's copy: its byline and footer, one sentence added.
    fn ko_copy() -> String {
        KO_Q3_BODY
            .replace("[서울=연합뉴스] 김민수 기자 =", "(서울=뉴스핌) 박지영 기자 =")
            .replace(
                "판매가 확대될 것이라고 설명했다.",
                "판매가 확대될 것이라고 설명했다. 삼성전자는 오는 31일 사업부별 세부 실적을 발표할 예정이다.",
            )
            .replace(
                "minsu@yna.co.kr 저작권자(c) 연합뉴스, 무단 전재-재배포, AI 학습 및 활용 금지",
                "jypark@newspim.com ⓒ 뉴스핌, 무단 전재 및 재배포 금지",
            )
    }

    /// The same wire story re-headlined, with a longer credit line.
    const EN_COPY_TITLE: &str = "Apple revenue tops estimates as China iPhone sales recover";
    fn en_copy() -> String {
        EN_Q4_BODY.replace(
            "(Reporting by Stephen Nellis in San Francisco; Editing by Leslie Adler)",
            "(Reporting by Stephen Nellis in San Francisco; Additional reporting by Aditya Soni \
             in Bengaluru; Editing by Leslie Adler and Sriraj Kalluvila)",
        )
    }

    /// What the crawler hashes.
    fn doc(title: &str, body: &str) -> String {
        format!("{title} {body}")
    }

    struct Docs {
        ko: String,
        ko_copy: String,
        ko_other: String,
        en: String,
        en_copy: String,
        en_other: String,
    }

    fn docs() -> Docs {
        Docs {
            ko: doc(KO_Q3_TITLE, KO_Q3_BODY),
            ko_copy: doc(KO_Q3_TITLE, &ko_copy()),
            ko_other: doc(KO_Q2_TITLE, KO_Q2_BODY),
            en: doc(EN_Q4_TITLE, EN_Q4_BODY),
            en_copy: doc(EN_COPY_TITLE, &en_copy()),
            en_other: doc(EN_Q3_TITLE, EN_Q3_BODY),
        }
    }

    fn distance(sketch: fn(&str) -> u64, a: &str, b: &str) -> u32 {
        hamming(sketch(a), sketch(b))
    }

    #[test]
    fn test_copies_really_are_edited() {
        assert_ne!(ko_copy(), KO_Q3_BODY);
        assert_ne!(en_copy(), EN_Q4_BODY);
        assert!(ko_copy().contains("31일") && ko_copy().contains("뉴스핌"));
        assert!(en_copy().contains("Bengaluru"));
    }

    // ------------------------------------------------------------ normalize

    #[test]
    fn normalize_lowercases_collapses_whitespace_drops_punctuation() {
        assert_eq!(
            normalize("  Apple's Q4:\t\tRevenue  BEATS!\n"),
            "apples q4 revenue beats"
        );
        assert_eq!(normalize("U.S. $94.93 billion (+6%)"), "us 9493 billion 6");
        assert_eq!(normalize("a - b"), "a b");
    }

    #[test]
    fn normalize_keeps_hangul_cjk_and_digits() {
        assert_eq!(
            normalize("삼성전자(005930)가 3.5% 올랐다!"),
            "삼성전자005930가 35 올랐다"
        );
        assert_eq!(normalize("「日本」·中国"), "日本中国");
        assert_eq!(normalize("ÉCOLE Straße"), "école straße");
    }

    #[test]
    fn normalize_folds_fullwidth_and_unicode_spaces() {
        assert_eq!(normalize("ＳＫ하이닉스\u{3000}１２３％"), "sk하이닉스 123");
        assert_eq!(normalize("a\u{A0}b\u{2003}c\u{200B}d"), "a b cd");
    }

    #[test]
    fn normalize_of_nothing_is_empty() {
        assert_eq!(normalize(""), "");
        assert_eq!(normalize(" \n…—!? "), "");
    }

    // --------------------------------------------------------- content_hash

    #[test]
    fn content_hash_is_equal_for_exact_copies_in_other_markup() {
        let a = content_hash(KO_Q3_TITLE, KO_Q3_BODY);
        let spaced = KO_Q3_BODY.replace(' ', "  ").replace('\n', "\n\n");
        assert_eq!(a, content_hash(&format!("  {KO_Q3_TITLE}  "), &spaced));
        assert_eq!(
            a,
            content_hash(&KO_Q3_TITLE.replace('…', "..."), KO_Q3_BODY)
        );
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn content_hash_differs_for_any_word_and_for_the_title_boundary() {
        let a = content_hash(KO_Q3_TITLE, KO_Q3_BODY);
        assert_ne!(a, content_hash(KO_Q3_TITLE, &ko_copy()));
        assert_ne!(a, content_hash(EN_COPY_TITLE, KO_Q3_BODY));
        assert_ne!(content_hash("a", "b c"), content_hash("a b", "c"));
    }

    // -------------------------------------------------------------- hamming

    #[test]
    fn hamming_counts_differing_bits() {
        assert_eq!(hamming(0, 0), 0);
        assert_eq!(hamming(0, u64::MAX), 64);
        assert_eq!(hamming(0b1011, 0b0110), 3);
    }

    // ----------------------------------------------------- simhash sketches

    #[test]
    fn sketches_are_deterministic_and_zero_only_for_no_text() {
        for sketch in [simhash as fn(&str) -> u64, minhash64] {
            assert_eq!(sketch(""), 0);
            assert_eq!(sketch(" .,!? "), 0);
            assert_ne!(sketch("a"), 0, "one character is one feature");
            assert_ne!(sketch("삼성"), sketch("삼전"));
            assert_eq!(sketch(KO_Q3_BODY), sketch(KO_Q3_BODY));
        }
    }

    #[test]
    fn sketches_ignore_case_punctuation_and_korean_spacing() {
        for sketch in [simhash as fn(&str) -> u64, minhash64] {
            assert_eq!(
                sketch("삼성 전자가 3분기에 올랐다."),
                sketch("삼성전자가 3분기에 올랐다")
            );
            assert_eq!(
                sketch("Apple's Revenue, up 6%"),
                sketch("apples revenue up 6")
            );
        }
    }

    #[test]
    fn simhash_puts_syndicated_copies_within_the_default_distance() {
        let d = docs();
        let ko = distance(simhash, &d.ko, &d.ko_copy);
        let en = distance(simhash, &d.en, &d.en_copy);
        assert!(ko <= DEFAULT_MAX_DISTANCE, "Korean copy at {ko}");
        assert!(en <= DEFAULT_MAX_DISTANCE, "English copy at {en}");
    }

    #[test]
    fn simhash_keeps_different_stories_on_the_same_company_apart() {
        let d = docs();
        for (a, b) in [
            (&d.ko, &d.ko_other),
            (&d.ko_copy, &d.ko_other),
            (&d.en, &d.en_other),
            (&d.en_copy, &d.en_other),
        ] {
            let dist = distance(simhash, a, b);
            assert!(
                dist >= 2 * DEFAULT_MAX_DISTANCE + 4,
                "different stories at {dist}"
            );
        }
        assert!(distance(simhash, &d.ko, &d.en) >= 20);
    }

    #[test]
    fn minhash64_puts_syndicated_copies_within_its_distance() {
        let d = docs();
        let ko = distance(minhash64, &d.ko, &d.ko_copy);
        let en = distance(minhash64, &d.en, &d.en_copy);
        assert!(ko <= MINHASH_MAX_DISTANCE, "Korean copy at {ko}");
        assert!(en <= MINHASH_MAX_DISTANCE, "English copy at {en}");
    }

    #[test]
    fn minhash64_keeps_different_stories_on_the_same_company_apart() {
        let d = docs();
        for (a, b) in [
            (&d.ko, &d.ko_other),
            (&d.ko_copy, &d.ko_other),
            (&d.en, &d.en_other),
            (&d.en_copy, &d.en_other),
        ] {
            let dist = distance(minhash64, a, b);
            assert!(
                dist >= 3 * MINHASH_MAX_DISTANCE + 4,
                "different stories at {dist}"
            );
        }
        assert!(distance(minhash64, &d.ko, &d.en) >= 20);
    }

    #[test]
    fn minhash64_separates_copies_more_than_simhash() {
        // The reason minhash64 exists: per bit of copy distance, more bits
        // of distance between different stories.
        let d = docs();
        let margin = |s: fn(&str) -> u64| {
            let copy = distance(s, &d.ko, &d.ko_copy).max(distance(s, &d.en, &d.en_copy));
            let other = distance(s, &d.ko, &d.ko_other).min(distance(s, &d.en, &d.en_other));
            f64::from(other) / f64::from(copy.max(1))
        };
        assert!(
            margin(minhash64) > margin(simhash),
            "{} vs {}",
            margin(minhash64),
            margin(simhash)
        );
    }

    #[test]
    fn minhash64_handles_short_texts_with_empty_bins() {
        // ~30 shingles for 64 bins: most bins borrow, alike for both texts.
        let a = "삼성전자 3분기 영업이익 9조1000억원 반도체 회복에도 시장 기대 못 미쳐";
        let b = "[속보] 삼성전자 3분기 영업이익 9조1000억원 반도체 회복에도 시장 기대 못 미쳐";
        assert_eq!(minhash64(a), minhash64(a));
        assert!(distance(minhash64, a, b) < distance(minhash64, a, KO_Q2_TITLE));
    }

    #[test]
    fn bit_counts_take_the_majority_per_bit() {
        let mut c = BitCounts::default();
        for h in [0b011u64, 0b001, 0b111, 0b100] {
            c.add(h);
        }
        // Bit 0: 3 of 4; bit 1: 2 of 4 (a tie is 0); bit 2: 2 of 4.
        assert_eq!(c.majority(), 0b001);
        let mut many = BitCounts::default();
        for _ in 0..70_000 {
            many.add(1 << 63); // counters past 16 bits
        }
        many.add(0);
        assert_eq!(many.majority(), 1 << 63);
    }

    // ------------------------------------------------------- NearDupIndex

    #[test]
    fn bands_cover_all_64_bits_evenly() {
        for k in [0, 1, 3, 5, 7, 12, 63] {
            let bands = split_bands(k + 1);
            assert_eq!(bands.len() as u32, k + 1);
            assert_eq!(bands.iter().map(|b| b.width).sum::<u32>(), 64);
            let widths: Vec<u32> = bands.iter().map(|b| b.width).collect();
            let (min, max) = (widths.iter().min(), widths.iter().max());
            assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 1), "{widths:?}");
            for pair in bands.windows(2) {
                assert_eq!(pair[0].shift + pair[0].width, pair[1].shift);
            }
        }
        assert_eq!(NearDupIndex::new(1_000).max_distance(), 63);
        assert_eq!(NearDupIndex::default().max_distance(), DEFAULT_MAX_DISTANCE);
    }

    #[test]
    fn find_returns_closest_then_smallest_id() {
        let mut index = NearDupIndex::new(3);
        assert_eq!(index.find(0), None);
        index.insert(10, 0b1100);
        index.insert(7, 0b1100_0011);
        index.insert(12, 0b0001);
        assert_eq!(
            index.find(0b0011),
            Some((12, 1)),
            "closest wins over smaller id"
        );
        index.insert(5, 0b0010);
        assert_eq!(index.find(0b0011), Some((5, 1)), "tie at 1: smallest id");
        assert_eq!(index.find(0b1111_0000_0000), None, "beyond 3 bits from all");
        assert_eq!(index.find(u64::MAX), None);
    }

    /// `count` random bit positions of `hash` flipped.
    fn flip(rng: &mut StdRng, hash: u64, count: u32) -> u64 {
        let mut out = hash;
        while hamming(out, hash) < count {
            out ^= 1 << rng.random_range(0..64);
        }
        out
    }

    fn brute_find(reps: &[(i64, u64)], hash: u64, k: u32) -> Option<(i64, u32)> {
        reps.iter()
            .map(|&(id, h)| (hamming(h, hash), id))
            .filter(|&(d, _)| d <= k)
            .min()
            .map(|(d, id)| (id, d))
    }

    #[test]
    fn find_matches_brute_force_on_random_data() {
        let mut rng = StdRng::seed_from_u64(0x5eed);
        for k in [0, 1, 3, 6, 7, 12, 20] {
            let mut index = NearDupIndex::new(k);
            let mut reps: Vec<(i64, u64)> = Vec::new();
            for id in 0..1_500i64 {
                // A third are near an earlier one, so buckets are shared and
                // several representatives compete.
                let hash = match reps.len() {
                    n if n > 0 && rng.random_bool(0.33) => {
                        let (_, base) = reps[rng.random_range(0..n)];
                        let bits = rng.random_range(0..=k + 2);
                        flip(&mut rng, base, bits)
                    }
                    _ => rng.random(),
                };
                index.insert(id, hash);
                reps.push((id, hash));
            }
            for _ in 0..1_500 {
                let query = if rng.random_bool(0.7) {
                    let (_, base) = reps[rng.random_range(0..reps.len())];
                    let bits = rng.random_range(0..=k + 3);
                    flip(&mut rng, base, bits)
                } else {
                    rng.random()
                };
                assert_eq!(
                    index.find(query),
                    brute_find(&reps, query, k),
                    "k={k} query={query:#x}"
                );
            }
        }
    }

    // -------------------------------------------------------------- cluster

    #[test]
    fn cluster_gives_each_item_its_representative_in_id_order() {
        let items = [
            (5, 0b1000_0000),     // near 1: joins it although listed first
            (1, 0),               // earliest: a representative
            (3, u64::MAX),        // far from everything: its own cluster
            (4, u64::MAX ^ 0b11), // 2 bits from 3
            (2, 0b1),             // 1 bit from 1
        ];
        assert_eq!(cluster(&items, 3), vec![1, 1, 3, 3, 1]);
        assert_eq!(cluster(&items, 0), vec![5, 1, 3, 4, 2]);
        assert!(cluster(&[], 3).is_empty());
    }

    #[test]
    fn cluster_members_do_not_attract_later_items() {
        // b is 3 bits from a; c is 3 bits from b but 6 from a.
        let (a, b, c) = (0u64, 0b111u64, 0b111_111u64);
        assert_eq!(cluster(&[(1, a), (2, b), (3, c)], 3), vec![1, 1, 3]);
    }

    #[test]
    fn cluster_prefers_the_closest_representative() {
        let items = [(1, 0u64), (2, 0b1111_0000), (3, 0b1110_0000)];
        // 3 is 3 bits from 1 and 1 bit from 2 (a representative: 4 from 1).
        assert_eq!(cluster(&items, 3), vec![1, 2, 2]);
    }

    #[test]
    fn cluster_of_exact_duplicates_is_the_first() {
        let items: Vec<(i64, u64)> = (1..=5).map(|id| (id, 0xDEAD_BEEF)).collect();
        assert_eq!(cluster(&items, 3), vec![1; 5]);
    }
}
