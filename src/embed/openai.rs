//! The OpenAI embedder: `POST {base_url}/embeddings` through `async-openai`
//! (0.43), for OpenAI itself or any compatible endpoint (OpenRouter, vLLM,
//! Ollama, …).
//!
//! Why this shape:
//! - **Batching.** One request carries up to `batch_size` inputs (the API's
//!   limit is 2048) and up to `max_batch_tokens` estimated tokens; each input
//!   is first cut to `max_input_tokens` (the models read 8,192 at most).
//!   There is no tokenizer crate here, so tokens are *estimated*: ⅓ token
//!   per character (chars / 3 rounded up: English averages ~4 chars a token,
//!   so this over-counts, which is the safe side), except Hangul / CJK / kana
//!   characters, which count 1.5 tokens each — Korean costs about a token per
//!   syllable or more with OpenAI's tokenizer, and chars / 3 would let a long
//!   Korean article overflow the model's context and fail its whole batch.
//! - **Concurrency.** A few batches are in flight at once
//!   (`futures::stream::buffered`, which yields results in input order), so
//!   the vectors come back in the order of the texts.
//! - **Retries.** `async-openai` 0.43, built as tickerd builds it (features
//!   `rustls-no-provider` + `embedding`, without `middleware`), always wraps
//!   its HTTP client in its own `OpenAIRetryLayer::default()`: up to 3
//!   re-sends on 429 (except `insufficient_quota`), 5xx and connect errors,
//!   waiting `Retry-After` (whole seconds) when sent, else 100 ms doubling to
//!   8 s, without jitter. That layer cannot be turned off or configured
//!   without the `middleware` feature (`Client::with_http_service`), and
//!   `with_http_client` re-wraps a custom client in the same layer. The error
//!   it finally returns carries the status and the server's message but not
//!   the headers, so `Retry-After` / `retry-after-ms` never reach us.
//!   Our own loop therefore sits *around* it: each of our attempts is one
//!   `embeddings().create` call, bounded by `timeout_secs`, and a retryable
//!   failure (429, 408, 5xx, network or timeout) is retried up to
//!   `max_retries` times with exponential backoff from `backoff_ms` and
//!   jitter, or, on a 429 whose message says "try again in 1.5s" (OpenAI's
//!   do), after that long. So one batch makes at most
//!   `4 × (max_retries + 1)` HTTP requests, and `Retry-After` in seconds is
//!   honoured by the inner layer. [`super::Usage`] counts our attempts and
//!   retries; the inner re-sends are invisible to it. (For retries fully our
//!   own, honouring `retry-after-ms` too, enable async-openai's `middleware`
//!   feature and install `ReqwestService` under a small header-reading tower
//!   layer with `Client::with_http_service`: a Cargo.toml change.)
//! - **Checks.** Exactly one vector per input, each `index` once, each of the
//!   expected length ([`EmbedError::WrongDimension`] otherwise: a model or
//!   `dimensions` mismatch must never reach the index), then re-normalised
//!   (OpenAI's are unit length, some compatible servers' are not).
//! - **Secrets.** The key is given to `async-openai` (which keeps it in a
//!   `SecretString`) and is scrubbed from every message we build, in case a
//!   server echoes it.
//!
//! `async-openai` uses reqwest 0.13 with `rustls-no-provider`, so a rustls
//! `CryptoProvider` must be installed before any client is built:
//! [`install_crypto_provider`], called by [`OpenAi::new`].

use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::embeddings::{
    CreateEmbeddingRequest, CreateEmbeddingRequestArgs, CreateEmbeddingResponse, EmbeddingInput,
};
use async_openai::Client;
use futures::StreamExt;
use rand::Rng;

use super::{check_not_blank, l2_normalize, EmbedError, EmbedderId, Usage};

/// OpenAI's endpoint, used when neither the caller nor the config names one.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The default model: cheap, good, 1536 dimensions (shortenable).
pub const DEFAULT_MODEL: &str = "text-embedding-3-small";
/// The API's limit on inputs per request.
pub const MAX_BATCH_SIZE: usize = 2048;
/// Longest wait we accept from a server's "try again in …" hint.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// Cap of the exponential backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Longest server message kept in an error (proxies answer with HTML pages).
const MAX_MESSAGE_CHARS: usize = 1000;

/// Installs ring as the process-wide rustls `CryptoProvider`. reqwest 0.13
/// (under `async-openai`) is built with `rustls-no-provider` to keep aws-lc
/// (a C build) out, and panics when building a client without a provider.
/// Idempotent: a provider installed earlier (by us or anyone) is kept.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// `[embedder] kind = "openai"`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiConfig {
    /// Model name as the endpoint knows it (default `text-embedding-3-small`).
    pub model: String,
    /// Vector size. Optional for OpenAI's models (1536 for
    /// `text-embedding-3-small` and `text-embedding-ada-002`, 3072 for
    /// `text-embedding-3-large`), required for any other model so the
    /// collection is known before the first call. Sent as the request's
    /// `dimensions` field only when set here.
    pub dimensions: Option<usize>,
    /// Whether to send `dimensions` when it is set (default true). Set false
    /// for servers that reject the field (e.g. vLLM with a model that cannot
    /// be shortened): the value then only states the size expected back.
    pub send_dimensions: bool,
    /// Overrides the endpoint passed by the caller (`OPENAI_BASE_URL`).
    pub base_url: Option<String>,
    /// Inputs per request (default 128, at most 2048).
    pub batch_size: usize,
    /// Estimated tokens per request (default 100,000; OpenAI allows 300,000).
    pub max_batch_tokens: usize,
    /// Each input is cut to this many estimated tokens (default 8,000).
    pub max_input_tokens: usize,
    /// Requests in flight at once (default 4).
    pub concurrency: usize,
    /// Retries of a failed request, on top of async-openai's own (default 5).
    pub max_retries: u32,
    /// Limit on one attempt, async-openai's re-sends included (default 60).
    pub timeout_secs: u64,
    /// First backoff delay in ms, doubled per retry, with jitter (default 500).
    pub backoff_ms: u64,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        OpenAiConfig {
            model: DEFAULT_MODEL.into(),
            dimensions: None,
            send_dimensions: true,
            base_url: None,
            batch_size: 128,
            max_batch_tokens: 100_000,
            max_input_tokens: 8_000,
            concurrency: 4,
            max_retries: 5,
            timeout_secs: 60,
            backoff_ms: 500,
        }
    }
}

