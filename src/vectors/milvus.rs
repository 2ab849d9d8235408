//! Milvus-backed vector store (issue #5): a thin wrapper over the
//! `milvus-sdk-rust` v2 client with the same record, filter and hit types as
//! the embedded [`ExactIndex`](super::exact::ExactIndex), so the two stores
//! are interchangeable and the embedded one can measure this one's recall.
//!
//! Collection schema (one collection per embedder/model/dimension):
//!
//! | field          | type                  | why                                    |
//! |----------------|-----------------------|----------------------------------------|
//! | `id`           | Int64, primary key    | the news article id (not auto-id)      |
//! | `vector`       | FloatVector(dim)      | COSINE metric                          |
//! | `stock_ids`    | `Array<Int64>`        | `array_contains_any` stock filter      |
//! | `published_at` | Int64 (unix seconds)  | point-in-time cut                      |
//! | `source`       | VarChar(512)          | feed / site, for inspection            |
//! | `cluster_id`   | Int64                 | near-duplicate cluster exclusion       |
//!
//! Choices forced by Milvus, and by Milvus Lite 3.2.2 which the tests and the
//! bench run against (`scripts/milvus-lite.sh`):
//! - Writes are always `upsert`: Milvus does not enforce primary keys, and a
//!   re-inserted article would otherwise appear twice. Duplicate ids within
//!   one call are collapsed client-side (last wins, like `ExactIndex`).
//! - Every search carries `published_at < cut`: retrieval must never see an
//!   article from the future of the question being asked (the original
//!   system had no time filter and leaked). The query article's own id and
//!   near-duplicate cluster are excluded in the expression as well, so the
//!   top-k is filled with genuinely different articles.
//! - `create_index` is sent with `sync(false)`: its wait loop calls
//!   `AllocTimestamp`, which Milvus Lite does not implement (Lite builds or
//!   schedules the index within the call anyway).
//! - Rows are read with `query` (`count(*)`, id ranges), never `get` (its
//!   `{pks_to_get}` template fails on Lite) nor the SDK's query iterator
//!   (fails on Lite: "no valid collection ID"); collections are probed with
//!   `has_collection`, never `list_collections` (malformed response on Lite).
//! - `stock_ids` is an `Array<Int64>` filtered with `array_contains_any`.
//!   Milvus Lite 3.2.2 supports both (the tests below run the same stock
//!   cases as `ExactIndex`'s), but evaluates array predicates row by row in
//!   Python: ~0.6 s per 100k rows, several seconds per filtered search in
//!   the bench. A VarChar `",12,47,"` with `like '%,47,%'` was ~12× faster
//!   on Lite, but an infix `like` can never use an index, while real Milvus
//!   can put an INVERTED index on an array field — so the array stays.
//! - Scores come back as cosine similarity (higher is better); ties are
//!   re-ordered by smaller id to match `ExactIndex`.
//!
//! Errors name the collection and the operation ([`MilvusError`]).

use super::exact::{Hit, SearchFilter, VectorRecord};
use milvus::v2::prelude as mv;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::RwLock;
use std::time::Duration;

/// Primary key field: the news article id.
pub const ID_FIELD: &str = "id";
/// Embedding field.
pub const VECTOR_FIELD: &str = "vector";
/// Linked stocks (`Array<Int64>`).
pub const STOCK_IDS_FIELD: &str = "stock_ids";
/// Publication time, unix seconds.
pub const PUBLISHED_AT_FIELD: &str = "published_at";
/// Feed / site name.
pub const SOURCE_FIELD: &str = "source";
/// Near-duplicate cluster.
pub const CLUSTER_ID_FIELD: &str = "cluster_id";

/// Most stocks one article may be linked to (the array field's capacity).
pub const MAX_STOCKS_PER_ARTICLE: usize = 256;
/// Longest `source` accepted, in bytes (the VarChar's max length).
pub const MAX_SOURCE_BYTES: usize = 512;
/// Largest `k` Milvus accepts for one search.
pub const MAX_TOP_K: usize = 16_384;

/// Rough payload per upsert call: large enough to amortise round trips,
/// far below gRPC message limits (64 MB on Milvus, 256 MB on Lite).
const UPSERT_BATCH_BYTES: usize = 8 << 20;
/// How long `load` waits for the collection to be loaded (index builds).
const LOAD_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Ids per delete expression.
const DELETE_BATCH: usize = 10_000;
/// Rows per query when listing ids (Milvus caps a query at 16,384 rows).
const ID_PAGE: usize = 10_000;

/// Vector index of a collection, as configured (e.g. `index = { kind =
/// "hnsw", ef = 128 }` in TOML).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum IndexSpec {
    /// Graph index: best latency/recall trade-off in memory.
    Hnsw {
        /// Graph degree (`M`).
        #[serde(default = "default_hnsw_m")]
        m: u32,
        /// Build-time candidate list (`efConstruction`).
        #[serde(default = "default_hnsw_ef_construction")]
        ef_construction: u32,
        /// Search-time candidate list (`ef`); raised to `k` when smaller.
        #[serde(default = "default_hnsw_ef")]
        ef: u32,
    },
    /// Inverted lists of raw vectors (what the original system used).
    IvfFlat {
        /// Number of clusters.
        #[serde(default = "default_ivf_nlist")]
        nlist: u32,
        /// Clusters probed per search.
        #[serde(default = "default_ivf_nprobe")]
        nprobe: u32,
    },
    /// Brute force: exact, slow on large collections.
    Flat,
}

fn default_hnsw_m() -> u32 {
    16
}

fn default_hnsw_ef_construction() -> u32 {
    200
}

