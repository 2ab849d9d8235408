//! One prediction pass for one cut-off instant: for each active stock, its
//! features (bars of sessions closed by the cut-off), recent linked news
//! and similar past news (published before the cut-off), then each model
//! (or the stock's A/B variant) predicts every horizon.
//!
//! Point in time: everything a prediction reads is filtered by the cut-off
//! — bars by the last session closed by it, news by `published_at <
//! cutoff`, retrieval likewise — so data arriving later changes nothing.

use super::ab::Experiment;
use super::answer::{self, Answer, HorizonAnswer, Invalid, Rules};
use super::baseline::{self, BaselineConfig, NewsSignal};
use super::budget::{cost, Budget, Prices};
use super::features::{self, Features};
use super::llm::{ChatModel, Message};
use super::registry::{Model, ProviderKind};
use super::store::{self, PredictionRow, RecentNews};
use super::PredictConfig;
use crate::market::stocks::Stock;
use crate::settings::Settings;
use crate::storage::Storage;
use crate::time::Calendars;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::StreamExt;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What the pass reports per (model, variant).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Tally {
    pub made: u64,
    pub rejected: BTreeMap<String, u64>,
    pub failed: u64,
    pub skipped: u64,
    pub already_done: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    pub repairs: u64,
}

#[derive(Debug, Default)]
pub struct PassResult {
    pub tallies: BTreeMap<String, Tally>,
    /// (|expected 1st-horizon return|, stock, model, explanation)
    pub movers: Vec<(f64, String, String, f64, String)>,
    pub warnings: Vec<String>,
    pub stocks: usize,
}

/// A unit of work: one stock with one model (and variant).
struct Job<'a> {
    stock: &'a Stock,
    model: &'a Model,
    experiment: Option<String>,
    variant: String,
    template: Option<(String, String)>,
    features: &'a Features,
    news: &'a [RecentNews],
    similar: &'a str,
}

pub struct Pass<'a> {
    pub storage: &'a Storage,
    pub settings: &'a Settings,
    pub cfg: &'a PredictConfig,
    pub models: &'a [Model],
    pub experiment: Option<&'a Experiment>,
    pub stocks: &'a [Stock],
    pub calendars: &'a Calendars,
    pub cutoff: DateTime<Utc>,
    pub run_id: i64,
    /// Similar past news per stock id, already rendered for the prompt.
    pub similar: HashMap<i64, String>,
}

/// How one (stock, model) went.
enum Outcome {
    /// Every horizon was already `ok` (a rerun): nothing called.
    Done,
    Made {
        tokens: Tokens,
        mover: Option<(f64, String, String, f64, String)>,
    },
    Rejected {
        reason: String,
        tokens: Tokens,
    },
    Failed {
        tokens: Tokens,
    },
    Skipped,
    Error(anyhow::Error),
}

#[derive(Debug, Default, Clone, Copy)]
struct Tokens {
    input: u64,
    output: u64,
    cost: f64,
    repairs: u64,
}

impl Tally {
    fn add_tokens(&mut self, t: Tokens) {
        self.input_tokens += t.input;
        self.output_tokens += t.output;
        self.cost_usd += t.cost;
        self.repairs += t.repairs;
    }
}

