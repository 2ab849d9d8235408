//! News embeddings (issue #5): turning article text into unit vectors for
//! similarity search and clustering.
//!
//! Two embedders sit behind one enum ([`Embedder`]), chosen by the `[embedder]`
//! table of `jobs/news_embed.toml` ([`EmbedderConfig`]):
//!
//! - [`hashing`] — the offline default: deterministic feature hashing, no key,
//!   no network, so a fresh checkout embeds news out of the box;
//! - [`openai`] — the OpenAI embeddings API or any compatible endpoint
//!   (OpenRouter, vLLM, Ollama, …) through `async-openai`.
//!
//! Vectors from different embedders, models or sizes must never be mixed in
//! one index, so every embedder reports an [`EmbedderId`] whose
//! [`EmbedderId::collection_name`] names the collection its vectors go to.
//!
//! An enum rather than a trait object: there are two implementations, both
//! known here, and `async fn` in a `dyn` trait would need boxing for no gain.

pub mod hashing;
pub mod openai;

use std::time::Duration;

pub use openai::install_crypto_provider;

/// Which embedder produced a vector: vectors are comparable only when all
/// three fields are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct EmbedderId {
    /// `"hashing"` or `"openai"`.
    pub embedder: String,
    /// The model, e.g. `"hashing-v1"` or `"text-embedding-3-small"`.
    pub model: String,
    /// Length of every vector.
    pub dimensions: usize,
}

/// Longest collection name: PostgreSQL truncates identifiers at 63 bytes, and
/// Milvus (255) is more lenient, so 63 is safe for both.
const MAX_COLLECTION_NAME: usize = 63;

impl EmbedderId {
    /// Collection / table-safe name, e.g. `"hashing_v1_256"`,
    /// `"openai_text_embedding_3_small_768"`: lowercase `[a-z0-9_]`, starting
    /// with a letter, at most 63 bytes, and stable (it names stored data, so
    /// it must never change for the same id).
    ///
    /// Built as `{embedder}_{model}_{dimensions}` with every run of other
    /// characters turned into one `_`; the embedder prefix is not repeated
    /// when the model already starts with it (`hashing-v1` → `hashing_v1_…`,
    /// OpenRouter's `openai/text-embedding-3-small` → `openai_text_…`, which
    /// is the same model and so rightly the same collection). A name that
    /// would be too long is cut and given 8 hex digits of a BLAKE3 hash of the
    /// full id so that distinct long ids stay distinct.
    pub fn collection_name(&self) -> String {
        let embedder = sanitize(&self.embedder);
        let model = sanitize(&self.model);
        let mut stem = if embedder.is_empty()
            || model == embedder
            || model.starts_with(&format!("{embedder}_"))
        {
            model
        } else if model.is_empty() {
            embedder
        } else {
            format!("{embedder}_{model}")
        };
        // Identifiers must not start with a digit (SQL, Milvus).
        if !stem.starts_with(|c: char| c.is_ascii_lowercase()) {
            stem.insert_str(0, "e_");
        }
        let suffix = format!("_{}", self.dimensions);
        if stem.len() + suffix.len() <= MAX_COLLECTION_NAME {
            return format!("{stem}{suffix}");
        }
        let digest = blake3::hash(
            format!("{}\0{}\0{}", self.embedder, self.model, self.dimensions).as_bytes(),
        );
        let tag = &digest.to_hex()[..8];
        // stem is ASCII, so any byte index is a char boundary.
        let keep = MAX_COLLECTION_NAME.saturating_sub(suffix.len() + 1 + tag.len());
        let cut = stem[..keep.min(stem.len())].trim_end_matches('_');
        format!("{cut}_{tag}{suffix}")
    }
}

