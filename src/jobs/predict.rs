//! `predict`: for each active stock (priority filter), as of the slot's
//! instant, each active model — or the stock's A/B variant — predicts the
//! configured horizons: up / flat / down probabilities, expected return and
//! a band at a nominal coverage, drivers and an explanation.
//!
//! Reads: `jobs/predict.toml`, `jobs/models.toml` (+ `jobs/prompts/`),
//! `jobs/news_embed.toml` (retrieval), `stocks`, daily `bars` of sessions
//! closed by the slot, `news` / `news_stock_match` / `news_impact`
//! published strictly before the slot, the vector store.
//! Writes: `models`, `ab_test_config` (synced from the file), `predictions`
//! (one row per stock, model, variant, horizon and as-of, status ok /
//! rejected / failed / skipped, tokens and cost), `stock_analysis`
//! (explanations; history kept).
//! Schedule: nightly after `news_embed`; the slot is the cut-off.
//! Rerun safety: safe — `ok` rows are never replaced and not asked for
//! again (no second bill); rejected, failed and skipped ones are retried.

use super::{JobContext, JobError, Outcome};
use crate::market::stocks;
use crate::predict::pass::Pass;
use crate::predict::{registry, PredictConfig};
use crate::time::Calendars;
use crate::vectors::retrieve::{Query, Request, Retriever};
use chrono::Duration;
use std::collections::HashMap;
use std::fmt::Write as _;