impl Pass<'_> {
    pub async fn run(&self) -> anyhow::Result<PassResult> {
        let mut result = PassResult::default();
        let rules = self.cfg.rules();
        let budget = Arc::new(Budget::new(&self.cfg.budget));

        // Features per exchange: each as of its last session closed by the
        // cut-off.
        let mut feats: HashMap<i64, (Features, NaiveDate)> = HashMap::new();
        let mut by_exchange: BTreeMap<&str, Vec<&Stock>> = BTreeMap::new();
        for s in self.stocks {
            by_exchange.entry(s.exchange.as_str()).or_default().push(s);
        }
        for (exchange, stocks) in by_exchange {
            let Some(cal) = self.calendars.get(exchange) else {
                result.warnings.push(format!(
                    "no calendar for {exchange}: its stocks are skipped"
                ));
                continue;
            };
            let Some(as_of) = crate::news::impact::reference_session(cal, self.cutoff) else {
                continue;
            };
            let ids: Vec<i64> = stocks.iter().map(|s| s.id).collect();
            let bars =
                store::daily_bars(self.storage, &ids, as_of - Duration::days(150), as_of).await?;
            let computed =
                tokio::task::spawn_blocking(move || features::compute(&bars, None, as_of))
                    .await??;
            for f in computed {
                feats.insert(f.stock_id, (f, as_of));
            }
        }

        // News per stock, strictly before the cut-off.
        let mut news: HashMap<i64, Vec<RecentNews>> = HashMap::new();
        for s in self.stocks {
            let from = self.cutoff - Duration::days(self.cfg.news_lookback_days);
            news.insert(
                s.id,
                store::recent_news(self.storage, s.id, from, self.cutoff, self.cfg.max_news)
                    .await?,
            );
        }

        // The work list: the stock's variant under the experiment, else
        // every active model.
        let mut jobs = vec![];
        let empty = String::new();
        for s in self.stocks {
            let Some((f, _)) = feats.get(&s.id) else {
                result.warnings.push(format!(
                    "{}:{}: no daily bars up to the cut-off; not predicted",
                    s.exchange, s.code
                ));
                continue;
            };
            result.stocks += 1;
            let stock_news = news.get(&s.id).map_or(&[][..], Vec::as_slice);
            let similar = self.similar.get(&s.id).unwrap_or(&empty);
            match self.experiment {
                Some(e) => {
                    let v = e.assign(&format!("{}:{}", s.exchange, s.code), f.as_of_date);
                    let model_name = v.model.clone();
                    let Some(model) = self.models.iter().find(|m| {
                        model_name
                            .as_deref()
                            .map_or(m.cfg.active, |n| m.cfg.name == n)
                    }) else {
                        result.warnings.push(format!(
                            "experiment {}: variant {} names no usable model",
                            e.name, v.name
                        ));
                        continue;
                    };
                    let template = match &v.prompt {
                        Some(rel) => Some(super::registry::template(&self.settings.jobs_dir, rel)?),
                        None => model.template.clone().zip(model.prompt_hash.clone()),
                    };
                    jobs.push(Job {
                        stock: s,
                        model,
                        experiment: Some(e.name.clone()),
                        variant: v.name.clone(),
                        template,
                        features: f,
                        news: stock_news,
                        similar,
                    });
                }
                None => {
                    for model in self.models.iter().filter(|m| m.cfg.active) {
                        jobs.push(Job {
                            stock: s,
                            model,
                            experiment: None,
                            variant: String::new(),
                            template: model.template.clone().zip(model.prompt_hash.clone()),
                            features: f,
                            news: stock_news,
                            similar,
                        });
                    }
                }
            }
        }

        let chat: HashMap<i64, Arc<ChatModel>> = self
            .models
            .iter()
            .filter(|m| m.cfg.provider == ProviderKind::Openai)
            .map(|m| (m.id, Arc::new(self.chat_model(m))))
            .collect();
        // Boxed one by one (not a closure over the stream): the futures
        // borrow this pass, and a closure returning them trips the
        // compiler's higher-ranked `Send` check when the job is spawned.
        type Fut<'f> =
            std::pin::Pin<Box<dyn std::future::Future<Output = (String, Outcome)> + Send + 'f>>;
        let mut futs: Vec<Fut<'_>> = Vec::with_capacity(jobs.len());
        for job in jobs {
            let budget = budget.clone();
            let chat = chat.get(&job.model.id).cloned();
            let rules = &rules;
            let key = format!(
                "{}{}",
                job.model.cfg.name,
                if job.variant.is_empty() {
                    String::new()
                } else {
                    format!(" / {}", job.variant)
                }
            );
            futs.push(Box::pin(async move {
                let o = self.predict_one(&job, rules, &budget, chat).await;
                (key, o)
            }));
        }
        let outcomes: Vec<(String, Outcome)> = futures::stream::iter(futs)
            .buffered(self.cfg.concurrency.max(1))
            .collect()
            .await;
        for (key, o) in outcomes {
            let t = result.tallies.entry(key).or_default();
            match o {
                Outcome::Done => t.already_done += 1,
                Outcome::Made { tokens, mover } => {
                    t.made += 1;
                    t.add_tokens(tokens);
                    if let Some(m) = mover {
                        result.movers.push(m);
                    }
                }
                Outcome::Rejected { reason, tokens } => {
                    *t.rejected.entry(reason).or_default() += 1;
                    t.add_tokens(tokens);
                }
                Outcome::Failed { tokens } => {
                    t.failed += 1;
                    t.add_tokens(tokens);
                }
                Outcome::Skipped => t.skipped += 1,
                Outcome::Error(e) => return Err(e),
            }
        }
        result
            .movers
            .sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
        result.movers.truncate(5);
        Ok(result)
    }

    fn chat_model(&self, m: &Model) -> ChatModel {
        ChatModel::new(
            &m.cfg.model_id(),
            m.cfg
                .base_url
                .as_deref()
                .or(self.settings.openai_base_url.as_deref()),
            self.settings.openai_api_key.as_ref().map(|k| k.expose()),
            m.cfg.temperature,
            m.cfg.max_tokens,
            std::time::Duration::from_secs(m.cfg.timeout_secs.unwrap_or(60)),
            m.cfg.max_retries.unwrap_or(2),
        )
    }
}