/// Measured by `benches/vectors.rs` on Milvus Lite (100k clustered 768-d
/// vectors, M 16, efConstruction 200, half the queries with a point-in-time
/// cut): recall@10 against the exact index 0.978 at ef 16, 0.998 at 32, 1.0
/// at 64; latency is flat across that range (the Lite server's Python
/// overhead dominates). 64 keeps a margin for real embeddings, which are
/// less cleanly clustered than the synthetic ones.
fn default_hnsw_ef() -> u32 {
    64
}

fn default_ivf_nlist() -> u32 {
    1024
}

fn default_ivf_nprobe() -> u32 {
    32
}

impl Default for IndexSpec {
    fn default() -> Self {
        IndexSpec::Hnsw {
            m: default_hnsw_m(),
            ef_construction: default_hnsw_ef_construction(),
            ef: default_hnsw_ef(),
        }
    }
}

impl IndexSpec {
    fn index_param(&self) -> mv::IndexParam {
        let (index_type, params): (mv::IndexType, Vec<(&str, u32)>) = match *self {
            IndexSpec::Hnsw {
                m, ef_construction, ..
            } => (
                mv::IndexType::Hnsw,
                vec![("M", m), ("efConstruction", ef_construction)],
            ),
            IndexSpec::IvfFlat { nlist, .. } => (mv::IndexType::IvfFlat, vec![("nlist", nlist)]),
            IndexSpec::Flat => (mv::IndexType::Flat, Vec::new()),
        };
        mv::IndexParam::new()
            .field_name(VECTOR_FIELD)
            .index_type(index_type)
            .metric_type(mv::MetricType::Cosine)
            .extra_params(
                params
                    .into_iter()
                    .map(|(key, value)| (key.to_owned(), value.to_string()))
                    .collect(),
            )
    }

    /// Search-time parameters for a top-`k` search.
    fn search_params(&self, k: usize) -> HashMap<String, String> {
        match *self {
            // HNSW needs ef ≥ k to return k results.
            IndexSpec::Hnsw { ef, .. } => {
                HashMap::from([("ef".to_owned(), (ef as usize).max(k).to_string())])
            }
            IndexSpec::IvfFlat { nprobe, .. } => {
                HashMap::from([("nprobe".to_owned(), nprobe.to_string())])
            }
            IndexSpec::Flat => HashMap::new(),
        }
    }
}

/// A failed Milvus operation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MilvusError {
    /// Connecting or the health check failed.
    #[error("milvus at {uri}: {op}: {reason}")]
    Server {
        /// Server address.
        uri: String,
        /// `connect` or `health check`.
        op: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// An operation on a collection failed (server error or invalid input).
    #[error("milvus {op} on collection `{collection}`: {reason}")]
    Collection {
        /// e.g. `upsert`, `search`.
        op: &'static str,
        /// Collection name.
        collection: String,
        /// What went wrong.
        reason: String,
    },
}

/// Result of [`MilvusStore`] operations.
pub type Result<T, E = MilvusError> = std::result::Result<T, E>;

/// What `ensure_collection` learnt about a collection.
#[derive(Debug, Clone, PartialEq)]
struct CollectionInfo {
    dim: usize,
    index: IndexSpec,
}

/// A connection to Milvus. Every method takes `&self`: share it by
/// reference or in an `Arc`.
pub struct MilvusStore {
    client: mv::ClientV2,
    uri: String,
    /// Dimension and index per collection seen by `ensure_collection`: used
    /// to validate vectors client-side and to pick search parameters.
    collections: RwLock<HashMap<String, CollectionInfo>>,
}

