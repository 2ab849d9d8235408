//! Vector stores behind one enum: `embedded` (vectors in the SQL database,
//! exact cosine top-k in Rust: [`exact`]) and `milvus` ([`milvus`]). A
//! collection holds one (embedder, model, dimensions) in one store; its
//! SQL key is `STORE_EMBEDDERNAME` (e.g. `embedded_hashing_v1_256`), which
//! is also the Milvus collection name.
//!
//! Point in time is not optional here: every search takes a cut-off and
//! never returns an article published at or after it.

pub mod exact;
pub mod milvus;
pub mod retrieve;
pub mod store;

use crate::storage::Storage;
use exact::{ExactIndex, Hit, SearchFilter, VectorRecord};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

/// `[store]` in `jobs/news_embed.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StoreConfig {
    /// Vectors in the SQL database; exact search. The default.
    #[default]
    Embedded,
    /// A Milvus server; `uri` defaults to `MILVUS_URI`.
    Milvus {
        uri: Option<String>,
        #[serde(default)]
        index: milvus::IndexSpec,
        /// Prefix of this deployment's collection names, so that several
        /// deployments (staging, production, tests) can share one Milvus.
        namespace: Option<String>,
    },
}

pub enum VectorStore {
    Embedded {
        storage: Storage,
        /// Collections loaded from SQL on first search, kept up to date by
        /// upserts through this value.
        loaded: Mutex<HashMap<String, Arc<ExactIndex>>>,
    },
    Milvus {
        client: milvus::MilvusStore,
        index: milvus::IndexSpec,
        namespace: Option<String>,
    },
}

impl VectorStore {
    pub async fn open(
        cfg: &StoreConfig,
        storage: &Storage,
        milvus_uri: Option<&str>,
    ) -> anyhow::Result<VectorStore> {
        Ok(match cfg {
            StoreConfig::Embedded => VectorStore::Embedded {
                storage: storage.clone(),
                loaded: Mutex::new(HashMap::new()),
            },
            StoreConfig::Milvus {
                uri,
                index,
                namespace,
            } => {
                if let Some(ns) = namespace {
                    anyhow::ensure!(
                        !ns.is_empty()
                            && ns.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                            && !ns.starts_with(|c: char| c.is_ascii_digit()),
                        "store namespace {ns:?}: letters, digits and _ only, not starting with a digit"
                    );
                }
                let uri = uri.as_deref().or(milvus_uri).ok_or_else(|| {
                    anyhow::anyhow!("store kind = \"milvus\" needs `uri` or MILVUS_URI")
                })?;
                VectorStore::Milvus {
                    client: milvus::MilvusStore::connect(uri).await?,
                    index: index.clone(),
                    namespace: namespace.clone(),
                }
            }
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            VectorStore::Embedded { .. } => "embedded",
            VectorStore::Milvus { .. } => "milvus",
        }
    }

    /// The collection's key for an embedder collection name.
    pub fn collection(&self, embedder_collection: &str) -> String {
        match self {
            VectorStore::Milvus {
                namespace: Some(ns),
                ..
            } => format!("{ns}_{}_{embedder_collection}", self.kind()),
            _ => format!("{}_{embedder_collection}", self.kind()),
        }
    }

    pub async fn ensure(&self, collection: &str, dim: usize) -> anyhow::Result<()> {
        match self {
            VectorStore::Embedded { .. } => Ok(()),
            VectorStore::Milvus { client, index, .. } => {
                client.ensure_collection(collection, dim, index).await?;
                Ok(())
            }
        }
    }

    /// Stores vectors (replacing by id). The embedded store's vectors are
    /// written by `store::record_embedded` in the same transaction as the
    /// bookkeeping; here only its loaded index is updated.
    pub async fn upsert(&self, collection: &str, records: &[VectorRecord]) -> anyhow::Result<()> {
        match self {
            VectorStore::Embedded { loaded, .. } => {
                let mut loaded = loaded.lock().await;
                if let Some(idx) = loaded.get_mut(collection) {
                    Arc::make_mut(idx).upsert(records)?;
                }
                Ok(())
            }
            VectorStore::Milvus { client, .. } => {
                client.upsert(collection, records).await?;
                client.flush(collection).await?;
                Ok(())
            }
        }
    }

    pub async fn delete(&self, collection: &str, ids: &[i64]) -> anyhow::Result<()> {
        match self {
            VectorStore::Embedded { loaded, .. } => {
                if let Some(idx) = loaded.lock().await.get_mut(collection) {
                    Arc::make_mut(idx).remove(ids);
                }
                Ok(())
            }
            VectorStore::Milvus { client, .. } => {
                client.delete(collection, ids).await?;
                client.flush(collection).await?;
                Ok(())
            }
        }
    }

    pub async fn search(
        &self,
        collection: &str,
        dim: usize,
        query: &[f32],
        k: usize,
        filter: &SearchFilter,
    ) -> anyhow::Result<Vec<Hit>> {
        match self {
            VectorStore::Embedded { .. } => {
                let idx = self.embedded_index(collection, dim).await?;
                let (query, filter) = (query.to_vec(), filter.clone());
                // A scan of 100k vectors is tens of milliseconds of CPU.
                Ok(tokio::task::spawn_blocking(move || idx.search(&query, k, &filter)).await??)
            }
            VectorStore::Milvus { client, .. } => {
                Ok(client.search(collection, query, k, filter).await?)
            }
        }
    }

    /// Ids the store holds for a collection.
    pub async fn ids(&self, collection: &str, dim: usize) -> anyhow::Result<Vec<i64>> {
        match self {
            VectorStore::Embedded { .. } => Ok(self.embedded_index(collection, dim).await?.ids()),
            VectorStore::Milvus { client, .. } => Ok(client.all_ids(collection).await?),
        }
    }

    async fn embedded_index(
        &self,
        collection: &str,
        dim: usize,
    ) -> anyhow::Result<Arc<ExactIndex>> {
        let VectorStore::Embedded { storage, loaded } = self else {
            anyhow::bail!("not the embedded store");
        };
        let mut loaded = loaded.lock().await;
        if let Some(idx) = loaded.get(collection) {
            return Ok(idx.clone());
        }
        let records = store::load_vectors(storage, collection).await?;
        let mut idx = ExactIndex::new(dim);
        idx.upsert(&records)?;
        let idx = Arc::new(idx);
        loaded.insert(collection.to_string(), idx.clone());
        Ok(idx)
    }
}