impl Pass<'_> {
    async fn predict_one(
        &self,
        job: &Job<'_>,
        rules: &Rules,
        budget: &Budget,
        chat: Option<Arc<ChatModel>>,
    ) -> Outcome {
        match self.try_predict_one(job, rules, budget, chat).await {
            Ok(o) => o,
            Err(e) => Outcome::Error(e),
        }
    }

    async fn try_predict_one(
        &self,
        job: &Job<'_>,
        rules: &Rules,
        budget: &Budget,
        chat: Option<Arc<ChatModel>>,
    ) -> anyhow::Result<Outcome> {
        let f = job.features;
        let done = store::ok_count(
            self.storage,
            job.stock.id,
            job.model.id,
            &job.variant,
            self.cutoff,
        )
        .await?;
        if done >= rules.horizons.len() as i64 {
            return Ok(Outcome::Done);
        }
        let news_ids: Vec<i64> = job.news.iter().map(|n| n.id).collect();
        let mut base = PredictionRow {
            stock_id: job.stock.id,
            model_id: job.model.id,
            experiment: job.experiment.clone(),
            variant: job.variant.clone(),
            as_of: self.cutoff,
            as_of_date: f.as_of_date,
            base_price: Some(f.close),
            prompt_hash: job.template.as_ref().map(|t| t.1.clone()),
            news_ids: news_ids.clone(),
            ..Default::default()
        };
        let features_json = serde_json::to_value(f)?;
        let (answer, tokens) = match job.model.cfg.provider {
            ProviderKind::Baseline => {
                let texts: Vec<(String, f64)> = job
                    .news
                    .iter()
                    .map(|n| {
                        let text = match &n.summary {
                            Some(s) => format!("{} {s}", n.title),
                            None => n.title.clone(),
                        };
                        (text, n.relevance)
                    })
                    .collect();
                let signal = NewsSignal {
                    news_count: job.news.len() as u32,
                    // The lexicon tone of the linked news, weighted by how
                    // surely each article is about this stock.
                    news_sentiment: crate::news::sentiment::weighted_tone(
                        texts.iter().map(|(t, r)| (t.as_str(), *r)),
                    ),
                };
                let p = baseline::predict(
                    f,
                    &signal,
                    &BaselineConfig {
                        horizons: rules.horizons.clone(),
                        coverage: rules.coverage,
                        flat_band_pct: rules.flat_band_pct,
                    },
                );
                let answer = Answer {
                    horizons: p
                        .horizons
                        .iter()
                        .map(|h| HorizonAnswer {
                            horizon_days: h.horizon_days,
                            p_up: h.p_up,
                            p_flat: h.p_flat,
                            p_down: h.p_down,
                            expected_return: h.expected_return,
                            band_low: h.band_low,
                            band_high: h.band_high,
                            coverage: h.coverage,
                            price_target: None,
                            support: None,
                        })
                        .collect(),
                    drivers: p.drivers,
                    explanation: p.explanation,
                };
                (answer, Tokens::default())
            }
            ProviderKind::Openai => {
                let Some(chat) = chat else {
                    anyhow::bail!("model {}: no client", job.model.cfg.name);
                };
                let Some((template, _)) = &job.template else {
                    anyhow::bail!("model {}: no prompt template", job.model.cfg.name);
                };
                let prompt = render(template, job, rules);
                match self
                    .ask(
                        &chat,
                        &job.model.cfg.prices,
                        &prompt,
                        rules,
                        f.close,
                        budget,
                        job,
                    )
                    .await
                {
                    Asked::Answer(a, t) => (a, t),
                    Asked::Rejected(problems, t) => {
                        let reason = problems
                            .iter()
                            .map(Invalid::code)
                            .collect::<std::collections::BTreeSet<_>>()
                            .into_iter()
                            .collect::<Vec<_>>()
                            .join(",");
                        let detail = problems
                            .iter()
                            .map(|p| p.to_string())
                            .collect::<Vec<_>>()
                            .join("; ");
                        self.save_status(&mut base, rules, "rejected", &detail, t)
                            .await?;
                        return Ok(Outcome::Rejected { reason, tokens: t });
                    }
                    Asked::Failed(message, t) => {
                        self.save_status(&mut base, rules, "failed", &message, t)
                            .await?;
                        return Ok(Outcome::Failed { tokens: t });
                    }
                    Asked::Skipped(why) => {
                        self.save_status(&mut base, rules, "skipped", &why, Tokens::default())
                            .await?;
                        return Ok(Outcome::Skipped);
                    }
                }
            }
        };
        let mut rows = vec![];
        for (i, h) in answer.horizons.iter().enumerate() {
            // Tokens and cost are the stock's call: the first horizon's row
            // carries them, so sums over rows stay right.
            let share = if i == 0 { tokens } else { Tokens::default() };
            rows.push(PredictionRow {
                horizon_days: h.horizon_days,
                status: "ok",
                p_up: Some(h.p_up),
                p_flat: Some(h.p_flat),
                p_down: Some(h.p_down),
                expected_return: Some(h.expected_return),
                band_low: Some(h.band_low),
                band_high: Some(h.band_high),
                coverage: Some(h.coverage),
                price_target: h.price_target,
                support: h.support,
                input_tokens: share.input,
                output_tokens: share.output,
                cost_usd: share.cost,
                ..base.clone()
            });
        }
        let drivers = serde_json::to_value(&answer.drivers)?;
        store::save(
            self.storage,
            &rows,
            Some((&answer.explanation, &drivers, &features_json)),
            self.run_id,
        )
        .await?;
        let mover = answer.horizons.first().map(|h| {
            (
                h.expected_return.abs(),
                format!(
                    "{}:{} {}",
                    job.stock.exchange, job.stock.code, job.stock.name
                ),
                job.model.cfg.name.clone(),
                h.expected_return,
                answer.explanation.clone(),
            )
        });
        Ok(Outcome::Made { tokens, mover })
    }

    /// Rows for every horizon with a non-ok status and its reason.
    async fn save_status(
        &self,
        base: &mut PredictionRow,
        rules: &Rules,
        status: &'static str,
        reason: &str,
        t: Tokens,
    ) -> anyhow::Result<()> {
        let rows: Vec<PredictionRow> = rules
            .horizons
            .iter()
            .enumerate()
            .map(|(i, h)| PredictionRow {
                horizon_days: *h,
                status,
                reason: Some(reason.chars().take(1000).collect()),
                input_tokens: if i == 0 { t.input } else { 0 },
                output_tokens: if i == 0 { t.output } else { 0 },
                cost_usd: if i == 0 { t.cost } else { 0.0 },
                ..base.clone()
            })
            .collect();
        store::save(self.storage, &rows, None, self.run_id).await
    }

    /// One call, and one repair call if the answer is invalid.
    #[allow(clippy::too_many_arguments)]
    async fn ask(
        &self,
        chat: &ChatModel,
        prices: &Prices,
        prompt: &str,
        rules: &Rules,
        base_price: f64,
        budget: &Budget,
        job: &Job<'_>,
    ) -> Asked {
        let schema = answer::json_schema(rules);
        let max_out = u64::from(job.model.cfg.max_tokens.unwrap_or(1000));
        let mut messages = vec![
            Message {
                role: "system",
                content: SYSTEM.to_string(),
            },
            Message {
                role: "user",
                content: prompt.to_string(),
            },
        ];
        let mut t = Tokens::default();
        let mut last_problems: Vec<Invalid> = vec![];
        for attempt in 0..2 {
            let est = estimate_tokens(&messages);
            let reservation = match budget.reserve(est, max_out, prices) {
                Ok(r) => r,
                Err(e) if attempt == 0 => return Asked::Skipped(format!("budget: {e}")),
                // The first answer was invalid and the budget allows no
                // repair: rejected for what was wrong with it.
                Err(_) => return Asked::Rejected(last_problems, t),
            };
            let reply = match chat.complete(&messages, &schema).await {
                Ok(r) => r,
                Err(e) => {
                    budget.settle(reservation, 0, 0, prices);
                    return Asked::Failed(e.to_string(), t);
                }
            };
            budget.settle(reservation, reply.input_tokens, reply.output_tokens, prices);
            t.input += reply.input_tokens;
            t.output += reply.output_tokens;
            t.cost += cost(reply.input_tokens, reply.output_tokens, prices);
            match answer::parse(&reply.text, rules, base_price) {
                Ok(a) => return Asked::Answer(a, t),
                Err(problems) if attempt == 0 => {
                    t.repairs += 1;
                    last_problems = problems.clone();
                    messages.push(Message {
                        role: "assistant",
                        content: reply.text,
                    });
                    messages.push(Message {
                        role: "user",
                        content: answer::repair_prompt(&problems),
                    });
                }
                Err(problems) => return Asked::Rejected(problems, t),
            }
        }
        Asked::Failed("no answer".into(), t)
    }
}