/// The native vector size of OpenAI's embedding models, also under a
/// provider prefix (`openai/text-embedding-3-small` on OpenRouter).
pub fn native_dimensions(model: &str) -> Option<usize> {
    match model.rsplit('/').next().unwrap_or(model) {
        "text-embedding-3-small" | "text-embedding-ada-002" => Some(1536),
        "text-embedding-3-large" => Some(3072),
        _ => None,
    }
}

/// What a config resolves to, before any client exists.
struct Checked {
    dimensions: usize,
    send_dimensions: Option<u32>,
}

/// The OpenAI(-compatible) embedder.
pub struct OpenAi {
    client: Client<OpenAIConfig>,
    base_url: String,
    model: String,
    dimensions: usize,
    send_dimensions: Option<u32>,
    batch_size: usize,
    max_batch_tokens: usize,
    max_input_tokens: usize,
    concurrency: usize,
    max_retries: u32,
    timeout: Duration,
    backoff: Duration,
    /// Only to scrub it from error messages; never printed.
    api_key: Option<String>,
}

impl std::fmt::Debug for OpenAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Hand-written so neither the key nor the client's config can leak.
        f.debug_struct("OpenAi")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("dimensions", &self.dimensions)
            .field("send_dimensions", &self.send_dimensions)
            .field("batch_size", &self.batch_size)
            .field("max_batch_tokens", &self.max_batch_tokens)
            .field("max_input_tokens", &self.max_input_tokens)
            .field("concurrency", &self.concurrency)
            .field("max_retries", &self.max_retries)
            .field("timeout", &self.timeout)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// One request's worth of inputs, already truncated.
struct Batch {
    /// Position of the first input among all texts (for error messages).
    start: usize,
    inputs: Vec<String>,
    tokens: usize,
}

impl OpenAi {
    /// Validates `cfg` (no key, no network): sizes, limits, base URL.
    pub(super) fn check_config(cfg: &OpenAiConfig) -> Result<(), EmbedError> {
        Self::check(cfg).map(drop)
    }

    fn check(cfg: &OpenAiConfig) -> Result<Checked, EmbedError> {
        let bad = |m: String| Err(EmbedError::Config(m));
        if cfg.model.trim().is_empty() {
            return bad("`model` is empty".into());
        }
        let native = native_dimensions(&cfg.model);
        let ada = cfg.model.ends_with("text-embedding-ada-002");
        let dimensions = match (cfg.dimensions, native) {
            (Some(0), _) => return bad("`dimensions` must be positive".into()),
            (Some(_), _) if ada => {
                return bad(
                    "text-embedding-ada-002 has a fixed size (1536) and rejects the `dimensions` \
                     field: remove `dimensions`"
                        .into(),
                )
            }
            (Some(d), Some(n)) if d > n => {
                return bad(format!(
                    "`dimensions` = {d} exceeds {}'s native size {n}",
                    cfg.model
                ))
            }
            (Some(d), _) => d,
            (None, Some(n)) => n,
            (None, None) => {
                return bad(format!(
                    "model `{}` is not one of OpenAI's, so its vector size is unknown: set \
                     `dimensions` to it (and `send_dimensions = false` if the server rejects the field)",
                    cfg.model
                ))
            }
        };
        let send_dimensions = match cfg.dimensions {
            Some(d) if cfg.send_dimensions => Some(
                u32::try_from(d)
                    .map_err(|_| EmbedError::Config(format!("`dimensions` = {d} is too large")))?,
            ),
            _ => None,
        };
        if !(1..=MAX_BATCH_SIZE).contains(&cfg.batch_size) {
            return bad(format!(
                "`batch_size` must be between 1 and {MAX_BATCH_SIZE}, not {}",
                cfg.batch_size
            ));
        }
        if !(1..=cfg.max_batch_tokens).contains(&cfg.max_input_tokens) {
            return bad(format!(
                "`max_input_tokens` ({}) must be between 1 and `max_batch_tokens` ({})",
                cfg.max_input_tokens, cfg.max_batch_tokens
            ));
        }
        if !(1..=64).contains(&cfg.concurrency) {
            return bad(format!(
                "`concurrency` must be between 1 and 64, not {}",
                cfg.concurrency
            ));
        }
        if cfg.max_retries > 20 {
            return bad(format!(
                "`max_retries` must be at most 20, not {}",
                cfg.max_retries
            ));
        }
        if !(1..=3600).contains(&cfg.timeout_secs) {
            return bad(format!(
                "`timeout_secs` must be between 1 and 3600, not {}",
                cfg.timeout_secs
            ));
        }
        if cfg.backoff_ms > 60_000 {
            return bad(format!(
                "`backoff_ms` must be at most 60000, not {}",
                cfg.backoff_ms
            ));
        }
        if let Some(url) = &cfg.base_url {
            check_base_url(url)?;
        }
        Ok(Checked {
            dimensions,
            send_dimensions,
        })
    }

