//! Vector search benchmark (issue #5): the embedded exact index and Milvus,
//! top-10 over 100,000 news-like embeddings of dimension 768.
//!
//! Targets: embedded top-10 p50 ≤ 20 ms; Milvus recall@10 ≥ 0.95 against
//! the exact embedded result (the embedded store is the ground truth).
//!
//! Data, generated from a fixed seed so every run measures the same thing:
//! 1,000 Gaussian clusters in 768-d (a random unit centre plus isotropic
//! noise, renormalised; the noise varies per cluster so that two articles of
//! one cluster have cosine 0.4–0.7, as articles on one story do, while
//! unrelated articles sit near 0). Uniform random vectors would make every
//! neighbour equally far and ANN recall meaningless. Each article gets a
//! publication time over two years, one or two linked stocks (its cluster's,
//! sometimes another) and a near-duplicate cluster id (5% share one with an
//! earlier article of the same story). Queries are 200 held-out articles of
//! the same distribution (every tenth a near-copy of a stored article, whose
//! duplicate cluster is excluded, as retrieval does for the query article's
//! own cluster); every other query has a point-in-time cut at a random time
//! between 30% and 70% of the range (so about half the articles are
//! eligible), the rest see everything. 10 more queries add a filter on the query
//! story's stock (slow on Milvus Lite, which evaluates array filters row
//! by row in Python).
//!
//! Measured:
//! * **embedded**: `ExactIndex::search` (default: all cores, `i8` bounds then
//!   exact `f32` rerank), and the variants it chooses between (plain `f32` on
//!   one and on all cores, the two-pass scan on one core), latency p50/p99
//!   over the 200 queries. Baseline: a naive exact scan written the obvious
//!   way (one thread, filter, `iter().zip().map().sum()` per row, full sort).
//!   The index's hits are checked against the baseline's.
//! * **Milvus** at `MILVUS_URI` (default `http://127.0.0.1:19530`; start
//!   Milvus Lite with `scripts/milvus-lite.sh start`): upsert of all
//!   articles and flush (insert time), load of the released collection,
//!   which builds the HNSW index (M 16, efConstruction 200: build time), then
//!   top-10 latency p50/p99 and recall@10 against the exact results, at the
//!   default ef (all queries) and over a sweep of ef (the first 100 queries).
//!   Baseline for latency: the embedded index in the same run.
//!
//! Milvus must be reachable: if it is not, the bench says so and exits
//! non-zero rather than skipping. The machine is shared, so absolute
//! latencies move between runs; ratios within a run hold better.
//!
//! Prints a Markdown table and writes it to `target/bench-vectors.md`.
//! Run with `cargo bench --bench vectors` (about 3–5 minutes on 2 cores).
//! `BENCH_VECTORS_N` overrides the number of articles (for a quick look).

use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tickerd::vectors::exact::{ExactIndex, Hit, ScanMode, SearchFilter, VectorRecord};
use tickerd::vectors::milvus::{IndexSpec, MilvusStore};

const SEED: u64 = 0x7665_6374_6f72_7321;
const ARTICLES: usize = 100_000;
const DIM: usize = 768;
const CLUSTERS: usize = 1_000;
const QUERIES: usize = 200;
const STOCK_QUERIES: usize = 10;
const STOCKS: i64 = 500;
const K: usize = 10;
/// Two years of news.
const T0: i64 = 1_600_000_000;
const SPAN: i64 = 2 * 365 * 86_400;
const TARGET_EMBEDDED_P50: Duration = Duration::from_millis(20);
const TARGET_RECALL: f64 = 0.95;
const EF_SWEEP: &[u32] = &[16, 32, 64, 128, 256];
const DEFAULT_URI: &str = "http://127.0.0.1:19530";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let uri = std::env::var("MILVUS_URI").unwrap_or_else(|_| DEFAULT_URI.to_owned());
    let n = match std::env::var("BENCH_VECTORS_N") {
        Ok(v) => v.parse().context("BENCH_VECTORS_N")?,
        Err(_) => ARTICLES,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    // Fail fast, before minutes of data generation, if Milvus is not there.
    let store = runtime
        .block_on(MilvusStore::connect(&uri))
        .with_context(|| {
            format!(
                "Milvus is not reachable at {uri}: start Milvus Lite with \
                 `scripts/milvus-lite.sh start` or point MILVUS_URI at a server"
            )
        })?;

    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut report = Report::default();
    report.note(format!("CPUs on this machine: {cpus}; Milvus at {uri}"));

    let t = Instant::now();
    let data = Data::generate(n);
    report.note(format!(
        "generated {} articles of dimension {DIM} in {CLUSTERS} clusters, {QUERIES} queries \
         ({} with a point-in-time cut, {} excluding a near-duplicate cluster) and \
         {STOCK_QUERIES} stock-filtered queries in {:.1} s",
        data.records.len(),
        data.queries
            .iter()
            .filter(|q| q.filter.published_before <= T0 + SPAN)
            .count(),
        data.queries
            .iter()
            .filter(|q| !q.filter.exclude_clusters.is_empty())
            .count(),
        t.elapsed().as_secs_f64()
    ));

    let exact = bench_embedded(&data, &mut report)?;
    let milvus = runtime.block_on(bench_milvus(&store, &data, &exact, &mut report));
    milvus?;

    let md = report.markdown();
    println!("{md}");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .context("locating the target folder")?
        .join("bench-vectors.md");
    std::fs::write(&out, &md).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("written to {}", out.display());
    Ok(())
}

