//! Chat completions against OpenAI or any compatible endpoint, asking for
//! JSON that matches the answer schema (structured output), with a timeout
//! per call, retries with backoff and jitter, and token usage.
//!
//! async-openai re-sends 429 (waiting `Retry-After` seconds) and 5xx a few
//! times inside one call; our loop wraps it (as the embedder does, see
//! `embed::openai`), so every retry we make is counted, and a timeout or
//! a 5xx that persists ends as a `failed` prediction with the reason — never
//! as a neutral one.

use crate::embed::install_crypto_provider;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{CreateChatCompletionRequest, CreateChatCompletionResponse};
use async_openai::Client;
use rand::Rng;
use std::time::Duration;

pub struct ChatModel {
    client: Client<OpenAIConfig>,
    model: String,
    temperature: Option<f32>,
    max_tokens: Option<u32>,
    timeout: Duration,
    max_retries: u32,
    /// Hidden from every message.
    key: Option<String>,
}

/// One reply and what it cost.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub text: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub retries: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("{model}: {message}")]
pub struct CallError {
    pub model: String,
    pub message: String,
    pub retries: u32,
}

/// A message as the conversation keeps it.
#[derive(Debug, Clone)]
pub struct Message {
    pub role: &'static str,
    pub content: String,
}

impl ChatModel {
    pub fn new(
        model: &str,
        base_url: Option<&str>,
        api_key: Option<&str>,
        temperature: Option<f32>,
        max_tokens: Option<u32>,
        timeout: Duration,
        max_retries: u32,
    ) -> ChatModel {
        install_crypto_provider();
        let mut cfg = OpenAIConfig::new().with_api_base(
            base_url
                .unwrap_or("https://api.openai.com/v1")
                .trim_end_matches('/'),
        );
        // Always explicit, so async-openai never reads OPENAI_* itself.
        cfg = cfg.with_api_key(api_key.unwrap_or(""));
        ChatModel {
            client: Client::with_config(cfg),
            model: model.to_string(),
            temperature,
            max_tokens,
            timeout,
            max_retries,
            key: api_key.filter(|k| !k.is_empty()).map(str::to_string),
        }
    }

    /// Sends the conversation; the reply must be JSON for `schema`.
    pub async fn complete(
        &self,
        messages: &[Message],
        schema: &serde_json::Value,
    ) -> Result<Reply, CallError> {
        let request = serde_json::json!({
            "model": self.model,
            "messages": messages.iter().map(|m| serde_json::json!({"role": m.role, "content": m.content})).collect::<Vec<_>>(),
            "temperature": self.temperature,
            "max_completion_tokens": self.max_tokens,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "stock_prediction", "strict": true, "schema": schema},
            },
        });
        let request: CreateChatCompletionRequest =
            serde_json::from_value(request).map_err(|e| self.error(format!("request: {e}"), 0))?;
        let mut retries = 0;
        loop {
            let outcome =
                tokio::time::timeout(self.timeout, self.client.chat().create(request.clone()))
                    .await;
            let (message, retryable) = match outcome {
                Ok(Ok(resp)) => return self.reply(resp, retries),
                Ok(Err(e)) => classify(&e),
                Err(_) => (
                    format!("no answer within {} s", self.timeout.as_secs()),
                    true,
                ),
            };
            if !retryable || retries >= self.max_retries {
                let message = if retries > 0 {
                    format!("{message} (gave up after {retries} retries)")
                } else {
                    message
                };
                return Err(self.error(message, retries));
            }
            retries += 1;
            let base = 500u64.saturating_mul(1 << retries.min(6));
            let jitter = rand::rng().random_range(0..=base / 2);
            tokio::time::sleep(Duration::from_millis(base + jitter)).await;
        }
    }

    fn reply(&self, resp: CreateChatCompletionResponse, retries: u32) -> Result<Reply, CallError> {
        let usage = resp.usage.as_ref();
        let text = resp
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .ok_or_else(|| self.error("the answer has no content".into(), retries))?;
        Ok(Reply {
            text,
            input_tokens: usage.map_or(0, |u| u64::from(u.prompt_tokens)),
            output_tokens: usage.map_or(0, |u| u64::from(u.completion_tokens)),
            retries,
        })
    }

    fn error(&self, message: String, retries: u32) -> CallError {
        let message = match &self.key {
            Some(k) => message.replace(k.as_str(), "***"),
            None => message,
        };
        CallError {
            model: self.model.clone(),
            message: message.chars().take(600).collect(),
            retries,
        }
    }
}

/// A message and whether another attempt can help: 408, 429 (unless the
/// quota is spent), 5xx, network errors and unparsable bodies (a proxy's
/// HTML error page) are; other 4xx are not.
fn classify(e: &async_openai::error::OpenAIError) -> (String, bool) {
    use async_openai::error::OpenAIError;
    match e {
        OpenAIError::ApiError(response) => {
            let status = response.status_code.as_u16();
            let api = &response.api_error;
            let quota = api.r#type.as_deref() == Some("insufficient_quota");
            (
                format!("HTTP {status}: {}", api.message),
                !quota && (status == 408 || status == 429 || status >= 500),
            )
        }
        OpenAIError::Reqwest(e) => (format!("network: {e}"), !e.is_builder()),
        OpenAIError::JSONDeserialize(e, content) => (
            format!(
                "unreadable response ({e}): {}",
                content.chars().take(200).collect::<String>()
            ),
            true,
        ),
        other => (other.to_string(), false),
    }
}