    /// Builds the embedder. `api_key` is required for OpenAI's own endpoint
    /// and optional for others (local servers need none); `cfg.base_url`
    /// overrides `base_url`. Installs the rustls provider first.
    pub fn new(
        cfg: &OpenAiConfig,
        api_key: Option<&str>,
        base_url: Option<&str>,
    ) -> Result<OpenAi, EmbedError> {
        let checked = Self::check(cfg)?;
        let base_url = cfg
            .base_url
            .as_deref()
            .or(base_url)
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .unwrap_or(DEFAULT_BASE_URL);
        check_base_url(base_url)?;
        // async-openai appends "/embeddings".
        let base_url = base_url.trim_end_matches('/').to_string();

        let api_key = api_key.map(str::trim).filter(|k| !k.is_empty());
        if let Some(key) = api_key {
            // async-openai unwraps the Authorization header it builds from
            // the key: a newline would panic every request. Never echo it.
            if !key.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(EmbedError::Config(
                    "the API key contains whitespace or non-ASCII characters, which an HTTP \
                     header cannot carry"
                        .into(),
                ));
            }
        } else if base_url.contains("://api.openai.com") {
            return Err(EmbedError::Config(
                "OPENAI_API_KEY is not set (needed for api.openai.com; use the hashing embedder \
                 to run without one)"
                    .into(),
            ));
        }