// ------------------------------------------------------------------- data

struct Query {
    vector: Vec<f32>,
    filter: SearchFilter,
}

struct Data {
    records: Vec<VectorRecord>,
    queries: Vec<Query>,
    stock_queries: Vec<Query>,
}

impl Data {
    fn generate(n: usize) -> Data {
        let mut rng = StdRng::seed_from_u64(SEED);
        let centres: Vec<Vec<f32>> = (0..CLUSTERS)
            .map(|_| unit((0..DIM).map(|_| gaussian(&mut rng)).collect()))
            .collect();
        // Noise-to-signal ratio r² per cluster: two members have cosine
        // ≈ 1 / (1 + r²), 0.4–0.7 for r² in 0.43–1.5.
        let sigmas: Vec<f32> = (0..CLUSTERS)
            .map(|_| (rng.random_range(0.43f32..1.5) / DIM as f32).sqrt())
            .collect();
        let member = |rng: &mut StdRng, cluster: usize| -> Vec<f32> {
            let sigma = sigmas[cluster];
            unit(
                centres[cluster]
                    .iter()
                    .map(|c| c + sigma * gaussian(rng))
                    .collect(),
            )
        };

        let mut records: Vec<VectorRecord> = Vec::with_capacity(n);
        let mut clusters_of: Vec<usize> = Vec::with_capacity(n);
        for i in 0..n {
            let id = i as i64 + 1;
            let cluster = rng.random_range(0..CLUSTERS);
            let mut stocks = vec![cluster as i64 % STOCKS + 1];
            if rng.random_bool(0.5) {
                stocks.push(rng.random_range(1..=STOCKS));
            }
            // 5% near-duplicates: share the duplicate cluster of an earlier
            // article of the same story.
            let dup_of = (i > 0 && rng.random_bool(0.05))
                .then(|| rng.random_range(0..i))
                .filter(|&j| clusters_of[j] == cluster);
            records.push(VectorRecord {
                id,
                vector: member(&mut rng, cluster),
                stock_ids: stocks,
                published_at: T0 + rng.random_range(0..SPAN),
                source: format!("feed-{}", i % 20),
                cluster_id: dup_of.map_or(id, |j| records[j].cluster_id),
            });
            clusters_of.push(cluster);
        }

        let mut next_id = n as i64 + 1;
        // A held-out article of a random story, or (every tenth) a near-copy
        // of a stored one, with its story's main stock.
        let mut query = |rng: &mut StdRng, i: usize| -> (Query, i64) {
            let id = next_id;
            next_id += 1;
            let (vector, exclude_clusters, cluster) = if i.is_multiple_of(10) && !records.is_empty()
            {
                // A near-copy of a stored article: its cluster is excluded.
                let j = rng.random_range(0..records.len());
                let of = &records[j];
                let v = unit(
                    of.vector
                        .iter()
                        .map(|x| x + 0.005 * gaussian(rng))
                        .collect(),
                );
                (v, vec![of.cluster_id], clusters_of[j])
            } else {
                let cluster = rng.random_range(0..CLUSTERS);
                (member(rng, cluster), Vec::new(), cluster)
            };
            let published_before = if i.is_multiple_of(2) {
                T0 + (SPAN as f64 * rng.random_range(0.3..0.7)) as i64
            } else {
                T0 + SPAN + 1
            };
            let query = Query {
                vector,
                filter: SearchFilter {
                    stock_ids: None,
                    published_before,
                    exclude_ids: vec![id],
                    exclude_clusters,
                    min_similarity: -1.0,
                },
            };
            (query, cluster as i64 % STOCKS + 1)
        };
        let queries: Vec<Query> = (0..QUERIES).map(|i| query(&mut rng, i).0).collect();
        // "Similar past news about this stock": the query story's stock.
        let stock_queries: Vec<Query> = (0..STOCK_QUERIES)
            .map(|i| {
                let (mut q, stock) = query(&mut rng, i);
                q.filter.stock_ids = Some(vec![stock]);
                q
            })
            .collect();
        Data {
            records,
            queries,
            stock_queries,
        }
    }
}

