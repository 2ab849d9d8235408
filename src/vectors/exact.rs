//! Exact in-memory cosine top-k over news embeddings (issue #5).
//!
//! This is the embedded store's search index and the ground truth that the
//! Milvus index's recall is measured against (`benches/vectors.rs`), so it is
//! exact: the hits are always the true top-k by the full-precision `f32` dot
//! product, bit for bit what a plain scan of every candidate would return.
//!
//! Layout, and why:
//! - All vectors live in one contiguous `Vec<f32>` (`n × dim`), L2-normalised on
//!   the way in, so cosine similarity is a plain dot product.
//! - Rows are kept sorted by `(published_at, id)`. The point-in-time cut
//!   (`published_at < published_before`, which retrieval must always apply so
//!   that a backtest never sees the future) is then a binary search giving a
//!   row prefix: future articles are never even read.
//! - A stock → rows map (rows ascending) turns a stock filter into a gather of
//!   a few hundred rows instead of a scan.
//! - Exclusions (the query article, its near-duplicate cluster) and the
//!   similarity floor are checked only for rows that could enter the top-k,
//!   which is rare, so they cost nothing per scanned row.
//!
//! Large scans are memory-bound: 100k × 768 `f32` is 307 MB, and one core
//! here streams 6–8 GB/s, so a plain scan takes 30–45 ms whatever the
//! arithmetic, and 17–38 ms on both cores depending on the load on this
//! shared 2-core machine (`benches/vectors.rs`). Large scans therefore read
//! a 4× smaller `i8` copy first:
//! - Each row also has `i8` codes `c` with a scale `s` (`v̂ = s·c`) and a
//!   bound `e ≥ ‖v − v̂‖`; the query is encoded the same way.
//! - Pass 1 computes the integer dot product `⟨c_q, c_v⟩` (exact in `i32`)
//!   and from it, by Cauchy–Schwarz, an interval that provably contains the
//!   row's `f32` score: `⟨q,v⟩ = ⟨q̂,v̂⟩ + ⟨q−q̂,v⟩ + ⟨q̂,v−v̂⟩`, so
//!   `|⟨q,v⟩ − ⟨q̂,v̂⟩| ≤ e_q‖v‖ + ‖q̂‖e_v`, widened by a margin that covers
//!   every `f32` rounding (the `f32` dot product's own error included).
//! - Let `L` be the k-th largest lower bound among eligible rows. At least k
//!   rows score `≥ L`, so the true k-th score is `≥ L`, and every row of the
//!   true top-k has an upper bound `≥ L`. Pass 2 scores exactly, in `f32`,
//!   only the rows whose upper bound reaches `L` (typically tens to a few
//!   hundred) — so the result equals the plain scan's, ties included.
//! - Small scans (stock filters, small indexes) skip pass 1: they fit in
//!   cache and the plain `f32` scan is already fast.
//!
//! Scans of at least [`PARALLEL_MIN_ELEMS`] elements are split over the
//! available cores with `std::thread::scope` ([`ExactIndex::with_threads`]).
//!
//! The dot products are written so that they auto-vectorise on the baseline
//! x86-64 target (SSE2) and, when the CPU has AVX2, the same code is compiled a
//! second time with AVX2 enabled and picked at run time. Both versions perform
//! the same lane-wise operations in the same order (no FMA contraction), so
//! scores are bit-identical whichever path runs: results do not depend on the
//! machine, and no `RUSTFLAGS=-C target-cpu=native` is needed.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::ops::Range;

/// One news article's embedding and the metadata retrieval filters on.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorRecord {
    /// News article id (primary key).
    pub id: i64,
    /// Embedding, expected L2-normalised (re-normalised on insert anyway).
    pub vector: Vec<f32>,
    /// Stocks the article is linked to.
    pub stock_ids: Vec<i64>,
    /// Publication time, unix seconds.
    pub published_at: i64,
    /// Feed / site the article came from.
    pub source: String,
    /// Near-duplicate cluster the article belongs to.
    pub cluster_id: i64,
}

/// Restrictions applied to a similarity search.
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    /// Only articles linked to one of these stocks (`None`: any article).
    /// `Some(vec![])` matches nothing.
    pub stock_ids: Option<Vec<i64>>,
    /// Point in time: only articles with `published_at < published_before`
    /// (exclusive). Always applied — there is no "no cut" value, because
    /// retrieval without it leaks the future into backtests. (The `Default`
    /// of 0 therefore matches nothing, which fails closed.)
    pub published_before: i64,
    /// Never return these article ids (e.g. the query article itself).
    pub exclude_ids: Vec<i64>,
    /// Never return articles of these near-duplicate clusters (the query
    /// article's own cluster).
    pub exclude_clusters: Vec<i64>,
    /// Only hits with cosine similarity `>= min_similarity` (NaN: none).
    pub min_similarity: f32,
}

impl SearchFilter {
    /// A filter with only the point-in-time cut set (any stock, no
    /// exclusions, `min_similarity` 0).
    pub fn before(published_before: i64) -> Self {
        Self {
            published_before,
            ..Self::default()
        }
    }
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// News article id.
    pub id: i64,
    /// Cosine similarity to the query.
    pub similarity: f32,
}

/// Input rejected by the index (nothing is modified when an upsert fails).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VectorError {
    /// A vector's length differs from the index dimension.
    #[error("{what}: dimension {got}, index expects {expected}")]
    Dimension {
        /// `record <id>` or `query`.
        what: String,
        /// Length given.
        got: usize,
        /// Index dimension.
        expected: usize,
    },
    /// A vector contains NaN or ±∞.
    #[error("{what}: vector has a non-finite component")]
    NonFinite {
        /// `record <id>` or `query`.
        what: String,
    },
    /// A vector is all zeros: cosine similarity is undefined.
    #[error("{what}: vector has zero norm")]
    ZeroNorm {
        /// `record <id>` or `query`.
        what: String,
    },
}