impl std::fmt::Debug for MilvusStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MilvusStore")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl MilvusStore {
    /// Connects (no authentication) and checks the server's health.
    pub async fn connect(uri: &str) -> Result<Self> {
        Self::connect_with_token(uri, None).await
    }

    /// Connects with an optional `user:password` or API-key token and
    /// checks the server's health.
    pub async fn connect_with_token(uri: &str, token: Option<&str>) -> Result<Self> {
        let server_error = |op: &'static str, reason: String| MilvusError::Server {
            uri: uri.to_owned(),
            op,
            reason,
        };
        // Few retries: an unreachable server should fail in seconds, not
        // after the SDK default of 75 attempts. No overall retry deadline:
        // the SDK applies it to the attempt in flight too, and a load that
        // builds an HNSW index over 100k vectors takes longer than any
        // sensible deadline.
        let retry = mv::RetryConfig::new().max_attempts(4);
        let mut config = mv::ConnectConfig::new()
            .uri(uri)
            .connect_timeout(Duration::from_secs(5))
            .retry(retry);
        if let Some(token) = token {
            config = config.token(token);
        }
        let client = mv::ClientV2::new(&config)
            .await
            .map_err(|e| server_error("connect", e.to_string()))?;
        let request = mv::CheckHealthRequest::builder()
            .build()
            .map_err(|e| server_error("health check", e.to_string()))?;
        let health = client
            .check_health(request)
            .await
            .map_err(|e| server_error("health check", e.to_string()))?;
        if !health.is_healthy() {
            return Err(server_error(
                "health check",
                format!("unhealthy: {:?}", health.reasons()),
            ));
        }
        Ok(Self {
            client,
            uri: uri.to_owned(),
            collections: RwLock::new(HashMap::new()),
        })
    }

    /// The server address.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Whether the collection exists.
    pub async fn has_collection(&self, name: &str) -> Result<bool> {
        let op = "has_collection";
        let request = mv::HasCollectionRequest::builder()
            .collection_name(name)
            .build()
            .map_err(fail(op, name))?;
        let response = self
            .client
            .has_collection(request)
            .await
            .map_err(fail(op, name))?;
        Ok(response.exists())
    }

    /// Creates the collection (schema in the module docs) with its vector
    /// index if it does not exist, then loads it so it can be searched.
    /// Returns whether it was created.
    ///
    /// For an existing collection the vector dimension is checked and the
    /// index is created if missing; an existing index is not rebuilt, but
    /// `index`'s search-time parameters (`ef`, `nprobe`) apply to this
    /// store's searches from now on.
    pub async fn ensure_collection(
        &self,
        name: &str,
        dim: usize,
        index: &IndexSpec,
    ) -> Result<bool> {
        let op = "ensure_collection";
        if dim == 0 {
            return Err(invalid(op, name, "dimension must be positive"));
        }
        let dim_u32 = u32::try_from(dim).map_err(|_| invalid(op, name, "dimension too large"))?;
        let created = if self.has_collection(name).await? {
            self.check_schema(name, dim).await?;
            if !self.has_vector_index(name).await? {
                self.create_index(name, index).await?;
            }
            false
        } else {
            self.create_collection(name, dim_u32).await?;
            self.create_index(name, index).await?;
            true
        };
        self.load(name).await?;
        self.remember(
            name,
            CollectionInfo {
                dim,
                index: index.clone(),
            },
        );
        Ok(created)
    }

    /// Inserts or replaces records by id, in batches. Within the call, the
    /// last record of an id wins. Invalid records (dimension, non-finite
    /// components, too many stocks, overlong source) fail the whole call
    /// before anything is sent.
    pub async fn upsert(&self, collection: &str, records: &[VectorRecord]) -> Result<()> {
        let op = "upsert";
        let dim = self.known_dim(collection);
        for record in records {
            validate_record(record, dim).map_err(|reason| invalid(op, collection, reason))?;
        }
        // Milvus rejects (or, on some versions, duplicates) repeated primary
        // keys within one request.
        let mut last: HashMap<i64, usize> = HashMap::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            last.insert(record.id, i);
        }
        let unique: Vec<&VectorRecord> = records
            .iter()
            .enumerate()
            .filter(|(i, record)| last.get(&record.id) == Some(i))
            .map(|(_, record)| record)
            .collect();

        let mut batch: Vec<&VectorRecord> = Vec::new();
        let mut batch_bytes = 0;
        for record in unique {
            let bytes =
                record.vector.len() * 4 + record.stock_ids.len() * 8 + record.source.len() + 32;
            if !batch.is_empty() && batch_bytes + bytes > UPSERT_BATCH_BYTES {
                self.upsert_batch(collection, &batch).await?;
                batch.clear();
                batch_bytes = 0;
            }
            batch.push(record);
            batch_bytes += bytes;
        }
        if !batch.is_empty() {
            self.upsert_batch(collection, &batch).await?;
        }
        Ok(())
    }

    /// Deletes the given ids (unknown ids are ignored).
    pub async fn delete(&self, collection: &str, ids: &[i64]) -> Result<()> {
        let op = "delete";
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(DELETE_BATCH) {
            let request = mv::DeleteRequest::builder()
                .collection_name(collection)
                .filter(format!("{ID_FIELD} in {}", int_list(chunk)))
                .build()
                .map_err(fail(op, collection))?;
            self.client
                .delete(request)
                .await
                .map_err(fail(op, collection))?;
        }
        Ok(())
    }

    /// Seals buffered writes into segments (and, on a loaded collection,
    /// lets the server index them).
    pub async fn flush(&self, collection: &str) -> Result<()> {
        let op = "flush";
        let request = mv::FlushRequest::builder()
            .collection_names([collection])
            .build()
            .map_err(fail(op, collection))?;
        self.client
            .flush(request)
            .await
            .map_err(fail(op, collection))?;
        Ok(())
    }

    /// Loads the collection (and builds or loads its index) so it can be
    /// searched; waits until loaded. No-op if already loaded.
    pub async fn load(&self, collection: &str) -> Result<()> {
        let op = "load";
        let request = mv::LoadCollectionRequest::builder()
            .collection_name(collection)
            // The SDK's default 60 s wait is shorter than an index build.
            .timeout_ms(LOAD_TIMEOUT.as_millis() as i64)
            .build()
            .map_err(fail(op, collection))?;
        self.client
            .load_collection(request)
            .await
            .map_err(fail(op, collection))
    }

    /// Releases the collection from server memory (searches fail until
    /// [`load`](Self::load)).
    pub async fn release(&self, collection: &str) -> Result<()> {
        let op = "release";
        let request = mv::ReleaseCollectionRequest::builder()
            .collection_name(collection)
            .build()
            .map_err(fail(op, collection))?;
        self.client
            .release_collection(request)
            .await
            .map_err(fail(op, collection))
    }

    /// The `k` most similar articles to `query` that pass `filter`, by
    /// descending cosine similarity (ties by smaller id). Approximate as
    /// configured by the collection's index.
    pub async fn search(
        &self,
        collection: &str,
        query: &[f32],
        k: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<Hit>> {
        let op = "search";
        let dim = self.known_dim(collection);
        if let Some(dim) = dim {
            if query.len() != dim {
                let reason = format!("query has dimension {}, collection has {dim}", query.len());
                return Err(invalid(op, collection, reason));
            }
        }
        if !query.iter().all(|x| x.is_finite()) || query.iter().all(|&x| x == 0.0) {
            return Err(invalid(
                op,
                collection,
                "query vector is zero or not finite",
            ));
        }
        if k > MAX_TOP_K {
            return Err(invalid(
                op,
                collection,
                format!("k {k} exceeds {MAX_TOP_K}"),
            ));
        }
        // The same early outs as ExactIndex: nothing can match.
        let no_stock = filter.stock_ids.as_ref().is_some_and(|s| s.is_empty());
        if k == 0 || no_stock || filter.min_similarity.is_nan() {
            return Ok(Vec::new());
        }
        // Search parameters of the index `ensure_collection` was given; for a
        // collection this store has not ensured, the server's defaults.
        let params = self
            .known_index(collection)
            .map(|index| index.search_params(k))
            .unwrap_or_default();
        let request = mv::SearchRequest::builder()
            .collection_name(collection)
            .vector_field(VECTOR_FIELD)
            .vectors(mv::SearchVectors::Float(vec![query.to_vec()]))
            .filter(filter_expression(filter))
            .limit(k as i64)
            .extra_params(params)
            // Reads see this client's own writes without waiting for all.
            .consistency_level(mv::ConsistencyLevel::Session)
            .build()
            .map_err(fail(op, collection))?;
        let response = self
            .client
            .search(request)
            .await
            .map_err(fail(op, collection))?;
        let Some(result) = response.results().iter().next() else {
            return Ok(Vec::new());
        };
        let mv::Ids::Int64(ids) = result.get_ids() else {
            return Err(invalid(op, collection, "primary keys are not Int64"));
        };
        let scores = result.get_scores();
        if scores.len() != ids.len() {
            return Err(invalid(
                op,
                collection,
                "result has mismatched ids and scores",
            ));
        }
        let mut hits: Vec<Hit> = ids
            .iter()
            .zip(scores)
            .map(|(&id, &similarity)| Hit { id, similarity })
            .filter(|hit| hit.similarity >= filter.min_similarity)
            .collect();
        hits.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(a.id.cmp(&b.id)));
        Ok(hits)
    }

    /// Number of rows in the collection (strongly consistent).
    pub async fn count(&self, collection: &str) -> Result<u64> {
        let op = "count";
        let request = mv::QueryRequest::builder()
            .collection_name(collection)
            .output_fields(["count(*)"])
            .consistency_level(mv::ConsistencyLevel::Strong)
            .build()
            .map_err(fail(op, collection))?;
        let response = self
            .client
            .query(request)
            .await
            .map_err(fail(op, collection))?;
        match response.results().get_output_field("count(*)") {
            Some(mv::FieldData::Int64 { values, .. }) => values
                .first()
                .and_then(|&n| u64::try_from(n).ok())
                .ok_or_else(|| invalid(op, collection, "empty count(*) result")),
            _ => Err(invalid(op, collection, "no Int64 count(*) in the result")),
        }
    }

    /// Every id in the collection, ascending (strongly consistent), for
    /// consistency checks against the SQL bookkeeping.
    ///
    /// Pages by primary-key range rather than with the SDK's query iterator
    /// (which fails on Milvus Lite: "no valid collection ID") or offsets
    /// (capped at 16,384 rows): a range that returns more than a page is
    /// split in two, so the result is complete whatever order the server
    /// returns rows in.
    pub async fn all_ids(&self, collection: &str) -> Result<Vec<i64>> {
        let mut ids = Vec::new();
        let mut ranges = vec![(i64::MIN, i64::MAX)];
        while let Some((lo, hi)) = ranges.pop() {
            let page = self.ids_in_range(collection, lo, hi, ID_PAGE + 1).await?;
            if page.len() <= ID_PAGE || lo == hi {
                ids.extend(page);
            } else {
                // Midpoint without overflow; both halves are non-empty.
                let mid = ((i128::from(lo) + i128::from(hi)).div_euclid(2)) as i64;
                ranges.push((mid + 1, hi));
                ranges.push((lo, mid));
            }
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// Up to `limit` ids in `[lo, hi]`.
    async fn ids_in_range(
        &self,
        collection: &str,
        lo: i64,
        hi: i64,
        limit: usize,
    ) -> Result<Vec<i64>> {
        let op = "all_ids";
        let request = mv::QueryRequest::builder()
            .collection_name(collection)
            .filter(format!("{ID_FIELD} >= {lo} and {ID_FIELD} <= {hi}"))
            .output_fields([ID_FIELD])
            .limit(limit as i64)
            .consistency_level(mv::ConsistencyLevel::Strong)
            .build()
            .map_err(fail(op, collection))?;
        let response = self
            .client
            .query(request)
            .await
            .map_err(fail(op, collection))?;
        match response.results().get_output_field(ID_FIELD) {
            Some(mv::FieldData::Int64 { values, .. }) => Ok(values.clone()),
            None if response.results().get_row_count() == 0 => Ok(Vec::new()),
            _ => Err(invalid(op, collection, "no Int64 id column in the result")),
        }
    }

    /// Drops the collection; returns whether it existed.
    pub async fn drop_collection(&self, name: &str) -> Result<bool> {
        let op = "drop_collection";
        let existed = self.has_collection(name).await?;
        if existed {
            let request = mv::DropCollectionRequest::builder()
                .collection_name(name)
                .build()
                .map_err(fail(op, name))?;
            self.client
                .drop_collection(request)
                .await
                .map_err(fail(op, name))?;
        }
        self.collections
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(name);
        Ok(existed)
    }

    async fn create_collection(&self, name: &str, dim: u32) -> Result<()> {
        let op = "create_collection";
        let schema = mv::CollectionSchema::new()
            .enable_dynamic_field(false)
            .add_field(
                mv::FieldSchema::new()
                    .name(ID_FIELD)
                    .data_type(mv::DataType::Int64)
                    .primary_key(true)
                    .auto_id(false),
            )
            .add_field(
                mv::FieldSchema::new()
                    .name(VECTOR_FIELD)
                    .data_type(mv::DataType::FloatVector)
                    .dimension(dim),
            )
            .add_field(
                mv::FieldSchema::new()
                    .name(STOCK_IDS_FIELD)
                    .data_type(mv::DataType::Array)
                    .element_type(mv::DataType::Int64)
                    .max_capacity(MAX_STOCKS_PER_ARTICLE as u32),
            )
            .add_field(
                mv::FieldSchema::new()
                    .name(PUBLISHED_AT_FIELD)
                    .data_type(mv::DataType::Int64),
            )
            .add_field(
                mv::FieldSchema::new()
                    .name(SOURCE_FIELD)
                    .data_type(mv::DataType::VarChar)
                    .max_length(MAX_SOURCE_BYTES as u32),
            )
            .add_field(
                mv::FieldSchema::new()
                    .name(CLUSTER_ID_FIELD)
                    .data_type(mv::DataType::Int64),
            );
        let request = mv::CreateCollectionRequest::builder()
            .collection_name(name)
            .schema(schema)
            .build()
            .map_err(fail(op, name))?;
        self.client
            .create_collection(request)
            .await
            .map_err(fail(op, name))
    }

    async fn create_index(&self, name: &str, index: &IndexSpec) -> Result<()> {
        let op = "create_index";
        let request = mv::CreateIndexRequest::builder()
            .collection_name(name)
            .index_param(index.index_param())
            // sync(true) waits via AllocTimestamp, unimplemented on Lite.
            .sync(false)
            .build()
            .map_err(fail(op, name))?;
        self.client
            .create_index(request)
            .await
            .map_err(fail(op, name))
    }

    async fn has_vector_index(&self, name: &str) -> Result<bool> {
        let request = mv::DescribeIndexRequest::builder()
            .collection_name(name)
            .field_name(VECTOR_FIELD)
            .build()
            .map_err(fail("describe_index", name))?;
        // Milvus answers "index not found" with an error status.
        Ok(match self.client.describe_index(request).await {
            Ok(response) => response
                .indexes()
                .iter()
                .any(|index| index.get_field_name() == VECTOR_FIELD),
            Err(_) => false,
        })
    }

    /// Checks an existing collection has this module's fields and `dim`.
    async fn check_schema(&self, name: &str, dim: usize) -> Result<()> {
        let op = "describe_collection";
        let request = mv::DescribeCollectionRequest::builder()
            .collection_name(name)
            .build()
            .map_err(fail(op, name))?;
        let response = self
            .client
            .describe_collection(request)
            .await
            .map_err(fail(op, name))?;
        let fields = response.description().get_schema().get_fields();
        let field = |wanted: &str| fields.iter().find(|f| f.get_name() == wanted);
        for wanted in [
            ID_FIELD,
            STOCK_IDS_FIELD,
            PUBLISHED_AT_FIELD,
            SOURCE_FIELD,
            CLUSTER_ID_FIELD,
        ] {
            if field(wanted).is_none() {
                let reason = format!("existing collection has no `{wanted}` field");
                return Err(invalid("ensure_collection", name, reason));
            }
        }
        match field(VECTOR_FIELD) {
            Some(vector) if vector.get_dimension() as usize == dim => Ok(()),
            Some(vector) => Err(invalid(
                "ensure_collection",
                name,
                format!(
                    "existing collection has dimension {}, wanted {dim}",
                    vector.get_dimension()
                ),
            )),
            None => Err(invalid(
                "ensure_collection",
                name,
                format!("existing collection has no `{VECTOR_FIELD}` field"),
            )),
        }
    }

    async fn upsert_batch(&self, collection: &str, batch: &[&VectorRecord]) -> Result<()> {
        let op = "upsert";
        let columns = vec![
            mv::FieldData::int64(ID_FIELD, batch.iter().map(|r| r.id).collect()),
            mv::FieldData::float_vector(
                VECTOR_FIELD,
                batch.iter().map(|r| r.vector.clone()).collect(),
            ),
            mv::FieldData::array_int64(
                STOCK_IDS_FIELD,
                batch.iter().map(|r| r.stock_ids.clone()).collect(),
            ),
            mv::FieldData::int64(
                PUBLISHED_AT_FIELD,
                batch.iter().map(|r| r.published_at).collect(),
            ),
            mv::FieldData::varchar(
                SOURCE_FIELD,
                batch.iter().map(|r| r.source.clone()).collect(),
            ),
            mv::FieldData::int64(
                CLUSTER_ID_FIELD,
                batch.iter().map(|r| r.cluster_id).collect(),
            ),
        ];
        let insert = mv::InsertRequest::builder()
            .collection_name(collection)
            .columns(columns)
            .build()
            .map_err(fail(op, collection))?;
        let request = mv::UpsertRequest::builder()
            .insert(insert)
            .build()
            .map_err(fail(op, collection))?;
        self.client
            .upsert(request)
            .await
            .map_err(fail(op, collection))?;
        Ok(())
    }

    fn remember(&self, name: &str, info: CollectionInfo) {
        // A poisoned lock only means another thread panicked mid-insert of
        // this cache; the map itself is still valid.
        let mut known = self
            .collections
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        known.insert(name.to_owned(), info);
    }

    fn known(&self, name: &str) -> Option<CollectionInfo> {
        let known = self
            .collections
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        known.get(name).cloned()
    }

    fn known_dim(&self, name: &str) -> Option<usize> {
        self.known(name).map(|info| info.dim)
    }

    fn known_index(&self, name: &str) -> Option<IndexSpec> {
        self.known(name).map(|info| info.index)
    }
}

/// The Milvus boolean expression for `filter` (all conditions and-ed):
/// `published_at < T` always, then the exclusions and the stock filter.
pub fn filter_expression(filter: &SearchFilter) -> String {
    let mut expr = format!("{PUBLISHED_AT_FIELD} < {}", filter.published_before);
    if !filter.exclude_ids.is_empty() {
        let _ = write!(
            expr,
            " and {ID_FIELD} not in {}",
            int_list(&filter.exclude_ids)
        );
    }
    if !filter.exclude_clusters.is_empty() {
        let _ = write!(
            expr,
            " and {CLUSTER_ID_FIELD} not in {}",
            int_list(&filter.exclude_clusters)
        );
    }
    if let Some(stocks) = &filter.stock_ids {
        let _ = write!(
            expr,
            " and array_contains_any({STOCK_IDS_FIELD}, {})",
            int_list(stocks)
        );
    }
    expr
}

/// `[1, 2, 3]`, sorted and deduplicated (integers only: nothing to escape).
fn int_list(values: &[i64]) -> String {
    let mut values = values.to_vec();
    values.sort_unstable();
    values.dedup();
    let items: Vec<String> = values.iter().map(i64::to_string).collect();
    format!("[{}]", items.join(", "))
}

fn validate_record(record: &VectorRecord, dim: Option<usize>) -> std::result::Result<(), String> {
    let id = record.id;
    if let Some(dim) = dim {
        if record.vector.len() != dim {
            return Err(format!(
                "record {id}: dimension {}, collection has {dim}",
                record.vector.len()
            ));
        }
    }
    if !record.vector.iter().all(|x| x.is_finite()) || record.vector.iter().all(|&x| x == 0.0) {
        return Err(format!("record {id}: vector is zero or not finite"));
    }
    if record.stock_ids.len() > MAX_STOCKS_PER_ARTICLE {
        return Err(format!(
            "record {id}: {} stock ids, at most {MAX_STOCKS_PER_ARTICLE}",
            record.stock_ids.len()
        ));
    }
    if record.source.len() > MAX_SOURCE_BYTES {
        return Err(format!(
            "record {id}: source is {} bytes, at most {MAX_SOURCE_BYTES}",
            record.source.len()
        ));
    }
    Ok(())
}

/// Maps an SDK error to a [`MilvusError`] naming the operation and collection.
fn fail<'a, E: std::fmt::Display>(
    op: &'static str,
    collection: &'a str,
) -> impl Fn(E) -> MilvusError + 'a {
    move |error| MilvusError::Collection {
        op,
        collection: collection.to_owned(),
        reason: error.to_string(),
    }
}