pub async fn run(ctx: &JobContext) -> Result<Outcome, JobError> {
    let cfg = PredictConfig::from_table(&ctx.params).map_err(JobError::permanent)?;
    let file = registry::load(&ctx.settings.jobs_dir).map_err(JobError::permanent)?;
    let models = registry::sync(&ctx.storage, &ctx.settings.jobs_dir, &file)
        .await
        .map_err(JobError::permanent)?;
    let experiment = match &cfg.experiment {
        None => None,
        Some(name) => Some(
            file.experiments
                .iter()
                .find(|e| &e.name == name && e.active)
                .ok_or_else(|| {
                    JobError::permanent(anyhow::anyhow!(
                        "jobs/predict.toml: experiment {name:?} is not an active experiment of jobs/models.toml"
                    ))
                })?,
        ),
    };
    let stocks: Vec<_> = stocks::load(&ctx.storage, true)
        .await?
        .into_iter()
        .filter(|s| s.priority <= cfg.max_priority)
        .collect();
    let (calendars, problems) = Calendars::load_dir(&ctx.settings.jobs_dir.join("calendars"));
    let mut out = Outcome::default();
    for p in problems {
        out.warn(format!("calendar: {p}"));
    }
    let similar = similar_news(ctx, &cfg, &stocks, &mut out).await;

    let result = Pass {
        storage: &ctx.storage,
        settings: &ctx.settings,
        cfg: &cfg,
        models: &models,
        experiment,
        stocks: &stocks,
        calendars: &calendars,
        cutoff: ctx.slot,
        run_id: ctx.run_id,
        similar,
    }
    .run()
    .await?;

    for w in &result.warnings {
        out.warn(w.clone());
    }
    out.count("stocks", result.stocks as i64);
    let mut md = String::from("## Predictions per model and variant\n\n| model / variant | made | rejected | failed | skipped (budget) | already done | repairs | tokens in / out | cost USD |\n|---|---:|---|---:|---:|---:|---:|---:|---:|\n");
    for (key, t) in &result.tallies {
        out.count("made", t.made as i64);
        out.count("rejected", t.rejected.values().sum::<u64>() as i64);
        out.count("failed", t.failed as i64);
        out.count("skipped", t.skipped as i64);
        out.count("already_done", t.already_done as i64);
        out.count("repairs", t.repairs as i64);
        out.count("input_tokens", t.input_tokens as i64);
        out.count("output_tokens", t.output_tokens as i64);
        let _ = writeln!(
            md,
            "| {key} | {} | {} | {} | {} | {} | {} | {} / {} | {:.4} |",
            t.made,
            if t.rejected.is_empty() {
                "0".to_string()
            } else {
                t.rejected
                    .iter()
                    .map(|(r, n)| format!("{n} {r}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            t.failed,
            t.skipped,
            t.already_done,
            t.repairs,
            t.input_tokens,
            t.output_tokens,
            t.cost_usd
        );
    }
    let cost: f64 = result.tallies.values().map(|t| t.cost_usd).sum();
    out.count("cost_micro_usd", (cost * 1e6).round() as i64);
    md.push_str("\n## Top movers\n\n");
    if result.movers.is_empty() {
        md.push_str("No predictions made.\n");
    } else {
        md.push_str(
            "| stock | model | expected (first horizon) | explanation |\n|---|---|---:|---|\n",
        );
        for (_, stock, model, exp, why) in &result.movers {
            let _ = writeln!(
                md,
                "| {stock} | {model} | {exp:+.2}% | {} |",
                why.replace('|', "\\|").replace('\n', " ")
            );
        }
    }
    if result.tallies.values().any(|t| t.skipped > 0) {
        out.warn(
            "the run's budget was exhausted: the remaining predictions were recorded as skipped",
        );
    }
    out.details = serde_json::json!({ "tallies": result.tallies });
    out.markdown = md;
    Ok(out)
}

/// Similar past news per stock, rendered for prompts; retrieval problems
/// (no embeddings yet, store down) are warnings, not failures.
async fn similar_news(
    ctx: &JobContext,
    cfg: &PredictConfig,
    stocks: &[crate::market::stocks::Stock],
    out: &mut Outcome,
) -> HashMap<i64, String> {
    let mut map = HashMap::new();
    if cfg.similar_k == 0 {
        return map;
    }
    let params = crate::runner::load_job_params(&ctx.settings.jobs_dir, super::JobName::NewsEmbed)
        .unwrap_or_default();
    let opened = match super::news_embed::EmbedJobConfig::from_table(&params) {
        Ok(c) => super::news_embed::open(&c, &ctx.storage, &ctx.settings).await,
        Err(e) => Err(e),
    };
    let (embedder, store, collection) = match opened {
        Ok(o) => o,
        Err(e) => {
            out.warn(format!("retrieval off: {e:#}"));
            return map;
        }
    };
    let retriever = Retriever {
        storage: &ctx.storage,
        store: &store,
        embedder: &embedder,
        collection,
    };
    for s in stocks {
        let recent = crate::predict::store::recent_news(
            &ctx.storage,
            s.id,
            ctx.slot - Duration::days(cfg.news_lookback_days),
            ctx.slot,
            3,
        )
        .await
        .unwrap_or_default();
        let text = std::iter::once(s.name.clone())
            .chain(recent.iter().map(|n| n.title.clone()))
            .collect::<Vec<_>>()
            .join("\n");
        let hits = match retriever
            .similar(&Request {
                query: Query::Text(text),
                stock_ids: Some(vec![s.id]),
                cutoff: ctx.slot,
                k: cfg.similar_k,
                min_similarity: cfg.min_similarity,
            })
            .await
        {
            Ok(h) => h,
            Err(e) => {
                out.warn(format!("retrieval for {}:{}: {e:#}", s.exchange, s.code));
                continue;
            }
        };
        let recent_ids: Vec<i64> = recent.iter().map(|n| n.id).collect();
        let lines: Vec<String> = hits
            .iter()
            .filter(|h| !recent_ids.contains(&h.article.id))
            .map(|h| {
                let after = h
                    .impacts
                    .iter()
                    .find(|i| i.stock_id == s.id)
                    .map(|i| {
                        format!(
                            "; close after it: +1d {}, +5d {}",
                            fmt_pct(i.returns[0]),
                            fmt_pct(i.returns[3])
                        )
                    })
                    .unwrap_or_default();
                format!(
                    "- [{}] {} (similarity {:.2}{after})",
                    h.article.published_at.format("%Y-%m-%d"),
                    h.article.title,
                    h.similarity
                )
            })
            .collect();
        if !lines.is_empty() {
            map.insert(s.id, lines.join("\n"));
        }
    }
    map
}

fn fmt_pct(v: Option<f64>) -> String {
    v.map_or("?".into(), |x| format!("{x:+.2}%"))
}