/// Standard normal (Box–Muller).
fn gaussian(rng: &mut StdRng) -> f32 {
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

// --------------------------------------------------------------- embedded

/// The obvious exact scan: one thread, filter, scalar dot products, sort.
struct Naive {
    vectors: Vec<f32>,
    records: Vec<(i64, i64, i64)>, // id, published_at, cluster_id
    stocks: Vec<Vec<i64>>,
}

impl Naive {
    fn new(records: &[VectorRecord]) -> Naive {
        Naive {
            vectors: records
                .iter()
                .flat_map(|r| unit(r.vector.clone()))
                .collect(),
            records: records
                .iter()
                .map(|r| (r.id, r.published_at, r.cluster_id))
                .collect(),
            stocks: records.iter().map(|r| r.stock_ids.clone()).collect(),
        }
    }

    fn search(&self, query: &[f32], k: usize, filter: &SearchFilter) -> Vec<Hit> {
        let q = unit(query.to_vec());
        let mut scored: Vec<Hit> = Vec::new();
        for (row, &(id, at, cluster)) in self.records.iter().enumerate() {
            if at >= filter.published_before
                || filter.exclude_ids.contains(&id)
                || filter.exclude_clusters.contains(&cluster)
                || filter
                    .stock_ids
                    .as_ref()
                    .is_some_and(|s| !self.stocks[row].iter().any(|x| s.contains(x)))
            {
                continue;
            }
            let v = &self.vectors[row * DIM..(row + 1) * DIM];
            let similarity: f32 = q.iter().zip(v).map(|(a, b)| a * b).sum();
            if similarity >= filter.min_similarity {
                scored.push(Hit { id, similarity });
            }
        }
        scored.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(a.id.cmp(&b.id)));
        scored.truncate(k);
        scored
    }
}

