//! The news files the `news_crawl` job reads: RSS 2.0 and Atom feeds and
//! HTML list pages (laid out like `data/sample/news/list.html`, a Naver
//! Finance-style list), and the `[[sources]]` fragment that names them.
//!
//! Each outlet's items are split, oldest first, into files of at most
//! [`MAX_ITEMS_PER_FILE`] items: the crawler takes at most
//! `max_items_per_source` (500 by default) entries from one source per run,
//! so every item is read by one run. Inside a file the newest item comes
//! first, as in a live feed.

use super::news::{Format, Item, Outlet};
use super::text::Lang;
use chrono::SecondsFormat;
use chrono_tz::Asia::Seoul;

/// Items per feed file or list page (below the crawler's default of 500).
pub const MAX_ITEMS_PER_FILE: usize = 200;

/// The list pages' CSS selectors, as `[sources.list]` takes them.
pub const LIST_SELECTORS: [(&str, &str); 8] = [
    ("item", "dl"),
    ("title", "dd.articleSubject a"),
    ("link", "dd.articleSubject a"),
    ("summary", "dd.articleSummary"),
    ("exclude", "span.press"),
    ("published", "span.wdate"),
    ("published_format", "%Y-%m-%d %H:%M"),
    ("timezone", "Asia/Seoul"),
];

/// One generated source file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The `[[sources]]` name, e.g. `synth-wire-01`.
    pub name: String,
    pub outlet: Outlet,
    /// Path under the output folder, e.g. `news/synth-wire-01.xml`.
    pub path: String,
    pub items: usize,
    pub content: String,
}

/// Every outlet's files, in outlet order.
pub fn files(items: &[Item]) -> Vec<SourceFile> {
    let mut out = Vec::new();
    for outlet in Outlet::ALL {
        let mut mine: Vec<&Item> = items.iter().filter(|i| i.outlet == outlet).collect();
        mine.sort_by(|a, b| a.published.cmp(&b.published).then(a.url.cmp(&b.url)));
        for (k, chunk) in mine.chunks(MAX_ITEMS_PER_FILE).enumerate() {
            let name = format!("{}-{:02}", outlet.name(), k + 1);
            let newest_first: Vec<&Item> = chunk.iter().rev().copied().collect();
            let (ext, content) = match outlet.format() {
                Format::Rss => ("xml", rss(outlet, &newest_first)),
                Format::Atom => ("xml", atom(outlet, &name, &newest_first)),
                Format::Html => ("html", html(outlet, &newest_first)),
            };
            out.push(SourceFile {
                path: format!("news/{name}.{ext}"),
                name,
                outlet,
                items: chunk.len(),
                content,
            });
        }
    }
    out
}

fn rss(outlet: Outlet, items: &[&Item]) -> String {
    let korean = outlet.lang() == Lang::Ko;
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel>\n\
         <title>{}</title>\n<link>{}</link>\n<description>Invented news of tickerd's sample market</description>\n\
         <language>{}</language>\n",
        xml(outlet.title()),
        home(outlet),
        if korean { "ko-kr" } else { "en-us" }
    );
    for item in items {
        // Korean outlets stamp Seoul time, the wire UTC.
        let date = if korean {
            item.published.with_timezone(&Seoul).to_rfc2822()
        } else {
            item.published.to_rfc2822()
        };
        out.push_str(&format!(
            "<item>\n<title>{}</title>\n<link>{}</link>\n<description>{}</description>\n\
             <pubDate>{date}</pubDate>\n<guid isPermaLink=\"false\">{}-{:05}{}</guid>\n</item>\n",
            xml(&item.text.title),
            xml(&item.url),
            xml(&item.text.summary),
            outlet.name(),
            item.story,
            if item.copy { "-syn" } else { "" }
        ));
    }
    out.push_str("</channel>\n</rss>\n");
    out
}

