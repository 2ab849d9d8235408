//! `jobs/models.toml`: the model registry and A/B experiments, synced into
//! `models` and `ab_test_config` at the start of every predict run.

use super::ab::Experiment;
use super::budget::Prices;
use crate::on_db;
use crate::storage::Storage;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Any OpenAI-compatible chat completions endpoint.
    Openai,
    /// The offline statistical model.
    Baseline,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Baseline => "baseline",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub name: String,
    pub provider: ProviderKind,
    /// The provider's model identifier (`gpt-4o-mini`); `baseline-v1` for
    /// the baseline.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Prompt template under `jobs/prompts/`.
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub prices: Prices,
    /// Overrides OPENAI_BASE_URL for this model.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Seconds per call.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Calls in flight for this model.
    #[serde(default)]
    pub concurrency: Option<usize>,
    #[serde(default)]
    pub max_retries: Option<u32>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelsFile {
    #[serde(default)]
    pub models: Vec<ModelConfig>,
    #[serde(default)]
    pub experiments: Vec<Experiment>,
}

/// A model as a run uses it: config, prompt text and hash, database id.
#[derive(Debug, Clone)]
pub struct Model {
    pub id: i64,
    pub cfg: ModelConfig,
    pub template: Option<String>,
    pub prompt_hash: Option<String>,
}

impl ModelConfig {
    pub fn model_id(&self) -> String {
        self.model.clone().unwrap_or_else(|| match self.provider {
            ProviderKind::Baseline => "baseline-v1".into(),
            ProviderKind::Openai => self.name.clone(),
        })
    }
}

/// Reads `jobs/models.toml` (missing: the baseline alone) and checks it.
pub fn load(jobs_dir: &Path) -> anyhow::Result<ModelsFile> {
    let path = jobs_dir.join("models.toml");
    let file: ModelsFile = match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ModelsFile::default(),
        Err(e) => anyhow::bail!("{}: cannot read: {e}", path.display()),
    };
    let mut file = file;
    if file.models.is_empty() {
        // No registry: the offline baseline, so predict always has a model.
        file.models.push(ModelConfig {
            name: "baseline".into(),
            provider: ProviderKind::Baseline,
            model: None,
            temperature: None,
            max_tokens: None,
            prompt: None,
            active: true,
            prices: Prices::default(),
            base_url: None,
            timeout_secs: None,
            concurrency: None,
            max_retries: None,
        });
    }
    let mut problems = vec![];
    let mut names = std::collections::HashSet::new();
    for m in &file.models {
        if !names.insert(m.name.as_str()) {
            problems.push(format!("model {:?} defined twice", m.name));
        }
        if m.provider == ProviderKind::Openai && m.prompt.is_none() {
            problems.push(format!(
                "model {:?}: an openai model needs `prompt`",
                m.name
            ));
        }
    }
    for e in &file.experiments {
        if let Err(p) = e.validate() {
            problems.push(format!("experiment {:?}: {p}", e.name));
        }
        for v in &e.variants {
            if let Some(m) = &v.model {
                if !names.contains(m.as_str()) {
                    problems.push(format!(
                        "experiment {:?} variant {:?}: unknown model {m:?}",
                        e.name, v.name
                    ));
                }
            }
        }
    }
    anyhow::ensure!(
        problems.is_empty(),
        "{}: {}",
        path.display(),
        problems.join("; ")
    );
    Ok(file)
}

/// Reads a prompt template and its hash.
pub fn template(jobs_dir: &Path, rel: &str) -> anyhow::Result<(String, String)> {
    let path = jobs_dir.join(rel);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read the prompt template: {e}", path.display()))?;
    let hash = blake3::hash(text.as_bytes()).to_hex()[..16].to_string();
    Ok((text, hash))
}

/// Upserts every model and experiment; returns the models with their ids.
pub async fn sync(
    storage: &Storage,
    jobs_dir: &Path,
    file: &ModelsFile,
) -> anyhow::Result<Vec<Model>> {
    let now = storage.now().await?;
    let mut out = vec![];
    for m in &file.models {
        let (template, hash) = match &m.prompt {
            Some(rel) => {
                let (t, h) = template(jobs_dir, rel)?;
                (Some(t), Some(h))
            }
            None => (None, None),
        };
        let id: i64 = on_db!(&storage.db, pool => {
            sqlx::query_scalar(
                "INSERT INTO models (name, provider, model, temperature, max_tokens, prompt_file, prompt_hash, active, prices, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (name) DO UPDATE SET provider = excluded.provider, model = excluded.model,
                     temperature = excluded.temperature, max_tokens = excluded.max_tokens,
                     prompt_file = excluded.prompt_file, prompt_hash = excluded.prompt_hash,
                     active = excluded.active, prices = excluded.prices, updated_at = excluded.updated_at
                 RETURNING id",
            )
            .bind(&m.name)
            .bind(m.provider.as_str())
            .bind(m.model_id())
            .bind(m.temperature.map(f64::from))
            .bind(m.max_tokens.map(|t| t as i32))
            .bind(&m.prompt)
            .bind(&hash)
            .bind(m.active)
            .bind(serde_json::to_string(&m.prices)?)
            .bind(now)
            .fetch_one(pool)
            .await?
        });
        out.push(Model {
            id,
            cfg: m.clone(),
            template,
            prompt_hash: hash,
        });
    }
    for e in &file.experiments {
        on_db!(&storage.db, pool => {
            sqlx::query(
                "INSERT INTO ab_test_config (name, variants, active, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO UPDATE SET variants = excluded.variants, active = excluded.active,
                     updated_at = excluded.updated_at",
            )
            .bind(&e.name)
            .bind(serde_json::to_string(&e.variants)?)
            .bind(e.active)
            .bind(now)
            .execute(pool)
            .await?;
        });
    }
    Ok(out)
}
