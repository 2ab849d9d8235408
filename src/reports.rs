//! Reports: what each run wrote, for people (Markdown) and tools (JSON),
//! under `reports/JOB/DATE/`, plus `reports/index.html` listing the latest
//! runs of every job. Every file is written through [`Reports::write_atomic`]
//! (temporary file, then rename), so a reader never sees half a report.

use crate::ledger::{AttemptRow, RunRow};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Reports {
    pub dir: PathBuf,
}

/// Everything a run report says.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub job: String,
    pub run_id: i64,
    pub slot: DateTime<Utc>,
    pub trigger: String,
    pub attempt: i32,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub counts: BTreeMap<String, i64>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
    pub retry_at: Option<DateTime<Utc>>,
    pub attempts: Vec<AttemptRow>,
    pub details: serde_json::Value,
    #[serde(skip)]
    pub markdown: String,
}

impl Reports {
    pub fn new(dir: impl Into<PathBuf>) -> Reports {
        Reports { dir: dir.into() }
    }

    /// `JOB/YYYY-MM-DD/HHMMSSZ` (UTC), without extension; one per slot, so a
    /// rerun of the slot replaces its report (the attempts table keeps history).
    pub fn run_stem(job: &str, slot: DateTime<Utc>) -> String {
        format!(
            "{job}/{}/{}",
            slot.format("%Y-%m-%d"),
            slot.format("%H%M%S%.3fZ")
        )
    }

    pub fn write_atomic(&self, relative: &Path, contents: &[u8]) -> std::io::Result<PathBuf> {
        let path = self.dir.join(relative);
        let dir = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("report"),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&tmp, contents)?;
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }

    /// Writes the Markdown and JSON reports; returns the Markdown path
    /// relative to the reports folder.
    pub fn write_run(&self, report: &RunReport) -> std::io::Result<String> {
        let stem = Self::run_stem(&report.job, report.slot);
        let md_rel = format!("{stem}.md");
        self.write_atomic(Path::new(&md_rel), render_markdown(report).as_bytes())?;
        let json = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
        self.write_atomic(Path::new(&format!("{stem}.json")), &json)?;
        Ok(md_rel)
    }

    pub fn write_index(
        &self,
        runs: &[RunRow],
        generated: DateTime<Utc>,
    ) -> std::io::Result<PathBuf> {
        // The evaluation pages the jobs write, when they exist.
        let pages: Vec<(&str, &str)> = [
            ("performance.html", "Model performance (performance_daily)"),
            ("regression.html", "Regression checks (regression_detect)"),
        ]
        .into_iter()
        .filter(|(file, _)| self.dir.join(file).exists())
        .collect();
        self.write_atomic(
            Path::new("index.html"),
            render_index(runs, &pages, generated).as_bytes(),
        )
    }
}