/// Lowercase ASCII alphanumerics; every run of anything else becomes one `_`,
/// none at either end.
fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// What an [`Embedder::embed`] call cost.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    /// Embedding calls made, retries included (0 for the hashing embedder).
    /// For OpenAI these are our attempts: the re-sends `async-openai` does by
    /// itself are not visible (see [`openai`]).
    pub requests: u64,
    /// Tokens the endpoint reports having read (`usage.prompt_tokens`).
    pub prompt_tokens: u64,
    /// Attempts repeated after a retryable failure.
    pub retries: u64,
}

impl Usage {
    /// Adds another call's usage to this one.
    pub fn add(&mut self, other: &Usage) {
        self.requests += other.requests;
        self.prompt_tokens += other.prompt_tokens;
        self.retries += other.retries;
    }
}

/// Why embedding failed. Messages never contain the API key.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The endpoint answered with an HTTP error (after any retries).
    #[error("embeddings endpoint answered HTTP {status}: {message}")]
    Http { status: u16, message: String },
    /// HTTP 429 (rate limit, not quota): retryable after `retry_after` when
    /// the endpoint said how long to wait.
    #[error("embeddings endpoint rate-limited us (HTTP 429{}): {message}", fmt_retry_after(.retry_after))]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    /// A vector of the wrong length: the model or `dimensions` setting does
    /// not match what the endpoint serves.
    #[error(
        "embedding for input {index} has {got} dimensions but {expected} were expected \
         (check `model` and `dimensions` in the [embedder] config against what the endpoint serves)"
    )]
    WrongDimension {
        expected: usize,
        got: usize,
        index: usize,
    },
    /// The endpoint returned a different number of vectors than inputs sent.
    #[error("embeddings endpoint returned {got} vectors for {expected} inputs")]
    WrongCount { expected: usize, got: usize },
    /// An input that cannot be embedded (e.g. empty text).
    #[error("input {index} cannot be embedded: {why}")]
    BadInput { index: usize, why: String },
    /// The endpoint answered something that is not a valid embeddings
    /// response (unparseable JSON, duplicate or out-of-range `index`,
    /// non-finite values).
    #[error("invalid embeddings response: {0}")]
    InvalidResponse(String),
    /// Connection failure, timeout, or a body cut short.
    #[error("network error talking to the embeddings endpoint: {0}")]
    Network(String),
    /// Invalid configuration (or a missing API key).
    #[error("embedder configuration error: {0}")]
    Config(String),
    /// A bug or a panicked worker, not the input's or the endpoint's fault.
    #[error("internal embedder error: {0}")]
    Internal(String),
}

fn fmt_retry_after(d: &Option<Duration>) -> String {
    match d {
        Some(d) => format!(", retry after {:.3}s", d.as_secs_f64()),
        None => String::new(),
    }
}

impl EmbedError {
    /// Whether trying the same request again may succeed: rate limits,
    /// 408/5xx and network errors. Everything else (4xx, bad config, bad
    /// input, malformed or mis-sized responses) fails the same way again.
    pub fn retryable(&self) -> bool {
        match self {
            EmbedError::Http { status, .. } => *status == 408 || (500..=599).contains(status),
            EmbedError::RateLimited { .. } | EmbedError::Network(_) => true,
            _ => false,
        }
    }

    /// How long the endpoint asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            EmbedError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The `[embedder]` table of `jobs/news_embed.toml`, selected by `kind`:
///
/// ```toml
/// [embedder]
/// kind = "hashing"          # the default: offline, no key
/// dimensions = 256
///
/// # or
/// [embedder]
/// kind = "openai"
/// model = "text-embedding-3-small"
/// dimensions = 768          # optional: sent to the API only when set
/// ```
///
/// Unknown keys are rejected (in the variants' own structs) so a typo fails
/// `tickerd validate` instead of silently using a default.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EmbedderConfig {
    Hashing(hashing::HashingConfig),
    Openai(openai::OpenAiConfig),
}

impl Default for EmbedderConfig {
    fn default() -> Self {
        EmbedderConfig::Hashing(hashing::HashingConfig::default())
    }
}