        install_crypto_provider();
        // Everything set explicitly: OpenAIConfig::new() would otherwise
        // read OPENAI_API_KEY / OPENAI_BASE_URL / OPENAI_ORG_ID /
        // OPENAI_PROJECT_ID behind tickerd's settings' back.
        let config = OpenAIConfig::new()
            .with_api_base(base_url.clone())
            .with_api_key(api_key.unwrap_or_default())
            .with_org_id("")
            .with_project_id("");
        // reqwest panics when the TLS backend or resolver cannot start; a
        // daemon should report that, not die of it.
        let client =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Client::with_config(config)))
                .map_err(|_| {
                    EmbedError::Config(
                        "could not start the HTTP client (TLS backend or DNS resolver)".into(),
                    )
                })?;

        Ok(OpenAi {
            client,
            base_url,
            model: cfg.model.clone(),
            dimensions: checked.dimensions,
            send_dimensions: checked.send_dimensions,
            batch_size: cfg.batch_size,
            max_batch_tokens: cfg.max_batch_tokens,
            max_input_tokens: cfg.max_input_tokens,
            concurrency: cfg.concurrency,
            max_retries: cfg.max_retries,
            timeout: Duration::from_secs(cfg.timeout_secs),
            backoff: Duration::from_millis(cfg.backoff_ms),
            api_key: api_key.map(str::to_string),
        })
    }

    pub fn id(&self) -> EmbedderId {
        EmbedderId {
            embedder: "openai".into(),
            model: self.model.clone(),
            dimensions: self.dimensions,
        }
    }

    /// Embeds texts in order (see the module docs for batching, retries and
    /// checks). Fails on the first batch that fails for good; the batches
    /// still in flight are then dropped.
    pub async fn embed(&self, texts: &[String]) -> Result<(Vec<Vec<f32>>, Usage), EmbedError> {
        if texts.is_empty() {
            return Ok((Vec::new(), Usage::default()));
        }
        let batches = self.plan(texts)?;
        tracing::debug!(
            texts = texts.len(),
            batches = batches.len(),
            model = %self.model,
            "embedding via the embeddings API"
        );
        let mut vectors = Vec::with_capacity(texts.len());
        let mut usage = Usage::default();
        let mut results = futures::stream::iter(batches)
            .map(|batch| self.embed_batch(batch))
            .buffered(self.concurrency);
        while let Some(result) = results.next().await {
            let (batch_vectors, batch_usage) = result?;
            vectors.extend(batch_vectors);
            usage.add(&batch_usage);
        }
        Ok((vectors, usage))
    }

    /// Splits texts into batches by count and estimated tokens, truncating
    /// each text to `max_input_tokens` first.
    fn plan(&self, texts: &[String]) -> Result<Vec<Batch>, EmbedError> {
        let mut batches = Vec::new();
        let mut current = Batch {
            start: 0,
            inputs: Vec::new(),
            tokens: 0,
        };
        for (i, text) in texts.iter().enumerate() {
            check_not_blank(i, text)?;
            let (input, tokens) = truncate_to_tokens(text, self.max_input_tokens);
            if input.len() < text.len() {
                tracing::debug!(
                    input = i,
                    kept_chars = input.chars().count(),
                    "input truncated"
                );
            }
            if !current.inputs.is_empty()
                && (current.inputs.len() >= self.batch_size
                    || current.tokens + tokens > self.max_batch_tokens)
            {
                let next = Batch {
                    start: i,
                    inputs: Vec::new(),
                    tokens: 0,
                };
                batches.push(std::mem::replace(&mut current, next));
            }
            current.inputs.push(input.to_string());
            current.tokens += tokens;
        }
        if !current.inputs.is_empty() {
            batches.push(current);
        }
        Ok(batches)
    }

    /// One batch, with our retries around async-openai's.
    async fn embed_batch(&self, batch: Batch) -> Result<(Vec<Vec<f32>>, Usage), EmbedError> {
        let count = batch.inputs.len();
        let mut args = CreateEmbeddingRequestArgs::default();
        args.model(self.model.as_str())
            .input(EmbeddingInput::StringArray(batch.inputs));
        if let Some(d) = self.send_dimensions {
            args.dimensions(d);
        }
        let request = args
            .build()
            .map_err(|e| EmbedError::Config(format!("building the embeddings request: {e}")))?;

        let mut usage = Usage::default();
        let mut retries = 0u32;
        loop {
            usage.requests += 1;
            match self.attempt(request.clone(), batch.start, count).await {
                Ok((vectors, prompt_tokens)) => {
                    usage.prompt_tokens += prompt_tokens;
                    return Ok((vectors, usage));
                }
                Err(e) if e.retryable() && retries < self.max_retries => {
                    let delay = self.retry_delay(retries, e.retry_after());
                    retries += 1;
                    usage.retries += 1;
                    tracing::warn!(
                        error = %e,
                        retry = retries,
                        max_retries = self.max_retries,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        first_input = batch.start,
                        inputs = count,
                        "embeddings request failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                Err(e) if e.retryable() => return Err(gave_up(e, retries)),
                Err(e) => return Err(e),
            }
        }
    }

    /// One `embeddings().create` call (async-openai may re-send inside it),
    /// bounded by the timeout, and its response checked.
    async fn attempt(
        &self,
        request: CreateEmbeddingRequest,
        start: usize,
        count: usize,
    ) -> Result<(Vec<Vec<f32>>, u64), EmbedError> {
        let response = match tokio::time::timeout(
            self.timeout,
            self.client.embeddings().create(request),
        )
        .await
        {
            Err(_) => {
                return Err(EmbedError::Network(format!(
                    "no answer from {} within {}s",
                    self.base_url,
                    self.timeout.as_secs()
                )))
            }
            Ok(Err(e)) => return Err(self.map_error(e)),
            Ok(Ok(response)) => response,
        };
        self.check_response(response, start, count)
    }

    /// Checks count, indices and sizes; returns the vectors in input order,
    /// re-normalised, and the reported prompt tokens.
    fn check_response(
        &self,
        response: CreateEmbeddingResponse,
        start: usize,
        count: usize,
    ) -> Result<(Vec<Vec<f32>>, u64), EmbedError> {
        if response.data.len() != count {
            return Err(EmbedError::WrongCount {
                expected: count,
                got: response.data.len(),
            });
        }
        let mut slots: Vec<Option<Vec<f32>>> = vec![None; count];
        for item in response.data {
            let index = item.index as usize;
            let slot = slots.get_mut(index).ok_or_else(|| {
                EmbedError::InvalidResponse(format!(
                    "index {index} is out of range for a batch of {count} inputs"
                ))
            })?;
            if slot.is_some() {
                return Err(EmbedError::InvalidResponse(format!(
                    "index {index} appears twice"
                )));
            }
            let mut vector = item.embedding;
            if vector.len() != self.dimensions {
                return Err(EmbedError::WrongDimension {
                    expected: self.dimensions,
                    got: vector.len(),
                    index: start + index,
                });
            }
            if l2_normalize(&mut vector).is_none() {
                return Err(EmbedError::InvalidResponse(format!(
                    "the vector for input {} is zero or not finite",
                    start + index
                )));
            }
            *slot = Some(vector);
        }
        // With `count` items at distinct in-range indices every slot is full;
        // checked anyway rather than unwrapped.
        let vectors = slots
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                v.ok_or_else(|| {
                    EmbedError::InvalidResponse(format!("no vector for input {}", start + i))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((vectors, u64::from(response.usage.prompt_tokens)))
    }

    /// Backoff before retry number `retry + 1`: the server's hint when it
    /// gave one (plus up to 10 %, never less), else `backoff · 2^retry`
    /// capped at a minute, with "equal jitter" (half fixed, half random) so
    /// concurrent batches do not retry in lockstep.
    fn retry_delay(&self, retry: u32, hint: Option<Duration>) -> Duration {
        let mut rng = rand::rng();
        match hint {
            Some(h) => {
                let h = h.min(MAX_RETRY_AFTER);
                h + h.mul_f64(rng.random_range(0.0..=0.1))
            }
            None => {
                let exp = self
                    .backoff
                    .saturating_mul(1u32 << retry.min(16))
                    .min(MAX_BACKOFF);
                exp / 2 + exp.mul_f64(rng.random_range(0.0..=0.5))
            }
        }
    }

    /// async-openai's error → ours, classified for retrying, key scrubbed.
    fn map_error(&self, error: OpenAIError) -> EmbedError {
        match error {
            OpenAIError::ApiError(response) => {
                let status = response.status_code.as_u16();
                let api = response.api_error;
                let quota = api.r#type.as_deref() == Some("insufficient_quota")
                    || api.code.as_deref() == Some("insufficient_quota");
                let message = self.clean(api.to_string());
                if status == 429 && !quota {
                    EmbedError::RateLimited {
                        retry_after: try_again_hint(&api.message),
                        message,
                    }
                } else {
                    EmbedError::Http { status, message }
                }
            }
            OpenAIError::Reqwest(e) if e.is_builder() => {
                EmbedError::Config(self.clean(format!("invalid request: {}", error_chain(&e))))
            }
            OpenAIError::Reqwest(e) => EmbedError::Network(self.clean(error_chain(&e))),
            // async-openai parses only OpenAI's `{"error": {...}}` shape; other
            // servers' errors (vLLM: `{"message", "code": 400}`, Ollama:
            // `{"error": "…"}`) and broken 200s land here without a status.
            OpenAIError::JSONDeserialize(e, content) => self.map_unparsed(&e, &content),
            OpenAIError::InvalidArgument(m) => EmbedError::Config(self.clean(m)),
            other => EmbedError::InvalidResponse(self.clean(other.to_string())),
        }
    }

    fn map_unparsed(&self, error: &serde_json::Error, content: &str) -> EmbedError {
        let value: serde_json::Value = serde_json::from_str(content).unwrap_or_default();
        let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
        let message = text(value.get("message"))
            .or_else(|| text(value.get("error")))
            .or_else(|| text(value.get("error").and_then(|e| e.get("message"))))
            .or_else(|| text(value.get("detail")));
        let status = value
            .get("code")
            .and_then(|c| c.as_u64())
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (400..=599).contains(c));
        match (status, message) {
            (Some(429), m) => EmbedError::RateLimited {
                retry_after: m.as_deref().and_then(try_again_hint),
                message: self.clean(m.unwrap_or_else(|| content.to_string())),
            },
            (Some(status), m) => EmbedError::Http {
                status,
                message: self.clean(m.unwrap_or_else(|| content.to_string())),
            },
            (None, Some(m)) => {
                EmbedError::InvalidResponse(self.clean(format!("the endpoint answered: {m}")))
            }
            (None, None) => EmbedError::InvalidResponse(self.clean(format!(
                "could not parse the endpoint's answer ({error}): {content}"
            ))),
        }
    }

    /// Removes the API key (should a server echo it) and clips long bodies.
    fn clean(&self, mut message: String) -> String {
        if let Some(key) = &self.api_key {
            if message.contains(key.as_str()) {
                message = message.replace(key.as_str(), "[redacted]");
            }
        }
        if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
            message.truncate(cut);
            message.push('…');
        }
        message
    }
}

/// Accepts http(s) URLs only: anything else is a typo that would fail late.
fn check_base_url(url: &str) -> Result<(), EmbedError> {
    let url = url.trim();
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(EmbedError::Config(format!(
            "base URL `{url}` must start with http:// or https://"
        )))
    }
}