fn bench_embedded(data: &Data, report: &mut Report) -> anyhow::Result<ExactIndex> {
    let n = data.records.len();
    let t = Instant::now();
    let mut index = ExactIndex::new(DIM);
    index
        .upsert(&data.records)
        .context("loading the exact index")?;
    report.row(Row::new(
        &format!("embedded: build the exact index ({n} upserts, one batch)"),
        secs(t.elapsed()),
        "s",
    ));

    let naive = Naive::new(&data.records);
    let (naive_hits, naive_times) =
        time_all(&data.queries, |q| Ok(naive.search(&q.vector, K, &q.filter)))?;
    let naive_p50 = pct(&naive_times, 50.0);
    report.row(
        Row::new(
            "embedded baseline: naive scalar scan, top-10 p50 / p99",
            format!("{} / {}", ms(naive_p50), ms(pct(&naive_times, 99.0))),
            "ms",
        )
        .baseline("(this is the baseline)".into()),
    );

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (hits, times) = time_all(
        &data.queries,
        |q| Ok(index.search(&q.vector, K, &q.filter)?),
    )?;
    let p50 = pct(&times, 50.0);
    report.row(
        Row::new(
            &format!("**embedded: `ExactIndex` top-10 p50 / p99** (default: {threads} threads, i8 bounds + exact rerank)"),
            format!("{} / {}", ms(p50), ms(pct(&times, 99.0))),
            "ms",
        )
        .baseline(format!("{} ms", ms(naive_p50)))
        .ratio(naive_p50.as_secs_f64() / p50.as_secs_f64())
        .target(
            "p50 ≤ 20 ms",
            p50 <= TARGET_EMBEDDED_P50,
            TARGET_EMBEDDED_P50.as_secs_f64() / p50.as_secs_f64(),
        ),
    );
    let by_point_in_time = |times: &[Duration], cut: bool| -> Vec<Duration> {
        data.queries
            .iter()
            .zip(times)
            .filter(|(q, _)| (q.filter.published_before <= T0 + SPAN) == cut)
            .map(|(_, t)| *t)
            .collect()
    };
    for (label, cut) in [
        ("with the point-in-time cut", true),
        ("without a cut", false),
    ] {
        let part = by_point_in_time(&times, cut);
        report.row(Row::new(
            &format!("embedded: `ExactIndex` top-10 p50 / p99, queries {label}"),
            format!("{} / {}", ms(pct(&part, 50.0)), ms(pct(&part, 99.0))),
            "ms",
        ));
    }

    let same = hits
        .iter()
        .zip(&naive_hits)
        .filter(|(a, b)| ids(a) == ids(b))
        .count();
    let max_diff = hits
        .iter()
        .zip(&naive_hits)
        .flat_map(|(a, b)| a.iter().zip(b.iter()))
        .map(|(a, b)| (a.similarity - b.similarity).abs())
        .fold(0.0f32, f32::max);
    report.row(Row::new(
        "embedded: queries whose top-10 ids equal the naive scan's",
        format!("{same} / {}", hits.len()),
        "queries",
    ));
    report.note(format!(
        "naive scan vs `ExactIndex`: largest similarity difference {max_diff:.1e} (summation \
         order only; the recall against the naive scan is {:.4})",
        recall(&hits, &naive_hits)
    ));

    for (label, mode, threads) in [
        ("plain f32 scan, 1 thread", ScanMode::Float, 1),
        ("plain f32 scan, all threads", ScanMode::Float, threads),
        (
            "i8 bounds + exact rerank, 1 thread",
            ScanMode::QuantizedRerank,
            1,
        ),
    ] {
        let variant = index.clone().with_scan_mode(mode).with_threads(threads);
        let (variant_hits, times) = time_all(&data.queries, |q| {
            Ok(variant.search(&q.vector, K, &q.filter)?)
        })?;
        anyhow::ensure!(
            variant_hits == hits,
            "{label}: hits differ from the default scan's (must be identical)"
        );
        let p50 = pct(&times, 50.0);
        report.row(
            Row::new(
                &format!("embedded variant: {label}, top-10 p50 / p99"),
                format!("{} / {}", ms(p50), ms(pct(&times, 99.0))),
                "ms",
            )
            .baseline(format!("{} ms", ms(naive_p50)))
            .ratio(naive_p50.as_secs_f64() / p50.as_secs_f64()),
        );
    }

    let (_, times) = time_all(&data.stock_queries, |q| {
        Ok(index.search(&q.vector, K, &q.filter)?)
    })?;
    report.row(Row::new(
        "embedded: `ExactIndex` top-10 p50 / p99, with a stock filter",
        format!("{} / {}", ms(pct(&times, 50.0)), ms(pct(&times, 99.0))),
        "ms",
    ));
    Ok(index)
}

// ----------------------------------------------------------------- milvus

async fn bench_milvus(
    store: &MilvusStore,
    data: &Data,
    exact: &ExactIndex,
    report: &mut Report,
) -> anyhow::Result<()> {
    let name = format!("bench_vectors_{:08x}", rand::random::<u32>());
    let result = bench_milvus_collection(store, &name, data, exact, report).await;
    // Drop even after a failure: the server outlives the bench.
    let dropped = store.drop_collection(&name).await;
    result?;
    dropped?;
    Ok(())
}