/// How [`ExactIndex::search`] scores candidates. Every mode returns the same
/// (exact) hits; they differ only in speed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ScanMode {
    /// `QuantizedRerank` for scans of at least [`QUANTIZED_MIN_ELEMS`]
    /// elements, `Float` below.
    #[default]
    Auto,
    /// Score every candidate with the `f32` dot product.
    Float,
    /// `i8` bounds first, then `f32` for the rows that can still make the
    /// top-k (see the module docs).
    QuantizedRerank,
}

/// Scans of at least this many elements (rows × dim) are split over threads:
/// spawning costs tens of microseconds, scanning 1M elements hundreds.
pub const PARALLEL_MIN_ELEMS: usize = 1 << 20;

/// `ScanMode::Auto` uses the `i8` pass from this many elements (rows × dim,
/// 1 MB of `f32`): below, the rows are cache-resident and a plain scan wins.
pub const QUANTIZED_MIN_ELEMS: usize = 1 << 18;

/// The `i8` dot product sums `dim` products of at most 127² in an `i32`.
const QUANTIZED_MAX_DIM: usize = (i32::MAX / (127 * 127)) as usize;

/// Exact cosine top-k index; see the module docs for the layout.
#[derive(Debug, Clone)]
pub struct ExactIndex {
    dim: usize,
    /// Row-major `len × dim`, unit length, rows sorted by `(published_at, id)`.
    vectors: Vec<f32>,
    /// Row-major `len × dim` `i8` codes of `vectors`.
    codes: Vec<i8>,
    /// Per-row code scale and error bound.
    sketches: Vec<Sketch>,
    ids: Vec<i64>,
    published_at: Vec<i64>,
    cluster_ids: Vec<i64>,
    /// Sorted, deduplicated per row (kept to rebuild `by_stock`).
    stock_ids: Vec<Vec<i64>>,
    /// id → row.
    row_of: HashMap<i64, usize>,
    /// stock → rows linked to it, ascending.
    by_stock: HashMap<i64, Vec<u32>>,
    /// Upper bound on scan threads.
    threads: usize,
    mode: ScanMode,
}

/// `v̂ = scale · codes` and `err ≥ ‖v − v̂‖₂` (rounded up).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sketch {
    scale: f32,
    err: f32,
}