/// Estimated cost of a character, in sixths of a token: ⅓ token for most,
/// 1.5 tokens for Hangul / CJK / kana (see the module docs).
fn char_cost(c: char) -> usize {
    if super::hashing::is_cjk(c) {
        9
    } else {
        2
    }
}

/// Estimated tokens of `text` (rounded up).
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().map(char_cost).sum::<usize>().div_ceil(6)
}

/// The longest prefix of `text` (cut at a char boundary) estimated at no
/// more than `max_tokens`, and its estimate.
pub fn truncate_to_tokens(text: &str, max_tokens: usize) -> (&str, usize) {
    let budget = max_tokens.saturating_mul(6);
    let mut cost = 0;
    for (at, c) in text.char_indices() {
        let next = cost + char_cost(c);
        if next > budget {
            return (&text[..at], cost.div_ceil(6));
        }
        cost = next;
    }
    (text, cost.div_ceil(6))
}

/// Parses OpenAI's rate-limit hint ("… Please try again in 1.5s.", "in
/// 845ms", "in 1m30s", "in 20 seconds") — the only trace of `Retry-After`
/// left once async-openai has dropped the headers.
fn try_again_hint(message: &str) -> Option<Duration> {
    const MARK: &str = "try again in ";
    let lower = message.to_ascii_lowercase();
    let mut rest = &lower[lower.find(MARK)? + MARK.len()..];
    let mut seconds = 0.0f64;
    let mut found = false;
    loop {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let Ok(amount) = rest[..digits].parse::<f64>() else {
            break;
        };
        rest = rest[digits..].trim_start_matches(' ');
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ms" | "msec" | "millisecond" | "milliseconds" => 0.001,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hour" | "hours" => 3600.0,
            _ => break,
        };
        seconds += amount * scale;
        found = true;
        rest = &rest[unit_len..];
    }
    (found && seconds.is_finite())
        .then(|| Duration::from_secs_f64(seconds.clamp(0.0, MAX_RETRY_AFTER.as_secs_f64())))
}