impl EmbedderConfig {
    /// Checks the configuration without a key, network or HTTP client (for
    /// `tickerd validate`). [`Embedder::build`] runs the same checks.
    pub fn validate(&self) -> Result<(), EmbedError> {
        match self {
            EmbedderConfig::Hashing(c) => hashing::Hashing::new(c).map(drop),
            EmbedderConfig::Openai(c) => openai::OpenAi::check_config(c).map(drop),
        }
    }
}

/// An embedder ready to use (the enum registry: one `match` per method).
// Built once per job run, so the size gap between variants (the HTTP client
// and settings vs. one number) costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Embedder {
    Hashing(hashing::Hashing),
    OpenAi(openai::OpenAi),
}

impl Embedder {
    /// Builds the configured embedder. `api_key` / `base_url` come from the
    /// caller (the environment's `OPENAI_API_KEY` / `OPENAI_BASE_URL`, via
    /// tickerd's settings, which wrap secrets); `base_url` in the config
    /// overrides the passed one. The hashing embedder ignores both.
    pub fn build(
        cfg: &EmbedderConfig,
        api_key: Option<&str>,
        base_url: Option<&str>,
    ) -> Result<Embedder, EmbedError> {
        Ok(match cfg {
            EmbedderConfig::Hashing(c) => Embedder::Hashing(hashing::Hashing::new(c)?),
            EmbedderConfig::Openai(c) => {
                Embedder::OpenAi(openai::OpenAi::new(c, api_key, base_url)?)
            }
        })
    }

    /// What this embedder produces; known before the first call.
    pub fn id(&self) -> EmbedderId {
        match self {
            Embedder::Hashing(e) => e.id(),
            Embedder::OpenAi(e) => e.id(),
        }
    }

    /// Embeds `texts` in order: one vector per text, each L2-normalised and of
    /// `id().dimensions`. Batching, concurrency and retries happen inside.
    /// Empty or whitespace-only texts are rejected with
    /// [`EmbedError::BadInput`] (their cosine similarity is undefined), so
    /// callers filter them out first.
    pub async fn embed(&self, texts: &[String]) -> Result<(Vec<Vec<f32>>, Usage), EmbedError> {
        match self {
            Embedder::Hashing(e) => e.embed(texts).await,
            Embedder::OpenAi(e) => e.embed(texts).await,
        }
    }
}

/// Rejects empty or whitespace-only texts: shared by both embedders so they
/// accept the same inputs.
pub(crate) fn check_not_blank(index: usize, text: &str) -> Result<(), EmbedError> {
    if text.trim().is_empty() {
        return Err(EmbedError::BadInput {
            index,
            why: "empty or whitespace-only text (its similarity to anything is undefined)".into(),
        });
    }
    Ok(())
}