impl ExactIndex {
    /// An empty index for vectors of `dim` components (searches use up to
    /// all available cores, `ScanMode::Auto`).
    pub fn new(dim: usize) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            dim,
            vectors: Vec::new(),
            codes: Vec::new(),
            sketches: Vec::new(),
            ids: Vec::new(),
            published_at: Vec::new(),
            cluster_ids: Vec::new(),
            stock_ids: Vec::new(),
            row_of: HashMap::new(),
            by_stock: HashMap::new(),
            threads,
            mode: ScanMode::Auto,
        }
    }

    /// Caps the number of threads one search may use (minimum 1). Useful
    /// when many searches run concurrently and per-query parallelism only
    /// adds contention.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Forces a scan strategy (for benchmarks and tests; results are the
    /// same in every mode).
    pub fn with_scan_mode(mut self, mode: ScanMode) -> Self {
        self.mode = mode;
        self
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of stored vectors.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the index holds no vectors.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether `id` is stored.
    pub fn contains(&self, id: i64) -> bool {
        self.row_of.contains_key(&id)
    }

    /// All stored ids, ascending.
    pub fn ids(&self) -> Vec<i64> {
        let mut ids = self.ids.clone();
        ids.sort_unstable();
        ids
    }

    /// Inserts records, replacing any stored record with the same id (within
    /// the batch, the last record of an id wins). Vectors are L2-normalised.
    /// All-or-nothing: on error nothing is changed.
    ///
    /// Cost: appending records newer than everything stored (the usual case
    /// for news) is O(batch); anything else rewrites the arrays once per
    /// batch, O(len × dim) — so upsert in batches, not one by one.
    pub fn upsert(&mut self, records: &[VectorRecord]) -> Result<(), VectorError> {
        let dim = self.dim;
        // Validate, normalise and encode everything before touching the index.
        let mut staged_vectors = Vec::with_capacity(records.len() * dim);
        let mut staged_codes = Vec::with_capacity(records.len() * dim);
        let mut staged_sketches = Vec::with_capacity(records.len());
        for record in records {
            let what = || format!("record {}", record.id);
            let vector = normalized(&record.vector, dim, what)?;
            staged_sketches.push(encode(&vector, &mut staged_codes));
            staged_vectors.extend_from_slice(&vector);
        }
        // Last occurrence of an id wins; order the batch like the rows.
        let mut last: HashMap<i64, usize> = HashMap::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            last.insert(record.id, i);
        }
        let mut order: Vec<usize> = last.into_values().collect();
        order.sort_unstable_by_key(|&i| (records[i].published_at, records[i].id));
        let Some(&first) = order.first() else {
            return Ok(());
        };
        let staged = |i: usize| StagedRow {
            record: &records[i],
            vector: &staged_vectors[i * dim..(i + 1) * dim],
            codes: &staged_codes[i * dim..(i + 1) * dim],
            sketch: staged_sketches[i],
        };

        let replaced: Vec<usize> = order
            .iter()
            .filter_map(|&i| self.row_of.get(&records[i].id).copied())
            .collect();
        let first = &records[first];
        let appends_at_end =
            replaced.is_empty()
                && self.ids.last().zip(self.published_at.last()).is_none_or(
                    |(&last_id, &last_at)| (first.published_at, first.id) > (last_at, last_id),
                );

        if appends_at_end {
            for &i in &order {
                let row = self.len();
                self.push_staged(staged(i));
                self.row_of.insert(records[i].id, row);
                let row = row_index(row);
                for &stock in &self.stock_ids[row as usize] {
                    self.by_stock.entry(stock).or_default().push(row);
                }
            }
            return Ok(());
        }

        // General case: merge the surviving rows with the sorted batch into
        // fresh arrays, then rebuild the maps.
        let mut keep = vec![true; self.len()];
        for row in replaced {
            keep[row] = false;
        }
        let empty = Self::new(dim)
            .with_threads(self.threads)
            .with_scan_mode(self.mode);
        let old = std::mem::replace(self, empty);
        let total = old.len() + order.len();
        self.vectors.reserve_exact(total * dim);
        self.codes.reserve_exact(total * dim);
        let mut old_rows = (0..old.len()).filter(|&r| keep[r]).peekable();
        let mut new_rows = order.iter().copied().peekable();
        loop {
            let take_old = match (old_rows.peek(), new_rows.peek()) {
                (Some(&r), Some(&i)) => {
                    (old.published_at[r], old.ids[r]) < (records[i].published_at, records[i].id)
                }
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_old {
                if let Some(r) = old_rows.next() {
                    self.vectors.extend_from_slice(old.row(r));
                    self.codes.extend_from_slice(old.row_codes(r));
                    self.sketches.push(old.sketches[r]);
                    self.ids.push(old.ids[r]);
                    self.published_at.push(old.published_at[r]);
                    self.cluster_ids.push(old.cluster_ids[r]);
                    self.stock_ids.push(old.stock_ids[r].clone());
                }
            } else if let Some(i) = new_rows.next() {
                self.push_staged(staged(i));
            }
        }
        self.rebuild_maps();
        Ok(())
    }

    /// Removes the given ids (unknown ids are ignored); returns how many
    /// were removed.
    pub fn remove(&mut self, ids: &[i64]) -> usize {
        let mut keep = vec![true; self.len()];
        let mut removed = 0;
        for id in ids {
            if let Some(&row) = self.row_of.get(id) {
                if keep[row] {
                    keep[row] = false;
                    removed += 1;
                }
            }
        }
        if removed == 0 {
            return 0;
        }
        // Compact in place, preserving the sort order.
        let dim = self.dim;
        let mut write = 0;
        for (read, &kept) in keep.iter().enumerate() {
            if kept {
                if write != read {
                    let (from, to) = (read * dim..(read + 1) * dim, write * dim);
                    self.vectors.copy_within(from.clone(), to);
                    self.codes.copy_within(from, to);
                }
                write += 1;
            }
        }
        self.vectors.truncate(write * dim);
        self.codes.truncate(write * dim);
        retain_rows(&mut self.sketches, &keep);
        retain_rows(&mut self.ids, &keep);
        retain_rows(&mut self.published_at, &keep);
        retain_rows(&mut self.cluster_ids, &keep);
        retain_rows(&mut self.stock_ids, &keep);
        self.rebuild_maps();
        removed
    }

    /// The `k` most similar stored vectors to `query` that pass `filter`,
    /// by descending cosine similarity, ties by smaller id. Exact.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<Hit>, VectorError> {
        let query = normalized(query, self.dim, || "query".to_owned())?;
        if k == 0 || self.is_empty() || filter.min_similarity.is_nan() {
            return Ok(Vec::new());
        }
        // Rows [0, cut) were published strictly before the cut.
        let cut = self
            .published_at
            .partition_point(|&t| t < filter.published_before);
        let mut exclude_ids = filter.exclude_ids.clone();
        exclude_ids.sort_unstable();
        let mut exclude_clusters = filter.exclude_clusters.clone();
        exclude_clusters.sort_unstable();
        let scan = Scan {
            index: self,
            query: &query,
            k,
            min_similarity: filter.min_similarity,
            exclude_ids: &exclude_ids,
            exclude_clusters: &exclude_clusters,
        };

        let stock_rows;
        let rows = match &filter.stock_ids {
            None => Rows::Range(0..cut),
            Some(stocks) => {
                let mut rows: Vec<u32> = Vec::new();
                for stock in stocks {
                    if let Some(linked) = self.by_stock.get(stock) {
                        let before = linked.partition_point(|&r| (r as usize) < cut);
                        rows.extend_from_slice(&linked[..before]);
                    }
                }
                // An article linked to two of the stocks appears twice.
                rows.sort_unstable();
                rows.dedup();
                stock_rows = rows;
                Rows::List(&stock_rows)
            }
        };
        let elems = rows.len().saturating_mul(self.dim);
        let quantized = self.dim <= QUANTIZED_MAX_DIM
            && match self.mode {
                ScanMode::Auto => elems >= QUANTIZED_MIN_ELEMS,
                ScanMode::Float => false,
                ScanMode::QuantizedRerank => true,
            };
        let best = if quantized {
            scan.quantized(rows)
        } else {
            scan.float(rows)
        };
        Ok(best
            .into_iter()
            .map(|c| Hit {
                id: c.id,
                similarity: c.score,
            })
            .collect())
    }

    fn row(&self, row: usize) -> &[f32] {
        &self.vectors[row * self.dim..(row + 1) * self.dim]
    }

    fn row_codes(&self, row: usize) -> &[i8] {
        &self.codes[row * self.dim..(row + 1) * self.dim]
    }

    fn push_staged(&mut self, staged: StagedRow<'_>) {
        let mut stocks = staged.record.stock_ids.clone();
        stocks.sort_unstable();
        stocks.dedup();
        self.vectors.extend_from_slice(staged.vector);
        self.codes.extend_from_slice(staged.codes);
        self.sketches.push(staged.sketch);
        self.ids.push(staged.record.id);
        self.published_at.push(staged.record.published_at);
        self.cluster_ids.push(staged.record.cluster_id);
        self.stock_ids.push(stocks);
    }

    fn rebuild_maps(&mut self) {
        self.row_of = self
            .ids
            .iter()
            .enumerate()
            .map(|(row, &id)| (id, row))
            .collect();
        self.by_stock.clear();
        for (row, stocks) in self.stock_ids.iter().enumerate() {
            for &stock in stocks {
                self.by_stock.entry(stock).or_default().push(row_index(row));
            }
        }
    }
}

/// A validated, normalised, encoded record waiting to be stored.
struct StagedRow<'a> {
    record: &'a VectorRecord,
    vector: &'a [f32],
    codes: &'a [i8],
    sketch: Sketch,
}

fn retain_rows<T>(values: &mut Vec<T>, keep: &[bool]) {
    let mut flags = keep.iter();
    values.retain(|_| flags.next().copied().unwrap_or(false));
}

/// Rows are stored as `u32` in the stock map to halve its size; four
/// billion articles is far beyond what an in-memory index holds.
fn row_index(row: usize) -> u32 {
    u32::try_from(row).unwrap_or(u32::MAX)
}