fn invalid(op: &'static str, collection: &str, reason: impl Into<String>) -> MilvusError {
    MilvusError::Collection {
        op,
        collection: collection.to_owned(),
        reason: reason.into(),
    }
}

/// These tests need a Milvus (Lite) server: `scripts/milvus-lite.sh start`
/// (address from `MILVUS_URI`, default `http://127.0.0.1:19530`). Each test
/// uses its own random collection and drops it at the end.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::vectors::exact::ExactIndex;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    const DIM: usize = 16;

    async fn store() -> MilvusStore {
        // `.ci/run` exports IT_MILVUS_URI for the Milvus Lite it started.
        let uri = std::env::var("IT_MILVUS_URI")
            .or_else(|_| std::env::var("MILVUS_URI"))
            .unwrap_or_else(|_| "http://127.0.0.1:19530".into());
        match MilvusStore::connect(&uri).await {
            Ok(store) => store,
            Err(e) => panic!("{e}\n(start Milvus Lite with `scripts/milvus-lite.sh start`)"),
        }
    }

    fn collection_name(test: &str) -> String {
        format!("t_{test}_{:016x}", rand::random::<u64>())
    }

    fn record(id: i64, vector: Vec<f32>, stocks: &[i64], at: i64, cluster: i64) -> VectorRecord {
        VectorRecord {
            id,
            vector,
            stock_ids: stocks.to_vec(),
            published_at: at,
            source: format!("feed-{}", id % 3),
            cluster_id: cluster,
        }
    }

    /// Axis 0 tilted towards axis 1 by `tilt` (cosine with axis 0 falls as
    /// `|tilt|` grows).
    fn tilted(tilt: f32) -> Vec<f32> {
        let mut v = vec![0.0; DIM];
        v[0] = 1.0;
        v[1] = tilt;
        v
    }

    fn ids(hits: &[Hit]) -> Vec<i64> {
        hits.iter().map(|h| h.id).collect()
    }

    /// A FLAT (exact) collection holding `records`, ready to search.
    async fn flat_collection(store: &MilvusStore, test: &str, records: &[VectorRecord]) -> String {
        let name = collection_name(test);
        let created = store
            .ensure_collection(&name, DIM, &IndexSpec::Flat)
            .await
            .expect("ensure_collection");
        assert!(created);
        store.upsert(&name, records).await.expect("upsert");
        store.flush(&name).await.expect("flush");
        name
    }

    #[test]
    fn compiles_filter_expressions() {
        assert_eq!(
            filter_expression(&SearchFilter::before(1_700_000_000)),
            "published_at < 1700000000"
        );
        let filter = SearchFilter {
            stock_ids: Some(vec![47, 12, 47]),
            published_before: -5,
            exclude_ids: vec![9, 3],
            exclude_clusters: vec![7],
            min_similarity: 0.3,
        };
        assert_eq!(
            filter_expression(&filter),
            "published_at < -5 and id not in [3, 9] and cluster_id not in [7] \
             and array_contains_any(stock_ids, [12, 47])"
        );
    }

    #[test]
    fn index_spec_deserializes_with_defaults() {
        let spec: IndexSpec = serde_json::from_str(r#"{"kind": "hnsw", "ef": 128}"#).expect("hnsw");
        assert_eq!(
            spec,
            IndexSpec::Hnsw {
                m: 16,
                ef_construction: 200,
                ef: 128
            }
        );
        let spec: IndexSpec =
            serde_json::from_str(r#"{"kind": "ivf_flat", "nlist": 128, "nprobe": 10}"#)
                .expect("ivf");
        assert_eq!(
            spec,
            IndexSpec::IvfFlat {
                nlist: 128,
                nprobe: 10
            }
        );
        let spec: IndexSpec = serde_json::from_str(r#"{"kind": "flat"}"#).expect("flat");
        assert_eq!(spec, IndexSpec::Flat);
        assert!(serde_json::from_str::<IndexSpec>(r#"{"kind": "hnsw", "eff": 1}"#).is_err());
        assert_eq!(
            IndexSpec::default(),
            IndexSpec::Hnsw {
                m: 16,
                ef_construction: 200,
                ef: default_hnsw_ef()
            }
        );
    }

    #[test]
    fn rejects_invalid_records() {
        let ok = record(1, tilted(0.0), &[1], 10, 1);
        assert!(validate_record(&ok, Some(DIM)).is_ok());
        assert!(validate_record(&ok, Some(DIM + 1)).is_err());
        assert!(validate_record(&record(2, vec![0.0; DIM], &[], 10, 1), None).is_err());
        let mut nan = tilted(0.0);
        nan[2] = f32::NAN;
        assert!(validate_record(&record(3, nan, &[], 10, 1), None).is_err());
        let many: Vec<i64> = (0..=MAX_STOCKS_PER_ARTICLE as i64).collect();
        assert!(validate_record(&record(4, tilted(0.0), &many, 10, 1), None).is_err());
        let mut long = record(5, tilted(0.0), &[], 10, 1);
        long.source = "x".repeat(MAX_SOURCE_BYTES + 1);
        let err = validate_record(&long, None).expect_err("too long");
        assert!(err.contains("record 5"), "{err}");
    }

    #[tokio::test]
    async fn point_in_time_cut_is_exclusive() {
        let store = store().await;
        let name = flat_collection(
            &store,
            "pit",
            &[
                record(1, tilted(0.0), &[], 1_000, 1),
                record(2, tilted(0.1), &[], 999, 2),
                record(3, tilted(0.2), &[], 1_001, 3),
            ],
        )
        .await;
        let search = |before| {
            let store = &store;
            let name = &name;
            async move {
                let hits = store
                    .search(name, &tilted(0.0), 10, &SearchFilter::before(before))
                    .await
                    .expect("search");
                ids(&hits)
            }
        };
        assert_eq!(search(1_000).await, vec![2]);
        assert_eq!(search(1_001).await, vec![1, 2]);
        assert_eq!(search(0).await, Vec::<i64>::new());
        store.drop_collection(&name).await.expect("drop");
    }

    #[tokio::test]
    async fn excludes_ids_and_clusters() {
        let store = store().await;
        let name = flat_collection(
            &store,
            "excl",
            &[
                record(1, tilted(0.0), &[], 10, 100),
                record(2, tilted(0.1), &[], 10, 100),
                record(3, tilted(0.2), &[], 10, 200),
                record(4, tilted(0.3), &[], 10, 300),
                record(5, tilted(0.4), &[], 10, 400),
            ],
        )
        .await;
        let filter = SearchFilter {
            exclude_ids: vec![3],
            exclude_clusters: vec![100],
            ..SearchFilter::before(11)
        };
        let hits = store
            .search(&name, &tilted(0.0), 2, &filter)
            .await
            .expect("search");
        assert_eq!(ids(&hits), vec![4, 5]);
        store.drop_collection(&name).await.expect("drop");
    }

    #[tokio::test]
    async fn stock_filter_matches_any_listed_stock() {
        let store = store().await;
        let name = flat_collection(
            &store,
            "stock",
            &[
                record(1, tilted(0.0), &[12], 10, 1),
                record(2, tilted(0.1), &[47, 12], 10, 2),
                record(3, tilted(0.2), &[47], 10, 3),
                record(4, tilted(0.3), &[], 10, 4),
                record(5, tilted(0.4), &[99], 10, 5),
                record(6, tilted(0.05), &[12], 20, 6),
            ],
        )
        .await;
        for (stocks, expected) in [
            (Some(vec![47]), vec![2, 3]),
            (Some(vec![12, 47]), vec![1, 2, 3]),
            (Some(vec![]), vec![]),
            (None, vec![1, 2, 3, 4, 5]),
        ] {
            let filter = SearchFilter {
                stock_ids: stocks.clone(),
                ..SearchFilter::before(15)
            };
            let hits = store
                .search(&name, &tilted(0.0), 10, &filter)
                .await
                .expect("search");
            assert_eq!(ids(&hits), expected, "stocks {stocks:?}");
        }
        store.drop_collection(&name).await.expect("drop");
    }

    #[tokio::test]
    async fn min_similarity_cuts_the_tail() {
        let store = store().await;
        let name = flat_collection(
            &store,
            "minsim",
            &[
                record(7, tilted(0.0), &[], 12, 3),
                record(9, tilted(0.5), &[], 10, 1),
                record(8, tilted(-3.0), &[], 12, 4),
            ],
        )
        .await;
        let filter = SearchFilter {
            min_similarity: 0.5,
            ..SearchFilter::before(100)
        };
        let hits = store
            .search(&name, &tilted(0.0), 10, &filter)
            .await
            .expect("search");
        assert_eq!(ids(&hits), vec![7, 9]);
        assert!((hits[0].similarity - 1.0).abs() < 1e-5, "{hits:?}");
        assert!(
            (hits[1].similarity - 1.0 / 1.25f32.sqrt()).abs() < 1e-5,
            "{hits:?}"
        );
        store.drop_collection(&name).await.expect("drop");
    }

    #[tokio::test]
    async fn upsert_replaces_delete_removes_and_ids_are_listed() {
        let store = store().await;
        let name = flat_collection(
            &store,
            "crud",
            &[
                record(1, tilted(0.0), &[5], 10, 1),
                record(2, tilted(1.0), &[5], 20, 2),
            ],
        )
        .await;
        // Move id 1 later in time, away from the query, to another stock;
        // a duplicate id within one call: the last record wins.
        store
            .upsert(
                &name,
                &[
                    record(1, tilted(0.0), &[5], 10, 1),
                    record(1, tilted(-2.0), &[6], 30, 1),
                ],
            )
            .await
            .expect("upsert");
        store.flush(&name).await.expect("flush");
        assert_eq!(store.count(&name).await.expect("count"), 2);
        let all = store
            .search(&name, &tilted(0.0), 10, &SearchFilter::before(100))
            .await
            .expect("search");
        assert_eq!(ids(&all), vec![2, 1]);
        let before_25 = store
            .search(&name, &tilted(0.0), 10, &SearchFilter::before(25))
            .await
            .expect("search");
        assert_eq!(ids(&before_25), vec![2]);
        let stock_5 = SearchFilter {
            stock_ids: Some(vec![5]),
            ..SearchFilter::before(100)
        };
        let hits = store
            .search(&name, &tilted(0.0), 10, &stock_5)
            .await
            .expect("search");
        assert_eq!(ids(&hits), vec![2]);

        // Paging: more rows than one id page.
        let mut rng = StdRng::seed_from_u64(3);
        let many: Vec<VectorRecord> = (100..100 + ID_PAGE as i64 + 500)
            .map(|id| {
                let v = (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect();
                record(id, v, &[], id, id)
            })
            .collect();
        store.upsert(&name, &many).await.expect("upsert many");
        store
            .delete(&name, &[2, 150, 151, 999_999])
            .await
            .expect("delete");
        store.flush(&name).await.expect("flush");
        let mut expected: Vec<i64> = many
            .iter()
            .map(|r| r.id)
            .filter(|&id| id != 150 && id != 151)
            .collect();
        expected.insert(0, 1);
        assert_eq!(store.all_ids(&name).await.expect("all_ids"), expected);
        assert_eq!(
            store.count(&name).await.expect("count"),
            expected.len() as u64
        );
        assert!(store.drop_collection(&name).await.expect("drop"));
        assert!(!store.drop_collection(&name).await.expect("drop again"));
    }

    #[tokio::test]
    async fn ensure_collection_is_idempotent_and_checks_the_dimension() {
        let store = store().await;
        let name = collection_name("ensure");
        let spec = IndexSpec::default();
        assert!(store
            .ensure_collection(&name, DIM, &spec)
            .await
            .expect("create"));
        assert!(!store
            .ensure_collection(&name, DIM, &spec)
            .await
            .expect("again"));
        let err = store
            .ensure_collection(&name, DIM * 2, &spec)
            .await
            .expect_err("dimension mismatch");
        let message = err.to_string();
        assert!(
            message.contains(&name) && message.contains("dimension"),
            "{message}"
        );
        let err = store
            .upsert(&name, &[record(1, vec![1.0; DIM + 1], &[], 1, 1)])
            .await
            .expect_err("bad dimension");
        assert!(err.to_string().contains("upsert"), "{err}");
        store.drop_collection(&name).await.expect("drop");
    }

    /// Random data with filters: Milvus (FLAT, and HNSW with a large ef)
    /// returns what the exact index returns.
    #[tokio::test]
    async fn matches_the_exact_index() {
        let store = store().await;
        let mut rng = StdRng::seed_from_u64(11);
        let records: Vec<VectorRecord> = (0..400)
            .map(|id| {
                let v = (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect();
                let stocks: Vec<i64> = (0..rng.random_range(0..3))
                    .map(|_| rng.random_range(1..8))
                    .collect();
                record(
                    id,
                    v,
                    &stocks,
                    rng.random_range(0..1_000),
                    rng.random_range(0..40),
                )
            })
            .collect();
        let mut exact = ExactIndex::new(DIM);
        exact.upsert(&records).expect("exact upsert");
        let hnsw = IndexSpec::Hnsw {
            m: 16,
            ef_construction: 200,
            ef: 400,
        };
        for spec in [IndexSpec::Flat, hnsw] {
            let name = collection_name("vs_exact");
            store
                .ensure_collection(&name, DIM, &spec)
                .await
                .expect("ensure");
            store.upsert(&name, &records).await.expect("upsert");
            store.flush(&name).await.expect("flush");
            for case in 0..40 {
                let query: Vec<f32> = (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect();
                let filter = SearchFilter {
                    stock_ids: (case % 3 == 0).then(|| vec![rng.random_range(1..8)]),
                    published_before: rng.random_range(100..1_100),
                    exclude_ids: vec![rng.random_range(0..400)],
                    exclude_clusters: vec![rng.random_range(0..40)],
                    min_similarity: -1.0,
                };
                let k = [1, 5, 10][case % 3];
                let expected = exact.search(&query, k, &filter).expect("exact");
                let got = store
                    .search(&name, &query, k, &filter)
                    .await
                    .expect("search");
                assert_eq!(ids(&got), ids(&expected), "{spec:?} case {case}");
                for (g, e) in got.iter().zip(&expected) {
                    assert!((g.similarity - e.similarity).abs() < 1e-4, "{g:?} vs {e:?}");
                }
            }
            store.drop_collection(&name).await.expect("drop");
        }
    }
}