/// An error and its causes on one line ("error sending request: … :
/// connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Notes the retries spent on an error we give up on.
fn gave_up(error: EmbedError, retries: u32) -> EmbedError {
    if retries == 0 {
        return error;
    }
    let note = format!(" (gave up after {retries} retries)");
    match error {
        EmbedError::Http { status, message } => EmbedError::Http {
            status,
            message: message + &note,
        },
        EmbedError::RateLimited {
            retry_after,
            message,
        } => EmbedError::RateLimited {
            retry_after,
            message: message + &note,
        },
        EmbedError::Network(message) => EmbedError::Network(message + &note),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use serde_json::{json, Value};
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    use super::*;

    const KEY: &str = "sk-test-0123456789abcdef";

    /// Fast retries (1 ms backoff), a 10 s timeout, the given `dimensions`.
    fn config(dimensions: Option<usize>) -> OpenAiConfig {
        OpenAiConfig {
            dimensions,
            backoff_ms: 1,
            timeout_secs: 10,
            ..OpenAiConfig::default()
        }
    }

    fn embedder(server: &MockServer, cfg: &OpenAiConfig) -> OpenAi {
        OpenAi::new(cfg, Some(KEY), Some(&format!("{}/v1", server.uri()))).unwrap()
    }

    fn texts(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("article {i}: chips and rates"))
            .collect()
    }

    /// A deterministic, *unnormalised* vector for a text.
    fn raw_vector(text: &str, dims: usize) -> Vec<f32> {
        let seed: usize = text.bytes().map(usize::from).sum::<usize>() + text.len() * 31;
        (0..dims)
            .map(|k| ((seed + k * 7) % 13) as f32 + 1.0)
            .collect()
    }

    fn unit(mut v: Vec<f32>) -> Vec<f32> {
        l2_normalize(&mut v).unwrap();
        v
    }

    fn inputs_of(request: &Request) -> Vec<String> {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        match &body["input"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect(),
            other => panic!("input: {other}"),
        }
    }

    /// Answers like the real API, with a vector per input derived from its
    /// text; `data` in reverse order (the API does not promise order).
    struct Echo {
        dims: usize,
        drop_last: bool,
    }

    impl Respond for Echo {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            let inputs = inputs_of(request);
            let mut data: Vec<Value> = inputs
                .iter()
                .enumerate()
                .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": raw_vector(t, self.dims)}))
                .collect();
            data.reverse();
            if self.drop_last {
                data.remove(0);
            }
            let tokens = inputs.len() * 5;
            ResponseTemplate::new(200).set_body_json(json!({
                "object": "list",
                "data": data,
                "model": "text-embedding-3-small",
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
            }))
        }
    }

    fn echo(dims: usize) -> Echo {
        Echo {
            dims,
            drop_last: false,
        }
    }

    fn api_error(status: u16, message: &str, kind: &str) -> ResponseTemplate {
        ResponseTemplate::new(status).set_body_json(json!({
            "error": {"message": message, "type": kind, "param": null, "code": null}
        }))
    }

    async fn requests(server: &MockServer) -> Vec<Request> {
        server.received_requests().await.unwrap_or_default()
    }

    #[tokio::test]
    async fn batches_by_count_and_keeps_order() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/embeddings"))
            .respond_with(echo(8))
            .mount(&server)
            .await;
        let cfg = OpenAiConfig {
            batch_size: 3,
            concurrency: 3,
            ..config(Some(8))
        };
        let e = embedder(&server, &cfg);
        let input = texts(10);
        let (vectors, usage) = e.embed(&input).await.unwrap();

        let got = requests(&server).await;
        let mut sizes: Vec<usize> = got.iter().map(|r| inputs_of(r).len()).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, vec![1, 3, 3, 3]);
        let mut sent: Vec<String> = got.iter().flat_map(inputs_of).collect();
        sent.sort();
        let mut want = input.clone();
        want.sort();
        assert_eq!(sent, want, "every input sent exactly once");

        assert_eq!(vectors.len(), 10);
        for (text, v) in input.iter().zip(&vectors) {
            assert_eq!(
                v,
                &unit(raw_vector(text, 8)),
                "{text}: order or normalisation"
            );
            let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5);
        }
        assert_eq!(
            usage,
            Usage {
                requests: 4,
                prompt_tokens: 50,
                retries: 0
            }
        );
    }

    #[tokio::test]
    async fn batches_by_token_budget_and_truncates() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/embeddings"))
            .respond_with(echo(8))
            .expect(3)
            .mount(&server)
            .await;
        // 30 ASCII chars = 10 estimated tokens each; 25 per request → 2 per batch.
        let cfg = OpenAiConfig {
            max_batch_tokens: 25,
            max_input_tokens: 10,
            ..config(Some(8))
        };
        let e = embedder(&server, &cfg);
        let mut input: Vec<String> = (0..4).map(|i| format!("{i:0>30}")).collect();
        input.push("x".repeat(100)); // cut to 30 chars
        let (vectors, usage) = e.embed(&input).await.unwrap();
        assert_eq!(usage.requests, 3);

        let got = requests(&server).await;
        let mut batches: Vec<Vec<String>> = got.iter().map(inputs_of).collect();
        batches.sort();
        assert_eq!(
            batches,
            vec![
                vec![input[0].clone(), input[1].clone()],
                vec![input[2].clone(), input[3].clone()],
                vec!["x".repeat(30)],
            ]
        );
        for (i, text) in input.iter().take(4).enumerate() {
            assert_eq!(vectors[i], unit(raw_vector(text, 8)));
        }
        assert_eq!(vectors[4], unit(raw_vector(&"x".repeat(30), 8)));
    }

    #[test]
    fn token_estimates_and_truncation() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abc"), 1);
        assert_eq!(estimate_tokens("abcd"), 2, "rounded up");
        assert_eq!(estimate_tokens("삼성전자"), 6, "1.5 per Hangul syllable");
        assert_eq!(estimate_tokens("삼성 HBM"), 5); // (9 + 9 + 2·4) / 6 = 26/6, rounded up
        let (cut, tokens) = truncate_to_tokens("삼성전자는 좋다", 4);
        assert_eq!(cut, "삼성"); // a third syllable would make 4.5
        assert_eq!(tokens, 3);
        let (cut, tokens) = truncate_to_tokens("short", 100);
        assert_eq!((cut, tokens), ("short", 2));
    }

    #[test]
    fn retry_hints_parse() {
        let s = |x: f64| Some(Duration::from_secs_f64(x));
        assert_eq!(
            try_again_hint("Limit 3, Used 3. Please try again in 20ms. Visit"),
            s(0.02)
        );
        assert_eq!(try_again_hint("Please try again in 1.5s."), s(1.5));
        assert_eq!(try_again_hint("Please try again in 1m30s."), s(90.0));
        assert_eq!(try_again_hint("please TRY AGAIN IN 20 seconds"), s(20.0));
        assert_eq!(try_again_hint("try again in 2h"), Some(MAX_RETRY_AFTER));
        assert_eq!(try_again_hint("try again in a moment"), None);
        assert_eq!(try_again_hint("rate limited"), None);
    }

    #[tokio::test]
    async fn rate_limit_with_retry_after_then_success() {
        // Real time: tokio's paused clock auto-advances while the runtime
        // waits on sockets, which would fire the per-attempt timeout at once.
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                api_error(429, "Rate limit reached for requests", "requests")
                    .insert_header("retry-after", "1"),
            )
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(echo(8))
            .mount(&server)
            .await;
        let e = embedder(&server, &config(Some(8)));
        let started = Instant::now();
        let (vectors, _) = e.embed(&texts(2)).await.unwrap();
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "Retry-After honoured"
        );
        assert_eq!(vectors.len(), 2);
        assert_eq!(requests(&server).await.len(), 2);
    }

    #[tokio::test]
    async fn rate_limit_past_async_openai_retries_uses_our_loop_and_the_hint() {
        let server = MockServer::start().await;
        // async-openai sends 4 times (1 + its 3 retries) before giving up.
        Mock::given(method("POST"))
            .respond_with(api_error(
                429,
                "Rate limit reached on tokens per min (TPM). Please try again in 20ms.",
                "tokens",
            ))
            .up_to_n_times(4)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(echo(8))
            .mount(&server)
            .await;
        let e = embedder(&server, &config(Some(8)));
        let (vectors, usage) = e.embed(&texts(3)).await.unwrap();
        assert_eq!(vectors.len(), 3);
        assert_eq!(usage.requests, 2);
        assert_eq!(usage.retries, 1);
        assert_eq!(requests(&server).await.len(), 5);
    }

    #[tokio::test]
    async fn server_error_then_success() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500).set_body_string("upstream hiccup"))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(echo(8))
            .mount(&server)
            .await;
        let e = embedder(&server, &config(Some(8)));
        let (vectors, _) = e.embed(&texts(2)).await.unwrap();
        assert_eq!(vectors[1], unit(raw_vector(&texts(2)[1], 8)));
        assert_eq!(requests(&server).await.len(), 2);
    }

    #[tokio::test]
    async fn server_error_every_time_fails_after_max_retries() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503).set_body_string("overloaded"))
            .mount(&server)
            .await;
        let cfg = OpenAiConfig {
            max_retries: 1,
            ..config(Some(8))
        };
        let e = embedder(&server, &cfg);
        let err = e.embed(&texts(2)).await.unwrap_err();
        assert!(matches!(err, EmbedError::Http { status: 503, .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("503") && text.contains("overloaded"),
            "{text}"
        );
        assert!(text.contains("gave up after 1 retries"), "{text}");
        // (1 + max_retries) attempts × (1 + async-openai's 3 re-sends).
        assert_eq!(requests(&server).await.len(), 8);
    }

    #[tokio::test]
    async fn unauthorized_fails_at_once_without_the_key() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(api_error(
                401,
                &format!("Incorrect API key provided: {KEY}."),
                "invalid_request_error",
            ))
            .mount(&server)
            .await;
        let e = embedder(&server, &config(Some(8)));
        let err = e.embed(&texts(2)).await.unwrap_err();
        assert!(matches!(err, EmbedError::Http { status: 401, .. }), "{err}");
        assert!(!err.retryable());
        let text = err.to_string();
        assert!(
            text.contains("401") && text.contains("Incorrect API key provided"),
            "{text}"
        );
        assert!(!text.contains(KEY), "key leaked: {text}");
        assert!(
            !format!("{err:?} {e:?}").contains(KEY),
            "key leaked in Debug"
        );
        assert_eq!(requests(&server).await.len(), 1);
    }

    #[tokio::test]
    async fn out_of_quota_is_not_retried() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(api_error(
                429,
                "You exceeded your current quota",
                "insufficient_quota",
            ))
            .mount(&server)
            .await;
        let e = embedder(&server, &config(Some(8)));
        let err = e.embed(&texts(1)).await.unwrap_err();
        assert!(matches!(err, EmbedError::Http { status: 429, .. }), "{err}");
        assert!(!err.retryable());
        assert_eq!(requests(&server).await.len(), 1);
    }

    #[tokio::test]
    async fn compatible_server_errors_keep_their_status() {
        // vLLM's shape: not wrapped in "error", status in "code".
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "object": "error", "message": "model does not support matryoshka", "type": "BadRequestError", "param": null, "code": 400
            })))
            .mount(&server)
            .await;
        let e = embedder(&server, &config(Some(8)));
        let err = e.embed(&texts(1)).await.unwrap_err();
        assert!(
            matches!(err, EmbedError::Http { status: 400, ref message } if message.contains("matryoshka")),
            "{err}"
        );
        assert_eq!(requests(&server).await.len(), 1);
    }

    #[tokio::test]
    async fn wrong_dimension_is_reported() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(echo(4))
            .mount(&server)
            .await;
        let e = embedder(&server, &config(Some(8)));
        let err = e.embed(&texts(2)).await.unwrap_err();
        assert!(
            matches!(
                err,
                EmbedError::WrongDimension {
                    expected: 8,
                    got: 4,
                    ..
                }
            ),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("has 4 dimensions but 8 were expected"),
            "{text}"
        );
        assert_eq!(requests(&server).await.len(), 1, "not retried");
    }

    #[tokio::test]
    async fn wrong_count_is_reported() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(Echo {
                dims: 8,
                drop_last: true,
            })
            .mount(&server)
            .await;
        let e = embedder(&server, &config(Some(8)));
        let err = e.embed(&texts(3)).await.unwrap_err();
        assert!(
            matches!(
                err,
                EmbedError::WrongCount {
                    expected: 3,
                    got: 2
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn duplicate_index_is_rejected() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "object": "list",
                "data": [
                    {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]},
                    {"object": "embedding", "index": 0, "embedding": [0.0, 1.0]}
                ],
                "model": "m",
                "usage": {"prompt_tokens": 2, "total_tokens": 2}
            })))
            .mount(&server)
            .await;
        let e = embedder(&server, &config(Some(2)));
        let err = e.embed(&texts(2)).await.unwrap_err();
        assert!(
            matches!(err, EmbedError::InvalidResponse(ref m) if m.contains("twice")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn sends_dimensions_model_and_bearer_key() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/embeddings"))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .respond_with(echo(8))
            .expect(1)
            .mount(&server)
            .await;
        let e = embedder(&server, &config(Some(8)));
        e.embed(&texts(2)).await.unwrap();
        let body: Value = serde_json::from_slice(&requests(&server).await[0].body).unwrap();
        assert_eq!(body["dimensions"], json!(8));
        assert_eq!(body["model"], json!("text-embedding-3-small"));
        assert_eq!(body["input"], json!(texts(2)));
    }

    #[tokio::test]
    async fn dimensions_not_sent_when_unset_or_disabled() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(echo(1536))
            .mount(&server)
            .await;
        let e = embedder(&server, &config(None));
        assert_eq!(e.id().dimensions, 1536);
        let (vectors, _) = e.embed(&texts(1)).await.unwrap();
        assert_eq!(vectors[0].len(), 1536);

        let local = OpenAiConfig {
            model: "nomic-embed-text".into(),
            send_dimensions: false,
            ..config(Some(1536))
        };
        let e = embedder(&server, &local);
        e.embed(&texts(1)).await.unwrap();
        for request in requests(&server).await {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            assert!(body.get("dimensions").is_none(), "{body}");
        }
    }

    #[tokio::test]
    async fn no_key_is_fine_for_a_local_server() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(echo(8))
            .mount(&server)
            .await;
        let e = OpenAi::new(
            &config(Some(8)),
            None,
            Some(&format!("{}/v1/", server.uri())),
        )
        .unwrap();
        e.embed(&texts(1)).await.unwrap();
    }

    #[tokio::test]
    async fn timeout_is_a_retryable_network_error() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({
                        "object": "list",
                        "data": [{"object": "embedding", "index": 0, "embedding": vec![1.0f32; 8]}],
                        "model": "m",
                        "usage": {"prompt_tokens": 1, "total_tokens": 1}
                    }))
                    .set_delay(Duration::from_secs(5)),
            )
            .mount(&server)
            .await;
        let cfg = OpenAiConfig {
            timeout_secs: 1,
            max_retries: 0,
            ..config(Some(8))
        };
        let e = embedder(&server, &cfg);
        let started = Instant::now();
        let err = e.embed(&texts(1)).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(4));
        assert!(
            matches!(err, EmbedError::Network(ref m) if m.contains("within 1s")),
            "{err}"
        );
        assert!(err.retryable());
    }

    #[tokio::test]
    async fn connection_refused_is_a_retryable_network_error() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let cfg = OpenAiConfig {
            max_retries: 0,
            ..config(Some(8))
        };
        let e = OpenAi::new(
            &cfg,
            Some(KEY),
            Some(&format!("http://127.0.0.1:{port}/v1")),
        )
        .unwrap();
        let err = e.embed(&texts(1)).await.unwrap_err();
        assert!(matches!(err, EmbedError::Network(_)), "{err}");
        assert!(err.retryable());
        assert!(!err.to_string().contains(KEY));
    }

    #[tokio::test]
    async fn empty_and_blank_inputs() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(echo(8))
            .expect(0)
            .mount(&server)
            .await;
        let e = embedder(&server, &config(Some(8)));
        let (vectors, usage) = e.embed(&[]).await.unwrap();
        assert!(vectors.is_empty());
        assert_eq!(usage.requests, 0);
        let err = e
            .embed(&["fine".to_string(), " \n".to_string()])
            .await
            .unwrap_err();
        assert!(
            matches!(err, EmbedError::BadInput { index: 1, .. }),
            "{err}"
        );
    }
}