async fn bench_milvus_collection(
    store: &MilvusStore,
    name: &str,
    data: &Data,
    exact: &ExactIndex,
    report: &mut Report,
) -> anyhow::Result<()> {
    let n = data.records.len();
    let spec = IndexSpec::default();
    let IndexSpec::Hnsw {
        m,
        ef_construction,
        ef: default_ef,
    } = spec
    else {
        anyhow::bail!("the default index is expected to be HNSW");
    };
    store.ensure_collection(name, DIM, &spec).await?;
    // Released while loading data, so that `load` below builds the whole
    // index in one measured step (a loaded collection indexes each flushed
    // segment in the background, which cannot be timed from a client).
    store.release(name).await?;

    let t = Instant::now();
    for chunk in data.records.chunks(5_000) {
        store.upsert(name, chunk).await?;
    }
    store.flush(name).await?;
    let insert = t.elapsed();
    report.row(Row::new(
        &format!("Milvus: upsert {n} articles (batches of ≤ 8 MB) + flush"),
        format!(
            "{} ({:.0} rows/s)",
            secs(insert),
            n as f64 / insert.as_secs_f64()
        ),
        "s",
    ));
    let count = store.count(name).await?;
    anyhow::ensure!(count == n as u64, "Milvus holds {count} rows, expected {n}");

    let t = Instant::now();
    store.load(name).await?;
    report.row(Row::new(
        &format!("Milvus: load = HNSW build (M {m}, efConstruction {ef_construction})"),
        secs(t.elapsed()),
        "s",
    ));

    let exact_hits: Vec<Vec<Hit>> = data
        .queries
        .iter()
        .map(|q| exact.search(&q.vector, K, &q.filter))
        .collect::<Result<_, _>>()?;
    let (_, exact_times) = time_all(
        &data.queries,
        |q| Ok(exact.search(&q.vector, K, &q.filter)?),
    )?;
    let exact_p50 = pct(&exact_times, 50.0);

    let mut sweep = EF_SWEEP.to_vec();
    if !sweep.contains(&default_ef) {
        sweep.push(default_ef);
        sweep.sort_unstable();
    }
    for ef in sweep {
        let spec = IndexSpec::Hnsw {
            m,
            ef_construction,
            ef,
        };
        // Existing collection: only the search-time ef changes.
        store.ensure_collection(name, DIM, &spec).await?;
        // The sweep uses the first half of the queries (still half with a
        // cut) to keep the run short; the default ef uses all of them.
        let used = if ef == default_ef {
            data.queries.len()
        } else {
            data.queries.len() / 2
        };
        let (hits, times) = time_all_async(&data.queries[..used], |q| {
            store.search(name, &q.vector, K, &q.filter)
        })
        .await?;
        let r = recall(&hits, &exact_hits[..used]);
        let p50 = pct(&times, 50.0);
        if ef == default_ef {
            report.row(
                Row::new(
                    &format!("**Milvus: top-10 p50 / p99** (HNSW ef {ef}, default)"),
                    format!("{} / {}", ms(p50), ms(pct(&times, 99.0))),
                    "ms",
                )
                .baseline(format!("`ExactIndex` {} ms", ms(exact_p50)))
                .ratio(exact_p50.as_secs_f64() / p50.as_secs_f64()),
            );
            report.row(
                Row::new(
                    &format!("**Milvus: recall@10 vs exact** (HNSW ef {ef}, default)"),
                    format!("{r:.4}"),
                    "",
                )
                .baseline("`ExactIndex` = 1".into())
                .target("≥ 0.95", r >= TARGET_RECALL, r / TARGET_RECALL),
            );
            for (label, cut) in [
                ("with the point-in-time cut", true),
                ("without a cut", false),
            ] {
                let pick = |v: &[Vec<Hit>]| -> Vec<Vec<Hit>> {
                    data.queries
                        .iter()
                        .zip(v)
                        .filter(|(q, _)| (q.filter.published_before <= T0 + SPAN) == cut)
                        .map(|(_, h)| h.clone())
                        .collect()
                };
                report.row(Row::new(
                    &format!("Milvus: recall@10, queries {label} (ef {ef})"),
                    format!("{:.4}", recall(&pick(&hits), &pick(&exact_hits))),
                    "",
                ));
            }
        } else {
            report.row(Row::new(
                &format!(
                    "Milvus sweep: HNSW ef {ef}: recall@10 · top-10 p50 / p99 ({used} queries)"
                ),
                format!("{r:.4} · {} / {}", ms(p50), ms(pct(&times, 99.0))),
                "· ms",
            ));
        }
    }

    // Stock filter (few hundred eligible rows): back to the default ef.
    store.ensure_collection(name, DIM, &spec).await?;
    let exact_stock: Vec<Vec<Hit>> = data
        .stock_queries
        .iter()
        .map(|q| exact.search(&q.vector, K, &q.filter))
        .collect::<Result<_, _>>()?;
    let (hits, times) = time_all_async(&data.stock_queries, |q| {
        store.search(name, &q.vector, K, &q.filter)
    })
    .await?;
    report.row(Row::new(
        &format!("Milvus: with a stock filter (ef {default_ef}): recall@10 · top-10 p50 / p99"),
        format!(
            "{:.4} · {} / {}",
            recall(&hits, &exact_stock),
            ms(pct(&times, 50.0)),
            ms(pct(&times, 99.0))
        ),
        "· ms",
    ));
    Ok(())
}