enum Asked {
    Answer(Answer, Tokens),
    Rejected(Vec<Invalid>, Tokens),
    Failed(String, Tokens),
    Skipped(String),
}

const SYSTEM: &str =
    "You are a careful equity analyst. Answer only with JSON matching the given schema. \
Probabilities are calibrated: p_up + p_flat + p_down = 1. Returns are in percent.";

/// Chars / 3, rounded up (no tokenizer; a reservation is a worst case).
fn estimate_tokens(messages: &[Message]) -> u64 {
    messages
        .iter()
        .map(|m| (m.content.chars().count() as u64).div_ceil(3) + 4)
        .sum()
}

/// The template with `{{name}}` placeholders filled in: `stock`, `as_of`,
/// `features`, `news`, `similar`, `horizons`, `coverage`, `flat_band`.
fn render(template: &str, job: &Job<'_>, rules: &Rules) -> String {
    let news = if job.news.is_empty() {
        "(none)".to_string()
    } else {
        job.news
            .iter()
            .map(|n| {
                format!(
                    "- [{}] {} (relevance {:.2}){}",
                    n.published_at.format("%Y-%m-%d %H:%M UTC"),
                    n.title,
                    n.relevance,
                    n.summary
                        .as_deref()
                        .map(|s| format!(": {}", s.chars().take(300).collect::<String>()))
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let similar = if job.similar.is_empty() {
        "(none)"
    } else {
        job.similar
    };
    template
        .replace(
            "{{stock}}",
            &format!(
                "{} ({}:{})",
                job.stock.name, job.stock.exchange, job.stock.code
            ),
        )
        .replace("{{as_of}}", &job.features.as_of_date.to_string())
        .replace("{{features}}", &features::to_prompt_table(job.features))
        .replace("{{news}}", &news)
        .replace("{{similar}}", similar)
        .replace(
            "{{horizons}}",
            &rules
                .horizons
                .iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        )
        .replace("{{coverage}}", &format!("{:.0}%", rules.coverage * 100.0))
        .replace("{{flat_band}}", &format!("{}%", rules.flat_band_pct))
}