fn atom(outlet: Outlet, name: &str, items: &[&Item]) -> String {
    let updated = items
        .first()
        .map(|i| i.published.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\n\
         <title>{}</title>\n<id>tag:biz.synth-market.example,2026:{name}</id>\n\
         <link rel=\"alternate\" href=\"{}\"/>\n<updated>{updated}</updated>\n",
        xml(outlet.title()),
        home(outlet)
    );
    for item in items {
        let at = item.published.to_rfc3339_opts(SecondsFormat::Secs, true);
        out.push_str(&format!(
            "<entry>\n<title>{}</title>\n<link rel=\"alternate\" href=\"{}\"/>\n\
             <id>tag:biz.synth-market.example,2026:{:05}{}</id>\n<published>{at}</published>\n\
             <updated>{at}</updated>\n<summary>{}</summary>\n</entry>\n",
            xml(&item.text.title),
            xml(&item.url),
            item.story,
            if item.copy { "-syn" } else { "" },
            xml(&item.text.summary)
        ));
    }
    out.push_str("</feed>\n");
    out
}

fn html(outlet: Outlet, items: &[&Item]) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"ko\">\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body>\n<div class=\"mainNewsList\">\n<ul class=\"realtimeNewsList\">\n<li class=\"newsList\">\n",
        xml(outlet.title())
    );
    for item in items {
        let when = item
            .published
            .with_timezone(&Seoul)
            .format("%Y-%m-%d %H:%M");
        out.push_str(&format!(
            "<dl>\n<dd class=\"articleSubject\"><a href=\"{url}\" title=\"{title}\">{title}</a></dd>\n\
             <dd class=\"articleSummary\">{} <span class=\"press\">합성금융</span> <span class=\"wdate\">{when}</span></dd>\n</dl>\n",
            xml(&item.text.summary),
            url = xml(&item.url),
            title = xml(&item.text.title),
        ));
    }
    out.push_str("</li>\n</ul>\n</div>\n</body>\n</html>\n");
    out
}

fn home(outlet: Outlet) -> &'static str {
    match outlet {
        Outlet::Wire => "https://wire.synth-market.example/",
        Outlet::Biz => "https://biz.synth-market.example/",
        Outlet::KrEcon => "https://econ.synth-kr.example/",
        Outlet::KrList => "https://list.synth-kr.example/",
    }
}

/// Text escaped for XML and HTML content and attribute values.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// The `[[sources]]` fragment for `jobs/news_crawl.toml`; `prefix` is the
/// output folder as the crawler will see it (relative to where tickerd
/// runs, or absolute).
pub fn sources_toml(prefix: &str, files: &[SourceFile], seed: u64) -> String {
    let prefix = prefix.trim_end_matches('/');
    let mut out = format!(
        "# The sample market's news sources (`tickerd sample generate --seed {seed}`),\n\
         # in the [[sources]] format of jobs/news_crawl.toml: paste them there (or\n\
         # replace its [[sources]] with them). Paths are relative to the folder\n\
         # tickerd runs in. Each file holds at most {MAX_ITEMS_PER_FILE} items, below the\n\
         # default max_items_per_source = 500, so one run reads everything.\n"
    );
    for f in files {
        let lang = f.outlet.lang().code();
        out.push_str(&format!(
            "\n[[sources]]\nname = {}\nkind = {}\nurl = {}\nlanguage = {}\n",
            quote(&f.name),
            quote(if f.outlet.format() == Format::Html {
                "html"
            } else {
                "feed"
            }),
            quote(&format!("{prefix}/{}", f.path)),
            quote(lang)
        ));
        if f.outlet.format() == Format::Html {
            out.push_str(
                "# A saved list page: its links point at an invented site, so no bodies.\n",
            );
            out.push_str("fetch_body = false\n[sources.list]\n");
            for (key, value) in LIST_SELECTORS {
                out.push_str(&format!("{key} = {}\n", quote(value)));
            }
        }
    }
    out
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