/// Checks `v` against the index dimension and returns it scaled to unit
/// length (cosine similarity of unit vectors is their dot product).
fn normalized(v: &[f32], dim: usize, what: impl Fn() -> String) -> Result<Vec<f32>, VectorError> {
    if v.len() != dim {
        return Err(VectorError::Dimension {
            what: what(),
            got: v.len(),
            expected: dim,
        });
    }
    if !v.iter().all(|x| x.is_finite()) {
        return Err(VectorError::NonFinite { what: what() });
    }
    // Accumulate the norm in f64: no overflow for large finite components.
    let norm = v
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return Err(VectorError::ZeroNorm { what: what() });
    }
    let scale = (1.0 / norm) as f32;
    let unit: Vec<f32> = v.iter().map(|&x| x * scale).collect();
    // Tiny components can underflow to zero after scaling.
    if unit.iter().all(|&x| x == 0.0) {
        return Err(VectorError::ZeroNorm { what: what() });
    }
    Ok(unit)
}

/// Symmetric per-vector `i8` encoding: appends the codes of `v` to `codes`
/// and returns the scale and a rounded-up bound on the encoding error.
fn encode(v: &[f32], codes: &mut Vec<i8>) -> Sketch {
    let max_abs = v.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
    let scale = max_abs / 127.0;
    let mut err2 = 0.0f64;
    for &x in v {
        let code = if scale > 0.0 {
            (x / scale).round().clamp(-127.0, 127.0)
        } else {
            0.0
        };
        codes.push(code as i8);
        // The error against the exact real value scale·code, in f64 (exact
        // products of an f32 and a small integer; sums rounded ≤ 1e-15).
        let diff = f64::from(x) - f64::from(scale) * f64::from(code);
        err2 += diff * diff;
    }
    // Round up twice over: f64 summation error is ~1e-16 relative.
    let err = (err2.sqrt() * (1.0 + 1e-9)) as f32;
    Sketch {
        scale,
        err: err.next_up(),
    }
}

/// Dot product of two equal-length slices (the shorter length is used if
/// they differ). Picks the AVX2 build when the CPU has it; both builds give
/// bit-identical results (see the module docs).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), the only
            // requirement of calling a `target_feature(enable = "avx2")` fn.
            return unsafe { dot_avx2(a, b) };
        }
    }
    dot_portable(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_portable(a, b)
}

/// 16 independent accumulators: several vector registers' worth of
/// independent add chains, so the loop is limited by loads, not by add
/// latency, and LLVM turns the fixed-size inner loop into SIMD code.
#[inline(always)]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let chunks_a = a.chunks_exact(LANES);
    let chunks_b = b.chunks_exact(LANES);
    let (tail_a, tail_b) = (chunks_a.remainder(), chunks_b.remainder());
    for (x, y) in chunks_a.zip(chunks_b) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    for (i, (x, y)) in tail_a.iter().zip(tail_b).enumerate() {
        acc[i] += x * y;
    }
    // Fixed pairwise reduction order (keeps results reproducible).
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            acc[i] += acc[i + width];
        }
        width /= 2;
    }
    acc[0]
}

/// Integer dot product of `i8` codes (exact: see `QUANTIZED_MAX_DIM`).
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as in `dot`.
            return unsafe { dot_i8_avx2(a, b) };
        }
    }
    dot_i8_portable(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    dot_i8_portable(a, b)
}

/// Pairs of widened products summed into `i32` lanes: the shape LLVM maps
/// to `pmaddwd`. With AVX2 this streams ~9 GB/s here, with SSE2 ~3 GB/s.
#[inline(always)]
fn dot_i8_portable(a: &[i8], b: &[i8]) -> i32 {
    const LANES: usize = 32;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0i32; LANES / 2];
    let chunks_a = a.chunks_exact(LANES);
    let chunks_b = b.chunks_exact(LANES);
    let (tail_a, tail_b) = (chunks_a.remainder(), chunks_b.remainder());
    for (x, y) in chunks_a.zip(chunks_b) {
        for i in 0..LANES / 2 {
            acc[i] += i32::from(x[2 * i]) * i32::from(y[2 * i])
                + i32::from(x[2 * i + 1]) * i32::from(y[2 * i + 1]);
        }
    }
    let mut sum: i32 = acc.iter().sum();
    for (x, y) in tail_a.iter().zip(tail_b) {
        sum += i32::from(*x) * i32::from(*y);
    }
    sum
}

/// The rows a search scores.
#[derive(Clone)]
enum Rows<'a> {
    Range(Range<usize>),
    List(&'a [u32]),
}

impl Rows<'_> {
    fn len(&self) -> usize {
        match self {
            Rows::Range(range) => range.len(),
            Rows::List(rows) => rows.len(),
        }
    }

    fn for_each(&self, mut f: impl FnMut(usize)) {
        match self {
            Rows::Range(range) => range.clone().for_each(f),
            Rows::List(rows) => rows.iter().for_each(|&row| f(row as usize)),
        }
    }

    fn split(self, parts: usize) -> Vec<Self> {
        let len = self.len();
        let per = len.div_ceil(parts.max(1)).max(1);
        match self {
            Rows::Range(range) => range
                .clone()
                .step_by(per)
                .map(|start| Rows::Range(start..(start + per).min(range.end)))
                .collect(),
            Rows::List(rows) => rows.chunks(per).map(Rows::List).collect(),
        }
    }
}

/// A scored candidate. Ordered so that the *worst* candidate is the
/// greatest: lower score is worse, and at equal score the larger id is
/// worse (ties go to the smaller id). `BinaryHeap` then keeps the worst of
/// the current top-k on top, ready to be evicted.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    score: f32,
    id: i64,
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

/// An `f32` with a total order, for heaps of bounds.
#[derive(Debug, Clone, Copy)]
struct TotalF32(f32);

impl Ord for TotalF32 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl PartialOrd for TotalF32 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for TotalF32 {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for TotalF32 {}

/// The exact top-k so far: a bounded heap with the worst on top.
struct TopK {
    k: usize,
    heap: BinaryHeap<Candidate>,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// Whether `candidate` would enter (beats the current k-th).
    fn admits(&self, candidate: &Candidate) -> bool {
        self.heap.len() < self.k || self.heap.peek().is_some_and(|worst| candidate < worst)
    }