// ---------------------------------------------------------------- helpers

/// Runs every query once after a short warm-up; hits and latencies.
fn time_all(
    queries: &[Query],
    mut search: impl FnMut(&Query) -> anyhow::Result<Vec<Hit>>,
) -> anyhow::Result<(Vec<Vec<Hit>>, Vec<Duration>)> {
    for q in queries.iter().take(3) {
        search(q)?;
    }
    let mut hits = Vec::with_capacity(queries.len());
    let mut times = Vec::with_capacity(queries.len());
    for q in queries {
        let t = Instant::now();
        hits.push(search(q)?);
        times.push(t.elapsed());
    }
    Ok((hits, times))
}

async fn time_all_async<'a, F, Fut, E>(
    queries: &'a [Query],
    search: F,
) -> anyhow::Result<(Vec<Vec<Hit>>, Vec<Duration>)>
where
    F: Fn(&'a Query) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Hit>, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    for q in queries.iter().take(3) {
        search(q).await?;
    }
    let mut hits = Vec::with_capacity(queries.len());
    let mut times = Vec::with_capacity(queries.len());
    for q in queries {
        let t = Instant::now();
        hits.push(search(q).await?);
        times.push(t.elapsed());
    }
    Ok((hits, times))
}

/// Mean over queries of |found ∩ truth| / |truth| (queries with an empty
/// truth are skipped).
fn recall(found: &[Vec<Hit>], truth: &[Vec<Hit>]) -> f64 {
    let mut sum = 0.0;
    let mut counted = 0;
    for (f, t) in found.iter().zip(truth) {
        if t.is_empty() {
            continue;
        }
        let hit = t.iter().filter(|h| f.iter().any(|g| g.id == h.id)).count();
        sum += hit as f64 / t.len() as f64;
        counted += 1;
    }
    if counted == 0 {
        1.0
    } else {
        sum / counted as f64
    }
}

fn ids(hits: &[Hit]) -> Vec<i64> {
    hits.iter().map(|h| h.id).collect()
}

/// Nearest-rank percentile.
fn pct(times: &[Duration], p: f64) -> Duration {
    if times.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn secs(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64())
}

#[derive(Default)]
struct Report {
    notes: Vec<String>,
    rows: Vec<Row>,
}

struct Row {
    what: String,
    value: String,
    unit: String,
    baseline: String,
    ratio: String,
    target: String,
    met: String,
}

impl Row {
    fn new(what: &str, value: String, unit: &str) -> Self {
        Row {
            what: what.into(),
            value,
            unit: unit.into(),
            baseline: String::new(),
            ratio: String::new(),
            target: String::new(),
            met: String::new(),
        }
    }

    fn baseline(mut self, b: String) -> Self {
        self.baseline = b;
        self
    }

    /// How many times faster than the baseline (higher is better).
    fn ratio(mut self, r: f64) -> Self {
        self.ratio = format!("{r:.2}×");
        self
    }

    fn target(mut self, t: &str, met: bool, margin: f64) -> Self {
        self.target = t.into();
        self.met = format!("{} ({margin:.2}× target)", if met { "yes" } else { "no" });
        self
    }
}

impl Report {
    fn note(&mut self, n: String) {
        eprintln!("{n}");
        self.notes.push(n);
    }

    fn row(&mut self, r: Row) {
        eprintln!("{}: {} {}", r.what, r.value, r.unit);
        self.rows.push(r);
    }

    fn markdown(&self) -> String {
        let mut md = String::new();
        for n in &self.notes {
            let _ = writeln!(md, "{n}  ");
        }
        md.push('\n');
        md.push_str(
            "| measure | value | unit | baseline (same run) | vs baseline | target | met |\n",
        );
        md.push_str("|---|---:|---|---|---:|---|---|\n");
        for r in &self.rows {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.what, r.value, r.unit, r.baseline, r.ratio, r.target, r.met
            );
        }
        md
    }
}