pub fn render_markdown(r: &RunReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {} — {}\n", r.job, r.slot.to_rfc3339());
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| status | **{}** |", r.status);
    let _ = writeln!(
        s,
        "| run | #{} attempt {} ({}) |",
        r.run_id, r.attempt, r.trigger
    );
    let _ = writeln!(s, "| started | {} |", r.started_at.to_rfc3339());
    let _ = writeln!(s, "| finished | {} |", r.finished_at.to_rfc3339());
    let _ = writeln!(s, "| duration | {:.3} s |", r.duration_ms as f64 / 1000.0);
    if let Some(at) = r.retry_at {
        let _ = writeln!(s, "| next attempt | {} |", at.to_rfc3339());
    }
    if !r.counts.is_empty() {
        let _ = writeln!(s, "\n## Counts\n\n| counter | value |\n|---|---:|");
        for (k, v) in &r.counts {
            let _ = writeln!(s, "| {k} | {v} |");
        }
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(s, "\n## Warnings\n");
        for w in &r.warnings {
            let _ = writeln!(s, "- {w}");
        }
    }
    if let Some(e) = &r.error {
        let _ = writeln!(s, "\n## Error\n\n```\n{e}\n```");
    }
    if !r.attempts.is_empty() {
        let _ = writeln!(s, "\n## Earlier attempts\n\n| attempt | trigger | status | finished | error |\n|---:|---|---|---|---|");
        for a in &r.attempts {
            let err = a
                .error
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("");
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                a.attempt,
                a.trigger,
                a.status,
                a.finished_at.to_rfc3339(),
                err.replace('|', "\\|")
            );
        }
    }
    if !r.markdown.is_empty() {
        let _ = writeln!(s, "\n## Details\n\n{}", r.markdown);
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The index of the latest runs; `pages` are (file, title) of report pages
/// linked at the top (the evaluation pages).
pub fn render_index(runs: &[RunRow], pages: &[(&str, &str)], generated: DateTime<Utc>) -> String {
    let mut by_job: BTreeMap<&str, Vec<&RunRow>> = BTreeMap::new();
    for r in runs {
        by_job.entry(r.job.as_str()).or_default().push(r);
    }
    let mut s = String::new();
    s.push_str(r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>tickerd — latest runs</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d232b;background:#fbfbfc}
h1{font-size:1.5rem;margin-bottom:.2rem} .meta{color:#667;margin-top:0}
h2{font-size:1.1rem;margin:1.8rem 0 .4rem;font-family:ui-monospace,monospace}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0001;table-layout:fixed}
table.runs th:nth-child(1){width:11rem}table.runs th:nth-child(2){width:7rem}table.runs th:nth-child(3){width:6rem}
table.runs th:nth-child(4){width:4.5rem}table.runs th:nth-child(5){width:5.5rem}table.runs th:nth-child(6){width:6.5rem}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #e6e8eb;vertical-align:top}
th{background:#f2f4f6;font-weight:600;font-size:.85rem;color:#445}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.st{display:inline-block;padding:.05rem .5rem;border-radius:.7rem;font-size:.8rem;font-weight:600}
.succeeded{background:#dcf5e3;color:#17663a}.failed{background:#fde2e1;color:#a11d16}
.running{background:#dde9fd;color:#1c4fa8}.queued{background:#eef0f3;color:#445}
.abandoned{background:#fff0d6;color:#8a5300}.skipped{background:#eef0f3;color:#667}
.err{color:#a11d16;font-family:ui-monospace,monospace;font-size:.8rem;white-space:pre-wrap}
a{color:#1c4fa8}
</style></head><body>
<h1>tickerd — latest runs</h1>
"#);
    let _ = writeln!(
        s,
        "<p class=\"meta\">Generated {} UTC. Times are UTC.</p>",
        generated.format("%Y-%m-%d %H:%M:%S")
    );
    if !pages.is_empty() {
        s.push_str("<ul class=\"pages\">\n");
        for (file, title) in pages {
            let _ = writeln!(s, "<li><a href=\"{}\">{}</a></li>", esc(file), esc(title));
        }
        s.push_str("</ul>\n");
    }
    if by_job.is_empty() {
        s.push_str("<p>No runs yet.</p>\n");
    }
    if !by_job.is_empty() {
        // The morning question first: is every job's latest run fine?
        s.push_str("<table class=\"overview\"><thead><tr><th>job</th><th>latest slot</th><th>status</th><th>last success</th></tr></thead><tbody>\n");
        for (job, rows) in &by_job {
            let latest = rows[0];
            let success = rows
                .iter()
                .find(|r| r.status == "succeeded")
                .map(|r| r.slot.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "—".into());
            let _ = writeln!(
                s,
                "<tr><td><a href=\"#{0}\">{0}</a></td><td>{1}</td><td><span class=\"st {2}\">{2}</span></td><td>{3}</td></tr>",
                esc(job),
                latest.slot.format("%Y-%m-%d %H:%M:%S"),
                esc(&latest.status),
                success
            );
        }
        s.push_str("</tbody></table>\n");
    }
    for (job, rows) in by_job {
        let _ = writeln!(s, "<h2 id=\"{0}\">{0}</h2>", esc(job));
        s.push_str("<table class=\"runs\"><thead><tr><th>slot</th><th>status</th><th>trigger</th><th>attempt</th><th>duration</th><th>report</th><th>error</th></tr></thead><tbody>\n");
        for r in rows {
            let duration = match (r.started_at, r.finished_at) {
                (Some(a), Some(b)) if b >= a => {
                    format!("{:.2} s", (b - a).num_milliseconds() as f64 / 1000.0)
                }
                _ => String::new(),
            };
            let report = r
                .report_path
                .as_deref()
                .map(|p| {
                    format!(
                        "<a href=\"{0}\">md</a> · <a href=\"{1}\">json</a>",
                        esc(p),
                        esc(&p.replace(".md", ".json"))
                    )
                })
                .unwrap_or_default();
            let err = r
                .error
                .as_deref()
                .and_then(|e| e.lines().next())
                .unwrap_or("");
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td><span class=\"st {st}\">{st}</span></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"err\">{}</td></tr>",
                r.slot.format("%Y-%m-%d %H:%M:%S"),
                esc(&r.trigger),
                r.attempt,
                duration,
                report,
                esc(err),
                st = esc(&r.status),
            );
        }
        s.push_str("</tbody></table>\n");
    }
    s.push_str("</body></html>\n");
    s
}

/// A table rendered both as Markdown (the run report) and HTML (the page).
pub struct Table {
    pub header: Vec<String>,
    /// Cells per row, and whether the row is healthy (a green or red edge).
    pub rows: Vec<(bool, Vec<String>)>,
}

impl Table {
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "| {} |\n|{}\n",
            self.header.join(" | "),
            "---|".repeat(self.header.len())
        );
        for (_, cells) in &self.rows {
            let cells: Vec<String> = cells.iter().map(|c| c.replace('|', "/")).collect();
            let _ = writeln!(s, "| {} |", cells.join(" | "));
        }
        s
    }

    pub fn html(&self) -> String {
        let mut s = String::from("<table><thead><tr>");
        for h in &self.header {
            let _ = write!(s, "<th>{}</th>", esc(h));
        }
        s.push_str("</tr></thead><tbody>\n");
        for (good, cells) in &self.rows {
            let _ = write!(s, "<tr class=\"{}\">", if *good { "good" } else { "bad" });
            for (i, c) in cells.iter().enumerate() {
                // Text in the first columns, numbers after.
                let class = if i >= 2 { " class=\"num\"" } else { "" };
                let _ = write!(s, "<td{class}>{}</td>", esc(c));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</tbody></table>\n");
        s
    }
}

/// A self-contained page (no scripts, no external assets) with the KPI
/// table and the charts.
pub fn html_page(title: &str, body: &str, charts: &[(&str, &str)]) -> String {
    let mut s = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t}</title>
<style>
body{{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d232b;background:#fbfbfc}}
h1{{font-size:1.5rem}} h2{{font-size:1.1rem;margin-top:1.6rem}}
table{{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0001;font-size:.85rem}}
th,td{{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e6e8eb}} th{{background:#f2f4f6}}
td.num{{text-align:right;font-variant-numeric:tabular-nums}}
tr.bad td:first-child{{border-left:4px solid #c0392b}} tr.good td:first-child{{border-left:4px solid #27ae60}}
figure{{margin:1rem 0;background:#fff;box-shadow:0 1px 2px #0001;padding:.5rem}} figure img{{max-width:100%;height:auto}}
.alert{{background:#fde2e1;color:#a11d16;padding:.5rem .8rem;border-radius:.3rem}}
a{{color:#1c4fa8}}
</style></head><body>
<h1>{t}</h1>
<p><a href="index.html">← all runs</a></p>
"#,
        t = esc(title)
    );
    s.push_str(body);
    for (src, caption) in charts {
        let _ = writeln!(
            s,
            "<figure><img src=\"{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>",
            esc(src),
            esc(caption),
            esc(caption)
        );
    }
    s.push_str("</body></html>\n");
    s
}