    fn push(&mut self, candidate: Candidate) {
        self.heap.push(candidate);
        if self.heap.len() > self.k {
            self.heap.pop();
        }
    }

    /// The k-th best score once k candidates are held.
    fn kth_score(&self) -> Option<f32> {
        (self.heap.len() == self.k)
            .then(|| self.heap.peek().map(|worst| worst.score))
            .flatten()
    }
}

/// Pass-1 output of one part of a quantised scan.
struct Bounds {
    /// The k largest lower bounds seen (min-heap).
    lower: BinaryHeap<Reverse<TotalF32>>,
    /// Eligible rows whose upper bound reached the running threshold.
    candidates: Vec<(u32, f32)>,
}

/// One search's parameters, shared by the scanning threads.
struct Scan<'a> {
    index: &'a ExactIndex,
    query: &'a [f32],
    k: usize,
    min_similarity: f32,
    exclude_ids: &'a [i64],
    exclude_clusters: &'a [i64],
}

impl Scan<'_> {
    fn excluded(&self, row: usize) -> bool {
        self.exclude_ids.binary_search(&self.index.ids[row]).is_ok()
            || self
                .exclude_clusters
                .binary_search(&self.index.cluster_ids[row])
                .is_ok()
    }

    /// Runs `part` over `rows`, split over threads when the scan is large.
    fn in_parts<R: Send>(&self, rows: Rows<'_>, part: impl Fn(Rows<'_>) -> R + Sync) -> Vec<R> {
        let elems = rows.len().saturating_mul(self.index.dim);
        let parts = if elems >= PARALLEL_MIN_ELEMS {
            self.index.threads.min(rows.len()).max(1)
        } else {
            1
        };
        if parts == 1 {
            return vec![part(rows)];
        }
        let part = &part;
        let mut chunks = rows.split(parts).into_iter();
        let first = chunks.next();
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunks
                .map(|chunk| scope.spawn(move || part(chunk)))
                .collect();
            // The calling thread scans a share too.
            let mut results: Vec<R> = first.map(part).into_iter().collect();
            for handle in handles {
                match handle.join() {
                    Ok(result) => results.push(result),
                    // A scan only indexes in-bounds rows; a panic is a bug, so
                    // surface it rather than return partial results.
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            results
        })
    }

    /// Plain scan: every row scored in `f32`. Best first.
    fn float(&self, rows: Rows<'_>) -> Vec<Candidate> {
        let parts = self.in_parts(rows, |rows| {
            let mut top = TopK::new(self.k);
            // Scores below the floor cannot enter: the similarity threshold,
            // then, once k are held, the k-th best score.
            let mut floor = self.min_similarity;
            rows.for_each(|row| {
                let score = dot(self.query, self.index.row(row));
                if score < floor {
                    return;
                }
                let candidate = Candidate {
                    score,
                    id: self.index.ids[row],
                };
                if top.admits(&candidate) && !self.excluded(row) {
                    top.push(candidate);
                    floor = floor.max(top.kth_score().unwrap_or(f32::NEG_INFINITY));
                }
            });
            top.heap.into_vec()
        });
        let mut best: Vec<Candidate> = parts.into_iter().flatten().collect();
        best.sort_unstable();
        best.truncate(self.k);
        best
    }

    /// Two-pass scan (see the module docs): `i8` bounds, then exact `f32`
    /// scores for the rows that can still make the top-k. Best first.
    fn quantized(&self, rows: Rows<'_>) -> Vec<Candidate> {
        let dim = self.index.dim;
        let mut query_codes = Vec::with_capacity(dim);
        let query_sketch = encode(self.query, &mut query_codes);
        // |f32 score − ⟨q̂,v̂⟩| ≤ e_q‖v‖ + ‖q̂‖e_v + rounding, with ‖v‖ ≤ 1 + 1e-4
        // and ‖q̂‖ ≤ ‖q‖ + e_q. The margin covers the f32 dot product's
        // rounding for any summation order (≤ (dim+1)·2⁻²⁴ for unit vectors)
        // twice over (ε = 2⁻²³), plus the few roundings of computing the
        // bounds themselves in f32 (< 1e-6).
        let margin = (dim as f32 + 16.0) * f32::EPSILON + 1e-6;
        let per_row_err = 1.0 + query_sketch.err + 1e-4;
        let fixed = query_sketch.err * (1.0 + 1e-4) + margin;

        let parts = self.in_parts(rows, |rows| {
            let mut bounds = Bounds {
                lower: BinaryHeap::with_capacity(self.k + 1),
                candidates: Vec::new(),
            };
            let mut floor = self.min_similarity;
            rows.for_each(|row| {
                let sketch = self.index.sketches[row];
                let approx = query_sketch.scale
                    * sketch.scale
                    * dot_i8(&query_codes, self.index.row_codes(row)) as f32;
                let slack = fixed + per_row_err * sketch.err;
                let upper = approx + slack;
                if upper < floor || self.excluded(row) {
                    return;
                }
                bounds.candidates.push((row_index(row), upper));
                bounds.lower.push(Reverse(TotalF32(approx - slack)));
                if bounds.lower.len() > self.k {
                    bounds.lower.pop();
                }
                if bounds.lower.len() == self.k {
                    if let Some(Reverse(TotalF32(kth))) = bounds.lower.peek() {
                        floor = floor.max(*kth);
                    }
                }
            });
            bounds
        });

        // L: the k-th largest lower bound over all parts (each part kept its
        // own k largest, so the global k largest are among them).
        let mut lower: Vec<f32> = parts
            .iter()
            .flat_map(|part| part.lower.iter().map(|Reverse(TotalF32(lb))| *lb))
            .collect();
        lower.sort_unstable_by(|a, b| b.total_cmp(a));
        let kth_lower = lower.get(self.k - 1).copied().unwrap_or(f32::NEG_INFINITY);
        let threshold = kth_lower.max(self.min_similarity);
        let mut candidates: Vec<(u32, f32)> = parts
            .into_iter()
            .flat_map(|part| part.candidates)
            .filter(|&(_, upper)| upper >= threshold)
            .collect();
        // Most promising first, so the exact top-k fills early and the rest
        // is cut off by its upper bound.
        candidates.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));

        let mut top = TopK::new(self.k);
        for (row, upper) in candidates {
            if top.kth_score().is_some_and(|kth| upper < kth) {
                break;
            }
            let row = row as usize;
            let score = dot(self.query, self.index.row(row));
            let candidate = Candidate {
                score,
                id: self.index.ids[row],
            };
            if score >= self.min_similarity && top.admits(&candidate) {
                top.push(candidate);
            }
        }
        let mut best = top.heap.into_vec();
        best.sort_unstable();
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    const DIM: usize = 24;

    fn random_vector(rng: &mut StdRng, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    fn record(id: i64, vector: Vec<f32>, stocks: &[i64], at: i64, cluster: i64) -> VectorRecord {
        VectorRecord {
            id,
            vector,
            stock_ids: stocks.to_vec(),
            published_at: at,
            source: "test".into(),
            cluster_id: cluster,
        }
    }

    /// Axis 0 tilted towards axis 1 by `tilt`: the cosine with axis 0
    /// decreases as `|tilt|` grows.
    fn tilted(tilt: f32) -> Vec<f32> {
        let mut v = vec![0.0; DIM];
        v[0] = 1.0;
        v[1] = tilt;
        v
    }

    /// Runs a search in both scan modes, checks they agree, returns it: the
    /// scenario tests below then cover the quantised path too.
    trait SearchBoth {
        fn search_both(
            &self,
            query: &[f32],
            k: usize,
            filter: &SearchFilter,
        ) -> Result<Vec<Hit>, VectorError>;
    }

    impl SearchBoth for ExactIndex {
        fn search_both(
            &self,
            query: &[f32],
            k: usize,
            filter: &SearchFilter,
        ) -> Result<Vec<Hit>, VectorError> {
            let float = self.clone().with_scan_mode(ScanMode::Float);
            let quantized = self.clone().with_scan_mode(ScanMode::QuantizedRerank);
            let hits = float.search(query, k, filter);
            assert_eq!(hits, quantized.search(query, k, filter));
            hits
        }
    }

    /// The filter semantics, written as plainly as possible.
    fn brute_force(
        records: &HashMap<i64, VectorRecord>,
        query: &[f32],
        k: usize,
        filter: &SearchFilter,
    ) -> Vec<Hit> {
        let dim = query.len();
        let q = normalized(query, dim, String::new).expect("valid query");
        let mut hits: Vec<Hit> = records
            .values()
            .filter(|r| r.published_at < filter.published_before)
            .filter(|r| !filter.exclude_ids.contains(&r.id))
            .filter(|r| !filter.exclude_clusters.contains(&r.cluster_id))
            .filter(|r| match &filter.stock_ids {
                None => true,
                Some(stocks) => r.stock_ids.iter().any(|s| stocks.contains(s)),
            })
            .map(|r| Hit {
                id: r.id,
                similarity: dot(&q, &normalized(&r.vector, dim, String::new).expect("valid")),
            })
            .filter(|h| h.similarity >= filter.min_similarity)
            .collect();
        hits.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(a.id.cmp(&b.id)));
        hits.truncate(k);
        hits
    }

    fn random_records(rng: &mut StdRng, n: usize, dim: usize) -> Vec<VectorRecord> {
        (0..n)
            .map(|i| {
                let stocks: Vec<i64> = (0..rng.random_range(0..3))
                    .map(|_| rng.random_range(1..20))
                    .collect();
                record(
                    i as i64 * 7 + 3,
                    random_vector(rng, dim),
                    &stocks,
                    rng.random_range(1_000..2_000),
                    rng.random_range(0..50),
                )
            })
            .collect()
    }

    #[test]
    fn dot_matches_f64_reference() {
        let mut rng = StdRng::seed_from_u64(1);
        for len in [0, 1, 7, 16, 17, 33, 768, 1536] {
            let a = random_vector(&mut rng, len);
            let b = random_vector(&mut rng, len);
            let reference: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| f64::from(*x) * f64::from(*y))
                .sum();
            assert!(
                (f64::from(dot(&a, &b)) - reference).abs() < 1e-3,
                "len {len}"
            );
            assert_eq!(dot(&a, &b).to_bits(), dot_portable(&a, &b).to_bits());
        }
    }

    #[test]
    fn matches_brute_force_with_filters() {
        let mut rng = StdRng::seed_from_u64(42);
        let records = random_records(&mut rng, 600, DIM);
        let by_id: HashMap<i64, VectorRecord> = records.iter().map(|r| (r.id, r.clone())).collect();
        let mut index = ExactIndex::new(DIM);
        // Batches with random times: the first appends, later ones merge.
        for batch in records.chunks(97) {
            index.upsert(batch).expect("valid records");
        }
        assert_eq!(index.len(), records.len());
        let modes = [
            index.clone().with_scan_mode(ScanMode::Float),
            index.clone().with_scan_mode(ScanMode::QuantizedRerank),
        ];
        for case in 0..300 {
            let query = random_vector(&mut rng, DIM);
            let filter = SearchFilter {
                stock_ids: (case % 3 == 0).then(|| vec![rng.random_range(1..20), 5]),
                published_before: rng.random_range(900..2_100),
                exclude_ids: (0..rng.random_range(0..4))
                    .map(|_| records[rng.random_range(0..records.len())].id)
                    .collect(),
                exclude_clusters: (0..rng.random_range(0..3))
                    .map(|_| rng.random_range(0..50))
                    .collect(),
                min_similarity: if case % 4 == 0 { 0.2 } else { -1.0 },
            };
            let k = [1, 5, 10, 50][case % 4];
            let expected = brute_force(&by_id, &query, k, &filter);
            for index in &modes {
                let got = index.search(&query, k, &filter).expect("valid query");
                assert_eq!(got, expected, "case {case}, {:?}", index.mode);
            }
        }
    }

    /// Clustered 768-d data with exact duplicates (ties): the quantised
    /// two-pass scan must return exactly what the plain scan returns.
    #[test]
    fn quantized_scan_equals_float_scan() {
        let dim = 768;
        let mut rng = StdRng::seed_from_u64(99);
        let centres: Vec<Vec<f32>> = (0..20).map(|_| random_vector(&mut rng, dim)).collect();
        let mut records = Vec::new();
        for i in 0..3_000i64 {
            let centre = &centres[rng.random_range(0..centres.len())];
            let vector = if i % 10 == 9 {
                // A duplicate of the previous vector under a new id.
                records
                    .last()
                    .map_or_else(|| centre.clone(), |r: &VectorRecord| r.vector.clone())
            } else {
                centre
                    .iter()
                    .map(|c| c + rng.random_range(-0.4f32..0.4))
                    .collect()
            };
            records.push(record(
                i,
                vector,
                &[i % 7],
                rng.random_range(0..1_000),
                i / 3,
            ));
        }
        let mut index = ExactIndex::new(dim);
        index.upsert(&records).expect("valid records");
        let float = index.clone().with_scan_mode(ScanMode::Float);
        let quantized = index.clone().with_scan_mode(ScanMode::QuantizedRerank);
        let single = quantized.clone().with_threads(1);
        for case in 0..60 {
            let query = if case % 3 == 0 {
                // A stored vector: ties with its duplicate at the top.
                records[rng.random_range(0..records.len())].vector.clone()
            } else {
                let centre = &centres[rng.random_range(0..centres.len())];
                centre
                    .iter()
                    .map(|c| c + rng.random_range(-0.5f32..0.5))
                    .collect()
            };
            let filter = SearchFilter {
                stock_ids: (case % 5 == 0).then(|| vec![case % 7]),
                published_before: rng.random_range(200..1_100),
                exclude_clusters: vec![rng.random_range(0..1_000)],
                min_similarity: if case % 4 == 0 { 0.5 } else { -1.0 },
                ..SearchFilter::default()
            };
            let k = [1, 10, 100][case as usize % 3];
            let expected = float.search(&query, k, &filter).expect("valid");
            assert_eq!(
                quantized.search(&query, k, &filter).expect("valid"),
                expected
            );
            assert_eq!(single.search(&query, k, &filter).expect("valid"), expected);
            assert_eq!(index.search(&query, k, &filter).expect("valid"), expected);
        }
    }

    #[test]
    fn encoding_error_bound_holds() {
        let mut rng = StdRng::seed_from_u64(5);
        for dim in [1, 3, 768] {
            for _ in 0..50 {
                let v = normalized(&random_vector(&mut rng, dim), dim, String::new).expect("valid");
                let mut codes = Vec::new();
                let sketch = encode(&v, &mut codes);
                let err: f64 = v
                    .iter()
                    .zip(&codes)
                    .map(|(&x, &c)| {
                        let d = f64::from(x) - f64::from(sketch.scale) * f64::from(c);
                        d * d
                    })
                    .sum::<f64>()
                    .sqrt();
                assert!(f64::from(sketch.err) >= err);
                // Per-vector 8-bit codes of a unit vector: error ~1e-2.
                assert!(sketch.err < 0.05, "dim {dim}: {}", sketch.err);
            }
        }
    }

    #[test]
    fn parallel_scan_matches_single_thread() {
        // Big enough to cross PARALLEL_MIN_ELEMS.
        let dim = 256;
        let mut rng = StdRng::seed_from_u64(7);
        let records = random_records(&mut rng, (PARALLEL_MIN_ELEMS / dim) * 2 + 11, dim);
        let mut parallel = ExactIndex::new(dim)
            .with_threads(3)
            .with_scan_mode(ScanMode::Float);
        parallel.upsert(&records).expect("valid records");
        let single = parallel.clone().with_threads(1);
        for _ in 0..5 {
            let query = random_vector(&mut rng, dim);
            let filter = SearchFilter {
                published_before: 1_900,
                exclude_clusters: vec![3],
                min_similarity: -1.0,
                ..SearchFilter::default()
            };
            assert_eq!(
                parallel.search(&query, 10, &filter).expect("valid"),
                single.search(&query, 10, &filter).expect("valid"),
            );
        }
    }

    #[test]
    fn point_in_time_cut_is_exclusive() {
        let mut index = ExactIndex::new(DIM);
        index
            .upsert(&[
                record(1, tilted(0.0), &[], 1_000, 1),
                record(2, tilted(0.1), &[], 999, 2),
                record(3, tilted(0.2), &[], 1_001, 3),
            ])
            .expect("valid");
        let got = index
            .search_both(&tilted(0.0), 10, &SearchFilter::before(1_000))
            .expect("valid");
        assert_eq!(got.iter().map(|h| h.id).collect::<Vec<_>>(), vec![2]);
        let got = index
            .search_both(&tilted(0.0), 10, &SearchFilter::before(1_001))
            .expect("valid");
        assert_eq!(got.iter().map(|h| h.id).collect::<Vec<_>>(), vec![1, 2]);
        // The Default filter (cut at 0) fails closed.
        assert!(index
            .search_both(&tilted(0.0), 10, &SearchFilter::default())
            .expect("valid")
            .is_empty());
    }

    #[test]
    fn excludes_ids_and_clusters() {
        let mut index = ExactIndex::new(DIM);
        index
            .upsert(&[
                record(1, tilted(0.0), &[], 10, 100),
                record(2, tilted(0.1), &[], 10, 100),
                record(3, tilted(0.2), &[], 10, 200),
                record(4, tilted(0.3), &[], 10, 300),
                record(5, tilted(0.4), &[], 10, 400),
            ])
            .expect("valid");
        let filter = SearchFilter {
            exclude_ids: vec![3],
            exclude_clusters: vec![100],
            ..SearchFilter::before(11)
        };
        let got = index.search_both(&tilted(0.0), 2, &filter).expect("valid");
        assert_eq!(got.iter().map(|h| h.id).collect::<Vec<_>>(), vec![4, 5]);
    }

    #[test]
    fn stock_filter_matches_any_listed_stock() {
        let mut index = ExactIndex::new(DIM);
        index
            .upsert(&[
                record(1, tilted(0.0), &[12], 10, 1),
                record(2, tilted(0.1), &[47, 12], 10, 2),
                record(3, tilted(0.2), &[47], 10, 3),
                record(4, tilted(0.3), &[], 10, 4),
                record(5, tilted(0.4), &[99], 10, 5),
                record(6, tilted(0.05), &[12], 20, 6),
            ])
            .expect("valid");
        let ids = |stocks: Option<Vec<i64>>| {
            let filter = SearchFilter {
                stock_ids: stocks,
                ..SearchFilter::before(15)
            };
            index
                .search_both(&tilted(0.0), 10, &filter)
                .expect("valid")
                .iter()
                .map(|h| h.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(Some(vec![47])), vec![2, 3]);
        assert_eq!(ids(Some(vec![12, 47])), vec![1, 2, 3]);
        assert_eq!(ids(Some(vec![])), Vec::<i64>::new());
        assert_eq!(ids(None), vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn min_similarity_and_tie_break() {
        let mut index = ExactIndex::new(DIM);
        index
            .upsert(&[
                record(9, tilted(0.5), &[], 10, 1),
                record(4, tilted(0.5), &[], 11, 2),
                record(7, tilted(0.0), &[], 12, 3),
                record(8, tilted(-3.0), &[], 12, 4),
            ])
            .expect("valid");
        let filter = SearchFilter {
            min_similarity: 0.5,
            ..SearchFilter::before(100)
        };
        let got = index.search_both(&tilted(0.0), 10, &filter).expect("valid");
        // 7 (cos 1), then the tie 4 and 9 by smaller id; 8 (cos ~0.32) is cut.
        assert_eq!(got.iter().map(|h| h.id).collect::<Vec<_>>(), vec![7, 4, 9]);
        assert!((got[0].similarity - 1.0).abs() < 1e-6);
        assert_eq!(got[1].similarity, got[2].similarity);
        let top2 = index
            .search_both(&tilted(0.0), 2, &filter)
            .expect("valid")
            .iter()
            .map(|h| h.id)
            .collect::<Vec<_>>();
        assert_eq!(top2, vec![7, 4]);
    }

    #[test]
    fn upsert_replaces_by_id() {
        let mut index = ExactIndex::new(DIM);
        index
            .upsert(&[
                record(1, tilted(0.0), &[5], 10, 1),
                record(2, tilted(1.0), &[5], 20, 2),
            ])
            .expect("valid");
        // Move id 1 later in time, away from the query, to another stock.
        index
            .upsert(&[record(1, tilted(-2.0), &[6], 30, 1)])
            .expect("valid");
        assert_eq!(index.len(), 2);
        assert_eq!(index.ids(), vec![1, 2]);
        let all = index
            .search_both(&tilted(0.0), 10, &SearchFilter::before(100))
            .expect("valid");
        assert_eq!(all.iter().map(|h| h.id).collect::<Vec<_>>(), vec![2, 1]);
        let before_25 = index
            .search_both(&tilted(0.0), 10, &SearchFilter::before(25))
            .expect("valid");
        assert_eq!(before_25.iter().map(|h| h.id).collect::<Vec<_>>(), vec![2]);
        let stock_5 = SearchFilter {
            stock_ids: Some(vec![5]),
            ..SearchFilter::before(100)
        };
        let got = index
            .search_both(&tilted(0.0), 10, &stock_5)
            .expect("valid");
        assert_eq!(got.iter().map(|h| h.id).collect::<Vec<_>>(), vec![2]);
        // Within one batch, the last record of an id wins.
        index
            .upsert(&[
                record(3, tilted(0.0), &[], 5, 1),
                record(3, tilted(0.0), &[], 40, 1),
            ])
            .expect("valid");
        assert_eq!(index.len(), 3);
        let got = index
            .search_both(&tilted(0.0), 10, &SearchFilter::before(30))
            .expect("valid");
        assert!(got.iter().all(|h| h.id != 3));
    }

    #[test]
    fn remove_deletes_and_ignores_unknown_ids() {
        let mut index = ExactIndex::new(DIM);
        index
            .upsert(&[
                record(1, tilted(0.0), &[5], 10, 1),
                record(2, tilted(0.1), &[5], 20, 2),
                record(3, tilted(0.2), &[5], 30, 3),
            ])
            .expect("valid");
        assert_eq!(index.remove(&[2, 2, 99]), 1);
        assert_eq!(index.ids(), vec![1, 3]);
        assert!(!index.contains(2));
        let stock_5 = SearchFilter {
            stock_ids: Some(vec![5]),
            ..SearchFilter::before(100)
        };
        let got = index
            .search_both(&tilted(0.0), 10, &stock_5)
            .expect("valid");
        assert_eq!(got.iter().map(|h| h.id).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(index.remove(&[1, 3]), 2);
        assert!(index.is_empty());
        assert!(index
            .search_both(&tilted(0.0), 10, &SearchFilter::before(100))
            .expect("valid")
            .is_empty());
    }

    #[test]
    fn rejects_bad_vectors_without_changing_the_index() {
        let mut index = ExactIndex::new(DIM);
        index
            .upsert(&[record(1, tilted(0.0), &[], 10, 1)])
            .expect("valid");
        let bad_dim = index.upsert(&[
            record(2, tilted(0.0), &[], 10, 1),
            record(3, vec![1.0; DIM - 1], &[], 10, 1),
        ]);
        assert!(matches!(bad_dim, Err(VectorError::Dimension { .. })));
        let mut nan = tilted(0.0);
        nan[3] = f32::NAN;
        assert!(matches!(
            index.upsert(&[record(4, nan, &[], 10, 1)]),
            Err(VectorError::NonFinite { .. })
        ));
        assert!(matches!(
            index.upsert(&[record(5, vec![0.0; DIM], &[], 10, 1)]),
            Err(VectorError::ZeroNorm { .. })
        ));
        assert_eq!(index.ids(), vec![1]);
        assert!(matches!(
            index.search(&[1.0; 3], 10, &SearchFilter::before(100)),
            Err(VectorError::Dimension { .. })
        ));
    }
}