/// Scales `v` to unit length in place; `None` when it cannot be (zero or
/// non-finite), so callers decide what that means.
pub(crate) fn l2_normalize(v: &mut [f32]) -> Option<()> {
    let norm = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return None;
    }
    for x in v.iter_mut() {
        *x = (f64::from(*x) / norm) as f32;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(embedder: &str, model: &str, dimensions: usize) -> EmbedderId {
        EmbedderId {
            embedder: embedder.into(),
            model: model.into(),
            dimensions,
        }
    }

    #[test]
    fn collection_names_are_safe_and_stable() {
        assert_eq!(
            id("hashing", "hashing-v1", 256).collection_name(),
            "hashing_v1_256"
        );
        assert_eq!(
            id("openai", "text-embedding-3-small", 768).collection_name(),
            "openai_text_embedding_3_small_768"
        );
        assert_eq!(
            id("openai", "openai/text-embedding-3-small", 1536).collection_name(),
            "openai_text_embedding_3_small_1536"
        );
        assert_eq!(
            id("openai", "BAAI/bge-m3", 1024).collection_name(),
            "openai_baai_bge_m3_1024"
        );
        assert_eq!(
            id("openai", "nomic-embed-text:latest", 768).collection_name(),
            "openai_nomic_embed_text_latest_768"
        );
        assert_eq!(id("", "3d", 8).collection_name(), "e_3d_8");

        let long = id("openai", &"very-long-model-name/".repeat(10), 4096);
        let name = long.collection_name();
        assert!(name.len() <= 63, "{name}");
        assert!(name.ends_with("_4096"), "{name}");
        assert_eq!(name, long.collection_name(), "stable");
        let other = id(
            "openai",
            &format!("{}x", "very-long-model-name/".repeat(10)),
            4096,
        );
        assert_ne!(name, other.collection_name(), "long ids stay distinct");
        for n in [name, other.collection_name()] {
            assert!(n
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
            assert!(!n.contains("__"), "{n}");
        }
    }

    #[test]
    fn config_parses_from_toml() {
        #[derive(serde::Deserialize)]
        struct Job {
            #[serde(default)]
            embedder: EmbedderConfig,
        }
        let job: Job = toml::from_str("").unwrap();
        assert!(matches!(job.embedder, EmbedderConfig::Hashing(ref c) if c.dimensions == 256));

        let job: Job =
            toml::from_str("[embedder]\nkind = \"hashing\"\ndimensions = 512\n").unwrap();
        assert!(matches!(job.embedder, EmbedderConfig::Hashing(ref c) if c.dimensions == 512));

        let job: Job = toml::from_str(
            "[embedder]\nkind = \"openai\"\nmodel = \"text-embedding-3-large\"\ndimensions = 1024\nbatch_size = 64\nbase_url = \"http://127.0.0.1:8000/v1\"\n",
        )
        .unwrap();
        let EmbedderConfig::Openai(c) = &job.embedder else {
            panic!("not openai: {:?}", job.embedder)
        };
        assert_eq!(c.model, "text-embedding-3-large");
        assert_eq!(c.dimensions, Some(1024));
        assert_eq!(c.batch_size, 64);
        assert_eq!(c.concurrency, 4, "defaults fill the rest");
        job.embedder.validate().unwrap();

        let job: Job = toml::from_str("[embedder]\nkind = \"openai\"\n").unwrap();
        let EmbedderConfig::Openai(c) = &job.embedder else {
            panic!()
        };
        assert_eq!(c.model, "text-embedding-3-small");
        assert_eq!(c.dimensions, None);

        for bad in [
            "[embedder]\nkind = \"hashing\"\ndimension = 256\n",
            "[embedder]\nkind = \"openai\"\nbatchsize = 3\n",
            "[embedder]\nkind = \"word2vec\"\n",
            "[embedder]\ndimensions = 256\n",
        ] {
            assert!(toml::from_str::<Job>(bad).is_err(), "accepted: {bad}");
        }
    }

    #[test]
    fn validate_catches_bad_values() {
        let bad = [
            "kind = \"hashing\"\ndimensions = 0\n",
            "kind = \"openai\"\nmodel = \"my-local-model\"\n", // unknown size
            "kind = \"openai\"\nbatch_size = 0\n",
            "kind = \"openai\"\nbatch_size = 4096\n",
            "kind = \"openai\"\nconcurrency = 0\n",
            "kind = \"openai\"\ndimensions = 4096\n", // > 1536 for -3-small
            "kind = \"openai\"\nmodel = \"text-embedding-ada-002\"\ndimensions = 512\n",
            "kind = \"openai\"\nmax_input_tokens = 200000\n",
            "kind = \"openai\"\nbase_url = \"ftp://x\"\n",
        ];
        for text in bad {
            let cfg: EmbedderConfig = toml::from_str(text).unwrap();
            let err = cfg.validate().expect_err(text);
            assert!(matches!(err, EmbedError::Config(_)), "{text}: {err}");
        }
        let ok: EmbedderConfig =
            toml::from_str("kind = \"openai\"\nmodel = \"my-local-model\"\ndimensions = 384\n")
                .unwrap();
        ok.validate().unwrap();
    }

    #[tokio::test]
    async fn build_and_embed_with_the_default() {
        let e = Embedder::build(&EmbedderConfig::default(), None, None).unwrap();
        let id = e.id();
        assert_eq!(
            (id.embedder.as_str(), id.model.as_str(), id.dimensions),
            ("hashing", "hashing-v1", 256)
        );
        let (v, usage) = e
            .embed(&[
                "삼성전자 실적 발표".to_string(),
                "Apple earnings".to_string(),
            ])
            .await
            .unwrap();
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|v| v.len() == 256));
        assert_eq!(usage, Usage::default());
        let err = e
            .embed(&["ok".to_string(), "  ".to_string()])
            .await
            .unwrap_err();
        assert!(
            matches!(err, EmbedError::BadInput { index: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn embed_future_is_send() {
        // Jobs run on spawned tasks: the future must be Send.
        fn assert_send<T: Send>(_: &T) {}
        let cfg: EmbedderConfig = toml::from_str("kind = \"openai\"\n").unwrap();
        for cfg in [EmbedderConfig::default(), cfg] {
            let e = Embedder::build(&cfg, None, Some("http://127.0.0.1:9/v1")).unwrap();
            let texts = Vec::new();
            assert_send(&e.embed(&texts));
        }
    }

    #[test]
    fn openai_build_needs_a_key_only_for_openai_itself() {
        let cfg: EmbedderConfig = toml::from_str("kind = \"openai\"\n").unwrap();
        let err = Embedder::build(&cfg, None, None).unwrap_err();
        assert!(
            matches!(err, EmbedError::Config(ref m) if m.contains("OPENAI_API_KEY")),
            "{err}"
        );
        // A local compatible server needs none.
        let e = Embedder::build(&cfg, None, Some("http://127.0.0.1:11434/v1")).unwrap();
        assert_eq!(e.id().dimensions, 1536);
        assert_eq!(
            e.id().collection_name(),
            "openai_text_embedding_3_small_1536"
        );
        // A key that cannot be an HTTP header value is refused, not echoed.
        let err = Embedder::build(&cfg, Some("sk-bad\nkey"), None).unwrap_err();
        assert!(!err.to_string().contains("sk-bad"), "{err}");
    }

    #[test]
    fn errors_classify_and_read_well() {
        let http = |status| EmbedError::Http {
            status,
            message: "m".into(),
        };
        assert!(http(500).retryable() && http(503).retryable() && http(408).retryable());
        assert!(!http(400).retryable() && !http(401).retryable() && !http(404).retryable());
        assert!(
            !http(429).retryable(),
            "a 429 that is not RateLimited is out of quota"
        );
        let rl = EmbedError::RateLimited {
            retry_after: Some(Duration::from_millis(1500)),
            message: "slow down".into(),
        };
        assert!(rl.retryable());
        assert_eq!(rl.retry_after(), Some(Duration::from_millis(1500)));
        assert!(rl.to_string().contains("retry after 1.500s"), "{rl}");
        let wd = EmbedError::WrongDimension {
            expected: 768,
            got: 1536,
            index: 3,
        };
        assert!(!wd.retryable());
        let s = wd.to_string();
        assert!(
            s.contains("768") && s.contains("1536") && s.contains("input 3"),
            "{s}"
        );
        assert!(EmbedError::Network("reset".into()).retryable());
        assert!(!EmbedError::WrongCount {
            expected: 2,
            got: 1
        }
        .retryable());
    }

    #[test]
    fn normalize() {
        let mut v = vec![3.0, 4.0];
        l2_normalize(&mut v).unwrap();
        assert_eq!(v, vec![0.6, 0.8]);
        assert!(l2_normalize(&mut [0.0, 0.0]).is_none());
        assert!(l2_normalize(&mut [f32::NAN, 1.0]).is_none());
    }
}
