//! Turning fetched documents into news entries.
//!
//! Three kinds of input:
//!
//! * feeds ([`parse_feed`]): RSS 0.9x/1.0/2.0, Atom and JSON Feed through
//!   `feed-rs`, after our own structural XML check, because feed-rs quietly
//!   accepts mismatched tags and trailing garbage and a broken feed must be an
//!   error that says where, not a short list;
//! * HTML list pages ([`parse_list`]) such as Naver Finance's news list, read
//!   with per-source CSS selectors ([`ListSelectors`]);
//! * article pages ([`extract_body`]): a per-source selector, else a
//!   readability-style heuristic.
//!
//! Every entry carries an absolute `http(s)` URL; entries without one are
//! skipped (see [`parse_feed`] for how that is reported). HTML in titles and
//! summaries is reduced to plain text.

use std::borrow::Cow;
use std::collections::HashSet;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use scraper::{ElementRef, Html, Node, Selector};
use serde::Deserialize;
use url::Url;

use super::charset;

/// One news item, from a feed or a list page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Absolute `http`/`https` URL, as found (relative links resolved, nothing
    /// else normalised).
    pub url: String,
    /// Plain text; empty only when the source gave neither a title nor a summary.
    pub title: String,
    /// Plain text, whitespace collapsed.
    pub summary: Option<String>,
    /// Publication time; feeds fall back to the "updated" time.
    pub published: Option<DateTime<Utc>>,
    /// Plain-text article body when the source carried one (e.g. RSS
    /// `content:encoded`), paragraphs separated by a blank line.
    pub body: Option<String>,
    /// Language tag as declared by the entry, the feed or the page, if any.
    pub language: Option<String>,
}

/// Why a document could not be turned into entries.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("malformed XML at line {line}, column {column}: {what}")]
    MalformedXml {
        line: usize,
        column: usize,
        what: String,
    },
    #[error("unreadable feed: {0}")]
    Feed(String),
    #[error("feed has {total} entries but none has a usable http(s) link")]
    NoUsableEntries { total: usize },
    #[error("{field} selector `{selector}` invalid: {reason}")]
    InvalidSelector {
        field: &'static str,
        selector: String,
        reason: String,
    },
    #[error("published_format `{format}` is not a valid strftime format")]
    InvalidDateFormat { format: String },
    #[error("no items matched `{selector}`")]
    NoItems { selector: String },
    #[error(
        "{matched} items matched `{item}` but none had a title (`{title}`) and an http(s) link (`{link}`)"
    )]
    NoUsableItems {
        matched: usize,
        item: String,
        title: String,
        link: String,
    },
}

// ---------------------------------------------------------------------------
// Feeds
// ---------------------------------------------------------------------------

/// Parses an RSS, Atom or JSON feed.
///
/// `bytes` may be the raw response body or text already decoded by the
/// fetcher: input that is valid UTF-8 is taken as UTF-8 whatever its XML
/// declaration says (a declaration that disagrees is stale after decoding,
/// and EUC-KR text is practically never valid UTF-8); anything else is
/// decoded by [`charset::decode`]. Relative links are resolved against the
/// feed's `xml:base`, else `base`.
///
/// Entries with no usable `http(s)` link (no `<link>`, and no `<guid>`/`id`
/// that is itself an absolute URL) are skipped: they cannot be fetched or
/// de-duplicated by URL. The count is logged at `debug`; if the feed has
/// entries but *all* are skipped that is [`ParseError::NoUsableEntries`],
/// since it means the source is misconfigured rather than quiet.
pub fn parse_feed(bytes: &[u8], base: &Url) -> Result<Vec<Entry>, ParseError> {
    let text = feed_text(bytes);
    let body = strip_xml_declaration(&text);
    if body.trim_start().starts_with('<') {
        check_well_formed(&text)?;
    }
    let feed = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        .build()
        .parse(body.as_bytes())
        .map_err(|e| ParseError::Feed(e.to_string()))?;
    let total = feed.entries.len();
    let feed_language = feed.language.clone();
    let entries: Vec<Entry> = feed
        .entries
        .into_iter()
        .filter_map(|e| feed_entry(e, base, feed_language.as_deref()))
        .collect();
    if total > 0 && entries.is_empty() {
        return Err(ParseError::NoUsableEntries { total });
    }
    if entries.len() < total {
        tracing::debug!(
            feed = %base,
            skipped = total - entries.len(),
            "feed entries without a usable link skipped"
        );
    }
    Ok(entries)
}

fn feed_text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text.strip_prefix('\u{FEFF}').unwrap_or(text)),
        Err(_) => Cow::Owned(charset::decode(bytes, None).text),
    }
}

/// Drops a leading `<?xml …?>` so feed-rs does not re-decode our UTF-8 text
/// with the encoding the declaration names.
fn strip_xml_declaration(text: &str) -> &str {
    let trimmed = text.trim_start();
    let is_declaration = trimmed
        .strip_prefix("<?xml")
        .and_then(|rest| rest.chars().next())
        .is_some_and(char::is_whitespace);
    match trimmed.find("?>") {
        Some(end) if is_declaration => &trimmed[end + 2..],
        _ => text,
    }
}

fn feed_entry(e: feed_rs::model::Entry, base: &Url, feed_language: Option<&str>) -> Option<Entry> {
    let url = feed_link(&e, base)?;
    let summary = e
        .summary
        .as_ref()
        .map(text_construct)
        .filter(|s| !s.is_empty());
    let body = e
        .content
        .as_ref()
        .filter(|c| is_textual(c.content_type.as_ref()))
        .and_then(|c| c.body.as_deref())
        .map(|html| html_to_text(html, Layout::Paragraphs))
        .filter(|b| !b.is_empty());
    let title = e
        .title
        .as_ref()
        .map(text_construct)
        .filter(|t| !t.is_empty())
        .or_else(|| summary.as_deref().map(|s| truncate_chars(s, 100)))
        .unwrap_or_default();
    Some(Entry {
        url,
        title,
        summary,
        published: e.published.or(e.updated),
        body,
        language: e.language.or_else(|| feed_language.map(str::to_string)),
    })
}

/// The entry's page: an `alternate` (or unlabelled) link first, then any
/// other non-self link, then an id that is itself a URL (RSS `<guid
/// isPermaLink="true">`, whose text feed-rs keeps as the id).
fn feed_link(e: &feed_rs::model::Entry, base: &Url) -> Option<String> {
    fn rel(l: &feed_rs::model::Link) -> &str {
        l.rel.as_deref().unwrap_or("alternate")
    }
    let preferred = e.links.iter().filter(|l| rel(l) == "alternate");
    let others = e
        .links
        .iter()
        .filter(|l| !matches!(rel(l), "alternate" | "self" | "enclosure"));
    preferred
        .chain(others)
        .find_map(|l| absolute_http(base, &l.href))
        .or_else(|| {
            Url::parse(&e.id)
                .ok()
                .and_then(|u| absolute_http(base, u.as_str()))
        })
}

/// Title/summary text constructs: HTML (declared, or plainly present) is
/// reduced to one line of text.
fn text_construct(t: &feed_rs::model::Text) -> String {
    let declared_html = AsRef::<str>::as_ref(&t.content_type).contains("html");
    if declared_html || t.content.contains('<') {
        html_to_text(&t.content, Layout::Line)
    } else {
        collapse_whitespace(&t.content)
    }
}

fn is_textual(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type.contains("html")
        || content_type.contains("xml")
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", s[..at].trim_end()),
        None => s.to_string(),
    }
}

/// Resolves `href` against `base`, keeping only `http`/`https` results (a
/// `javascript:` or `mailto:` link is not an article).
fn absolute_http(base: &Url, href: &str) -> Option<String> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    let url = base.join(href).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.into())
}

// ---------------------------------------------------------------------------
// Structural XML check
// ---------------------------------------------------------------------------

/// Checks that tags nest and close properly, that markup is terminated and
/// that there is exactly one root element, reporting the first problem with
/// its position. Entity references are deliberately not checked: bare `&`
/// and HTML entities are common in real feeds and feed-rs copes with them.
fn check_well_formed(text: &str) -> Result<(), ParseError> {
    let mut checker = XmlChecker {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        open: Vec::new(),
        root_seen: false,
    };
    checker.run()
}

struct XmlChecker<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Open elements: name and the byte offset of their start tag.
    open: Vec<(&'a str, usize)>,
    root_seen: bool,
}

impl<'a> XmlChecker<'a> {
    fn run(&mut self) -> Result<(), ParseError> {
        while self.pos < self.bytes.len() {
            if self.bytes[self.pos] == b'<' {
                self.markup()?;
            } else {
                self.text_run()?;
            }
        }
        if let Some(&(name, at)) = self.open.last() {
            let (line, column) = line_column(self.text, at);
            return Err(self.error_at(
                self.bytes.len(),
                format!("document ends inside <{name}> opened at line {line}, column {column}"),
            ));
        }
        if !self.root_seen {
            return Err(self.error_at(self.bytes.len(), "no root element".into()));
        }
        Ok(())
    }

    fn markup(&mut self) -> Result<(), ParseError> {
        let rest = &self.text[self.pos..];
        if rest.starts_with("<!--") {
            self.skip_past(4, "-->", "unterminated comment")
        } else if rest.starts_with("<![CDATA[") {
            if self.open.is_empty() {
                return Err(
                    self.error_at(self.pos, "CDATA section outside the root element".into())
                );
            }
            self.skip_past(9, "]]>", "unterminated CDATA section")
        } else if rest.starts_with("<?") {
            self.skip_past(2, "?>", "unterminated processing instruction")
        } else if rest.starts_with("<!") {
            self.doctype()
        } else if rest.starts_with("</") {
            self.end_tag()
        } else {
            self.start_tag()
        }
    }

    fn skip_past(&mut self, from: usize, terminator: &str, what: &str) -> Result<(), ParseError> {
        match self.text[self.pos + from..].find(terminator) {
            Some(i) => {
                self.pos += from + i + terminator.len();
                Ok(())
            }
            None => Err(self.error_at(self.pos, what.into())),
        }
    }

    /// `<!DOCTYPE …>`, possibly with an internal subset in brackets.
    fn doctype(&mut self) -> Result<(), ParseError> {
        let mut depth = 0usize;
        for (i, &b) in self.bytes[self.pos..].iter().enumerate() {
            match b {
                b'[' => depth += 1,
                b']' => depth = depth.saturating_sub(1),
                b'>' if depth == 0 => {
                    self.pos += i + 1;
                    return Ok(());
                }
                _ => {}
            }
        }
        Err(self.error_at(self.pos, "unterminated <!DOCTYPE> declaration".into()))
    }

    fn end_tag(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        let close = self.bytes[start..]
            .iter()
            .position(|&b| b == b'>')
            .ok_or_else(|| self.error_at(start, "unterminated end tag".into()))?;
        let name = self.text[start + 2..start + close].trim();
        self.pos = start + close + 1;
        match self.open.pop() {
            Some((open, _)) if open == name => Ok(()),
            Some((open, at)) => {
                let (line, column) = line_column(self.text, at);
                Err(self.error_at(
                    start,
                    format!(
                        "</{name}> does not close <{open}> opened at line {line}, column {column}"
                    ),
                ))
            }
            None => Err(self.error_at(start, format!("</{name}> closes nothing"))),
        }
    }

    fn start_tag(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        let name_len = self.bytes[start + 1..]
            .iter()
            .position(|&b| b.is_ascii_whitespace() || b == b'/' || b == b'>')
            .unwrap_or(self.bytes.len() - start - 1);
        if name_len == 0 {
            return Err(self.error_at(start, "`<` not followed by a tag name".into()));
        }
        let name = &self.text[start + 1..start + 1 + name_len];
        let end = self
            .tag_end(start + 1 + name_len)
            .ok_or_else(|| self.error_at(start, format!("start tag <{name}> is not terminated")))?;
        if self.open.is_empty() && self.root_seen {
            return Err(self.error_at(start, format!("<{name}> after the root element was closed")));
        }
        self.root_seen = true;
        let self_closing = self.bytes[end - 1] == b'/';
        if !self_closing {
            self.open.push((name, start));
        }
        self.pos = end + 1;
        Ok(())
    }

    /// Offset of the `>` ending a start tag, skipping quoted attribute values.
    fn tag_end(&self, from: usize) -> Option<usize> {
        let mut quote: Option<u8> = None;
        for (i, &b) in self.bytes[from..].iter().enumerate() {
            match (quote, b) {
                (Some(q), _) if b == q => quote = None,
                (Some(_), _) => {}
                (None, b'"' | b'\'') => quote = Some(b),
                (None, b'>') => return Some(from + i),
                (None, b'<') => return None,
                _ => {}
            }
        }
        None
    }

    fn text_run(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        let len = self.bytes[start..]
            .iter()
            .position(|&b| b == b'<')
            .unwrap_or(self.bytes.len() - start);
        let run = &self.text[start..start + len];
        if self.open.is_empty() {
            if let Some(offset) = run.find(|c: char| !c.is_whitespace()) {
                let what = if self.root_seen {
                    "text after the root element"
                } else {
                    "text before the root element"
                };
                return Err(self.error_at(start + offset, what.into()));
            }
        }
        self.pos = start + len;
        Ok(())
    }

    fn error_at(&self, offset: usize, what: String) -> ParseError {
        let (line, column) = line_column(self.text, offset);
        ParseError::MalformedXml { line, column, what }
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

// ---------------------------------------------------------------------------
// HTML list pages
// ---------------------------------------------------------------------------

/// Per-source selectors for an HTML list page, as written in configuration.
///
/// Field selectors are looked for in the item element itself, then its
/// descendants, then — for pages like Naver Finance's list, where one `<dl>`
/// holds many articles as flat `<dt>`/`<dd>` siblings — in the siblings that
/// follow the item up to the next item.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSelectors {
    /// One match per article, e.g. `dl > .articleSubject`.
    pub item: String,
    /// Element whose text is the title (its `title` attribute if it has no text).
    pub title: String,
    /// Element whose `href` is the article link (else its first `a[href]`).
    pub link: String,
    pub summary: Option<String>,
    pub published: Option<String>,
    /// chrono strftime format of `published`, e.g. `"%Y.%m.%d %H:%M"`; a
    /// date-only format means local midnight. Without one, RFC 3339/2822 and
    /// a few common numeric formats are tried.
    pub published_format: Option<String>,
    /// Zone of times on the page that carry no offset, e.g. `"Asia/Seoul"`.
    #[serde(deserialize_with = "deserialize_tz")]
    pub timezone: Tz,
    /// Elements whose text is left out of titles and summaries (e.g. the
    /// press name and separators inside Naver's summary). The `published`
    /// element is always left out of the summary.
    #[serde(default)]
    pub exclude: Option<String>,
}

fn deserialize_tz<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    let name = String::deserialize(d)?;
    name.parse::<Tz>()
        .map_err(|e| serde::de::Error::custom(format!("unknown time zone `{name}`: {e}")))
}

/// [`ListSelectors`] after validation; build with [`ListSelectors::compile`].
#[derive(Debug, Clone)]
pub struct CompiledSelectors {
    item: (String, Selector),
    title: (String, Selector),
    link: (String, Selector),
    summary: Option<Selector>,
    published: Option<Selector>,
    published_format: Option<String>,
    timezone: Tz,
    exclude: Option<Selector>,
}

impl ListSelectors {
    /// Validates every selector and the date format, naming the bad one.
    pub fn compile(&self) -> Result<CompiledSelectors, ParseError> {
        let optional = |field, css: &Option<String>| {
            css.as_deref()
                .map(|c| compile_selector(field, c))
                .transpose()
        };
        if let Some(format) = &self.published_format {
            let invalid = StrftimeItems::new(format).any(|item| matches!(item, Item::Error));
            if invalid {
                return Err(ParseError::InvalidDateFormat {
                    format: format.clone(),
                });
            }
        }
        Ok(CompiledSelectors {
            item: (self.item.clone(), compile_selector("item", &self.item)?),
            title: (self.title.clone(), compile_selector("title", &self.title)?),
            link: (self.link.clone(), compile_selector("link", &self.link)?),
            summary: optional("summary", &self.summary)?,
            published: optional("published", &self.published)?,
            published_format: self.published_format.clone(),
            timezone: self.timezone,
            exclude: optional("exclude", &self.exclude)?,
        })
    }
}

/// Compiles one CSS selector; `field` names it in the error (e.g. `"body"`).
pub fn compile_selector(field: &'static str, css: &str) -> Result<Selector, ParseError> {
    Selector::parse(css).map_err(|e| ParseError::InvalidSelector {
        field,
        selector: css.to_string(),
        reason: e.to_string(),
    })
}

/// Reads the items of a list page. Items without a title or an `http(s)`
/// link are skipped (logged at `debug`); an unparseable date leaves
/// `published` empty. Zero matches of the item selector, or matches of which
/// none is usable, are errors: both mean the page layout changed.
pub fn parse_list(
    html: &str,
    base: &Url,
    sel: &CompiledSelectors,
) -> Result<Vec<Entry>, ParseError> {
    let doc = Html::parse_document(html);
    let scopes = item_scopes(&doc, &sel.item.1);
    if scopes.is_empty() {
        return Err(ParseError::NoItems {
            selector: sel.item.0.clone(),
        });
    }
    let language = doc.root_element().attr("lang").map(str::to_string);
    let entries: Vec<Entry> = scopes
        .iter()
        .filter_map(|scope| list_entry(scope, base, sel, language.as_deref()))
        .collect();
    if entries.is_empty() {
        return Err(ParseError::NoUsableItems {
            matched: scopes.len(),
            item: sel.item.0.clone(),
            title: sel.title.0.clone(),
            link: sel.link.0.clone(),
        });
    }
    if entries.len() < scopes.len() {
        tracing::debug!(
            page = %base,
            skipped = scopes.len() - entries.len(),
            "list items without a title or link skipped"
        );
    }
    Ok(entries)
}

/// An item element plus the siblings that follow it up to the next item.
struct Scope<'a> {
    head: ElementRef<'a>,
    tail: Vec<ElementRef<'a>>,
}

fn item_scopes<'a>(doc: &'a Html, item: &Selector) -> Vec<Scope<'a>> {
    let heads: Vec<ElementRef<'a>> = doc.select(item).collect();
    let ids: HashSet<_> = heads.iter().map(|h| h.id()).collect();
    let holds_item = |el: &ElementRef<'a>| el.descendants().any(|d| ids.contains(&d.id()));
    heads
        .iter()
        .map(|&head| Scope {
            head,
            tail: head
                .next_siblings()
                .filter_map(ElementRef::wrap)
                .take_while(|sibling| !holds_item(sibling))
                .collect(),
        })
        .collect()
}

impl<'a> Scope<'a> {
    fn find(&self, sel: &Selector) -> Option<ElementRef<'a>> {
        std::iter::once(self.head)
            .chain(self.tail.iter().copied())
            .find_map(|el| {
                if sel.matches(&el) {
                    Some(el)
                } else {
                    el.select(sel).next()
                }
            })
    }
}

fn list_entry(
    scope: &Scope<'_>,
    base: &Url,
    sel: &CompiledSelectors,
    language: Option<&str>,
) -> Option<Entry> {
    let excluded: Vec<&Selector> = sel.exclude.iter().collect();
    let title_el = scope.find(&sel.title.1)?;
    let title = Some(element_text(title_el, &excluded))
        .filter(|t| !t.is_empty())
        .or_else(|| title_el.attr("title").map(collapse_whitespace))
        .filter(|t| !t.is_empty())?;
    let url = scope.find(&sel.link.1).and_then(|el| link_of(el, base))?;
    let published_el = sel.published.as_ref().and_then(|s| scope.find(s));
    let summary = sel.summary.as_ref().and_then(|s| scope.find(s)).map(|el| {
        let mut skip = excluded.clone();
        skip.extend(sel.published.as_ref());
        element_text(el, &skip)
    });
    let published = published_el.and_then(|el| {
        let raw = el
            .attr("datetime")
            .map(str::to_string)
            .unwrap_or_else(|| element_text(el, &[]));
        let parsed = parse_local_time(&raw, sel.published_format.as_deref(), sel.timezone);
        if parsed.is_none() {
            tracing::debug!(text = %raw, "list item date not understood");
        }
        parsed
    });
    Some(Entry {
        url,
        title,
        summary: summary.filter(|s| !s.is_empty()),
        published,
        body: None,
        language: language.map(str::to_string),
    })
}

fn link_of(el: ElementRef<'_>, base: &Url) -> Option<String> {
    let href = el.attr("href").or_else(|| {
        let anchor = Selector::parse("a[href]").ok()?;
        el.select(&anchor).next()?.attr("href")
    })?;
    absolute_http(base, href)
}

/// Text of `el` with whitespace collapsed, leaving out script/style and any
/// element matching one of `skip`.
fn element_text(el: ElementRef<'_>, skip: &[&Selector]) -> String {
    let mut out = String::new();
    walk(el, |step| match step {
        Step::Text(t) => {
            out.push_str(t);
            true
        }
        Step::Open(e) => {
            let name = e.value().name();
            if name == "br" {
                out.push(' ');
            }
            let junk = matches!(name, "script" | "style" | "template" | "noscript");
            let excluded = e.id() != el.id() && skip.iter().any(|s| s.matches(&e));
            !(junk || excluded)
        }
        Step::Close(_) => true,
    });
    collapse_whitespace(&out)
}

/// Parses a page-local time. With `format`, that format (a full date-time,
/// or date only → local midnight; a format with `%z` is taken as is).
/// Without one, RFC 3339, RFC 2822 and common numeric layouts are tried.
/// Local times map to UTC through `tz`; see [`local_to_utc`].
pub fn parse_local_time(text: &str, format: Option<&str>, tz: Tz) -> Option<DateTime<Utc>> {
    const FALLBACK_FORMATS: [&str; 8] = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y.%m.%d %H:%M:%S",
        "%Y.%m.%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%Y-%m-%d",
        "%Y.%m.%d",
    ];
    let text = collapse_whitespace(text);
    let text = text.trim_end_matches('.');
    if let Some(format) = format {
        return parse_with_format(text, format, tz);
    }
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_rfc2822(text))
        .map(|dt| dt.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            FALLBACK_FORMATS
                .iter()
                .find_map(|f| parse_with_format(text, f, tz))
        })
}

fn parse_with_format(text: &str, format: &str, tz: Tz) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_str(text, format) {
        return Some(dt.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(text, format)
        .or_else(|_| {
            NaiveDate::parse_from_str(text, format).map(|d| d.and_time(Default::default()))
        })
        .ok()?;
    local_to_utc(naive, tz)
}

/// Maps a wall-clock time in `tz` to UTC. An ambiguous time (clocks going
/// back) takes the earlier instant; a time that does not exist (clocks going
/// forward) takes the first valid instant after the gap, i.e. the moment of
/// the transition.
pub fn local_to_utc(naive: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    // Real gaps are at most a day (Samoa, 2011); stepping by minutes finds the
    // end of any of them, and the loop only runs for times inside one.
    const MAX_GAP_MINUTES: i64 = 25 * 60;
    if let Some(dt) = tz.from_local_datetime(&naive).earliest() {
        return Some(dt.with_timezone(&Utc));
    }
    (1..=MAX_GAP_MINUTES).find_map(|m| {
        let later = naive.checked_add_signed(chrono::Duration::minutes(m))?;
        tz.from_local_datetime(&later)
            .earliest()
            .map(|dt| dt.with_timezone(&Utc))
    })
}

// ---------------------------------------------------------------------------
// Article bodies and HTML-to-text
// ---------------------------------------------------------------------------

/// An `<article>` shorter than this is probably a teaser card, so the
/// paragraph heuristic is used instead.
const MIN_ARTICLE_CHARS: usize = 140;

/// Elements that never hold article text.
fn is_junk(tag: &str) -> bool {
    matches!(
        tag,
        "script"
            | "style"
            | "noscript"
            | "template"
            | "nav"
            | "aside"
            | "footer"
            | "form"
            | "iframe"
            | "button"
            | "select"
            | "svg"
            | "head"
    )
}

/// Elements that start a new paragraph in extracted text.
fn is_block(tag: &str) -> bool {
    matches!(
        tag,
        "p" | "div"
            | "section"
            | "article"
            | "main"
            | "header"
            | "blockquote"
            | "pre"
            | "ul"
            | "ol"
            | "li"
            | "dl"
            | "dt"
            | "dd"
            | "table"
            | "tr"
            | "td"
            | "th"
            | "figure"
            | "figcaption"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "hr"
            | "br"
            | "address"
    )
}

/// The article text of a page: the elements matching `selector` if given and
/// non-empty; else the largest `<article>`; else the element whose direct
/// `<p>` children (and direct text, for `<br>`-separated Korean news bodies)
/// hold the most non-link text. Script, style, nav, aside, footer and the
/// like are dropped; paragraphs are joined by a blank line.
pub fn extract_body(html: &str, selector: Option<&Selector>) -> Option<String> {
    let doc = Html::parse_document(html);
    if let Some(sel) = selector {
        let parts: Vec<String> = doc
            .select(sel)
            .map(|el| render(el, Layout::Paragraphs))
            .filter(|t| !t.is_empty())
            .collect();
        if !parts.is_empty() {
            return Some(parts.join("\n\n"));
        }
        tracing::debug!("body selector matched no text; using the heuristic");
    }
    let best = largest_article(&doc).or_else(|| densest_block(&doc))?;
    Some(render(best, Layout::Paragraphs)).filter(|t| !t.is_empty())
}

fn in_junk(el: ElementRef<'_>) -> bool {
    el.ancestors()
        .filter_map(ElementRef::wrap)
        .any(|a| is_junk(a.value().name()))
}

fn largest_article(doc: &Html) -> Option<ElementRef<'_>> {
    let article = Selector::parse("article").ok()?;
    doc.select(&article)
        .filter(|a| !in_junk(*a))
        .map(|a| (visible_chars(a), a))
        .filter(|(chars, _)| *chars >= MIN_ARTICLE_CHARS)
        .max_by_key(|(chars, _)| *chars)
        .map(|(_, a)| a)
}

fn densest_block(doc: &Html) -> Option<ElementRef<'_>> {
    let mut best: Option<(usize, ElementRef<'_>)> = None;
    walk(doc.root_element(), |step| match step {
        Step::Open(el) if is_junk(el.value().name()) => false,
        Step::Open(el) => {
            let score = paragraph_score(el);
            if score > 0 && best.is_none_or(|(top, _)| score > top) {
                best = Some((score, el));
            }
            true
        }
        _ => true,
    });
    best.map(|(_, el)| el)
}

/// Characters of text held directly by `el`: its `<p>` children minus their
/// link text, plus its own text nodes.
fn paragraph_score(el: ElementRef<'_>) -> usize {
    el.children()
        .map(|child| match child.value() {
            Node::Text(t) => t.trim().chars().count(),
            Node::Element(e) if e.name() == "p" => ElementRef::wrap(child)
                .map(|p| visible_chars(p).saturating_sub(link_chars(p)))
                .unwrap_or(0),
            _ => 0,
        })
        .sum()
}

fn visible_chars(el: ElementRef<'_>) -> usize {
    render(el, Layout::Line).chars().count()
}

fn link_chars(el: ElementRef<'_>) -> usize {
    let Ok(anchor) = Selector::parse("a") else {
        return 0;
    };
    el.select(&anchor).map(visible_chars).sum()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// One line, whitespace collapsed (titles, summaries).
    Line,
    /// Paragraphs separated by a blank line (bodies).
    Paragraphs,
}

/// Plain text of an HTML fragment.
fn html_to_text(html: &str, layout: Layout) -> String {
    let fragment = Html::parse_fragment(html);
    render(fragment.root_element(), layout)
}

/// Plain text of `el`, dropping junk elements and breaking paragraphs at
/// block elements.
fn render(el: ElementRef<'_>, layout: Layout) -> String {
    let mut paragraphs: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut flush = |current: &mut String| {
        let p = collapse_whitespace(current);
        if !p.is_empty() {
            paragraphs.push(p);
        }
        current.clear();
    };
    walk(el, |step| match step {
        Step::Text(t) => {
            current.push_str(t);
            true
        }
        Step::Open(e) if is_junk(e.value().name()) => false,
        Step::Open(e) | Step::Close(e) => {
            if is_block(e.value().name()) {
                flush(&mut current);
            }
            true
        }
    });
    flush(&mut current);
    let separator = if layout == Layout::Line { " " } else { "\n\n" };
    paragraphs.join(separator)
}

/// One event of a document-order walk.
enum Step<'a> {
    Text(&'a str),
    Open(ElementRef<'a>),
    Close(ElementRef<'a>),
}

/// Walks the subtree of `root` in document order without recursion (pages
/// can nest thousands of levels deep). `visit` returns whether to descend
/// into an element just opened; a skipped element gets no `Close`.
fn walk<'a>(root: ElementRef<'a>, mut visit: impl FnMut(Step<'a>) -> bool) {
    let root_id = root.id();
    let mut node = *root;
    'enter: loop {
        let descend = match node.value() {
            Node::Text(t) => {
                visit(Step::Text(t));
                false
            }
            Node::Element(_) => ElementRef::wrap(node).is_some_and(|e| visit(Step::Open(e))),
            _ => false,
        };
        if descend {
            if let Some(child) = node.first_child() {
                node = child;
                continue 'enter;
            }
            if let Some(e) = ElementRef::wrap(node) {
                visit(Step::Close(e));
            }
        }
        // `node` is done: move to its next sibling, closing finished parents.
        loop {
            if node.id() == root_id {
                return;
            }
            if let Some(sibling) = node.next_sibling() {
                node = sibling;
                continue 'enter;
            }
            let Some(parent) = node.parent() else { return };
            node = parent;
            if let Some(e) = ElementRef::wrap(node) {
                visit(Step::Close(e));
            }
        }
    }
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSS: &[u8] = include_bytes!("../../tests/fixtures/news/crawl/rss2_yonhap.xml");
    const ATOM: &[u8] = include_bytes!("../../tests/fixtures/news/crawl/atom_press.xml");
    const JSON_FEED: &[u8] = include_bytes!("../../tests/fixtures/news/crawl/jsonfeed.json");
    const MALFORMED: &[u8] = include_bytes!("../../tests/fixtures/news/crawl/malformed.xml");
    const NAVER_LIST: &[u8] =
        include_bytes!("../../tests/fixtures/news/crawl/naver_finance_list.euckr.html");
    const ARTICLE: &[u8] = include_bytes!("../../tests/fixtures/news/crawl/article.euckr.html");

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test URL")
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test time")
            .with_timezone(&Utc)
    }

    #[test]
    fn rss2_yonhap_shaped_feed() {
        let entries =
            parse_feed(RSS, &url("https://www.yna.co.kr/rss/economy.xml")).expect("parses");
        assert_eq!(
            entries.len(),
            3,
            "the item without any link is skipped: {entries:#?}"
        );

        let first = &entries[0];
        assert_eq!(
            first.title,
            "코스피, 외국인 순매수에 2,610선 회복…반도체 강세"
        );
        assert_eq!(
            first.url,
            "https://www.yna.co.kr/view/AKR20261124098700002?input=1195m"
        );
        assert_eq!(first.published, Some(utc("2026-11-24T06:40:12Z")));
        assert_eq!(first.language.as_deref(), Some("ko"));
        let summary = first.summary.as_deref().expect("summary");
        assert!(
            summary.starts_with("(서울=연합뉴스) 홍길동 기자 = 코스피가 외국인의 순매수에 힘입어"),
            "{summary}"
        );
        assert!(summary.contains("S&P 500 선물도"), "{summary}");
        assert!(!summary.contains('<'), "HTML stripped: {summary}");
        assert_eq!(first.body, None);

        let second = &entries[1];
        assert_eq!(
            second.url, "https://www.yna.co.kr/view/AKR20261124112300008",
            "relative link resolved"
        );
        assert_eq!(
            second.summary.as_deref(),
            Some("원/달러 환율이 하락 마감했다. 서울 외환시장에서 환율은 전 거래일보다 7.4원 내린 1,383.1원에 거래를 마쳤다.")
        );
        let body = second.body.as_deref().expect("content:encoded body");
        assert_eq!(body.split("\n\n").count(), 3, "{body}");
        assert!(!body.contains("track("), "scripts dropped: {body}");

        let third = &entries[2];
        assert_eq!(
            third.url, "https://www.yna.co.kr/view/AKR20261124080151002",
            "permalink guid used"
        );
        assert_eq!(third.title, "[속보] 한은, 기준금리 연 3.00%로 동결");
    }

    #[test]
    fn atom_feed() {
        let entries =
            parse_feed(ATOM, &url("https://markets.example.com/feeds/atom.xml")).expect("parses");
        assert_eq!(entries.len(), 2);
        let first = &entries[0];
        assert_eq!(first.title, "Asian shares rise & yen slips");
        assert_eq!(
            first.url,
            "https://markets.example.com/2026/11/24/asian-shares-rise"
        );
        assert_eq!(first.published, Some(utc("2026-11-24T07:45:00Z")));
        assert_eq!(
            first.summary.as_deref(),
            Some("Asian shares rose on Tuesday as investors bet on rate cuts.")
        );
        assert_eq!(
            first.body.as_deref(),
            Some("Asian shares rose on Tuesday as investors bet on rate cuts.\n\nJapan's Nikkei gained 1.1% while the yen slipped against the dollar.")
        );
        let second = &entries[1];
        assert_eq!(
            second.published,
            Some(utc("2026-11-24T06:30:00Z")),
            "falls back to updated"
        );
        assert_eq!(second.title, "삼성전자, 배당 확대 발표");
    }

    #[test]
    fn json_feed() {
        let entries =
            parse_feed(JSON_FEED, &url("https://brief.example.com/feed.json")).expect("parses");
        assert_eq!(entries.len(), 2, "the item without url is skipped");
        assert_eq!(
            entries[0].url,
            "https://brief.example.com/2026/11/24/kospi-rebound"
        );
        assert_eq!(entries[0].published, Some(utc("2026-11-24T06:32:00Z")));
        assert_eq!(
            entries[0].summary.as_deref(),
            Some("Foreign buying lifted Korean chipmakers.")
        );
        assert_eq!(
            entries[0].body.as_deref(),
            Some("Foreign investors bought chip stocks for a third day.\n\nThe KOSPI closed up 1.2%.")
        );
        assert_eq!(
            entries[1].url,
            "https://brief.example.com/2026/11/24/won-firms"
        );
    }

    #[test]
    fn malformed_xml_is_an_error_with_position() {
        let err =
            parse_feed(MALFORMED, &url("https://broken.example.com/rss")).expect_err("malformed");
        match &err {
            ParseError::MalformedXml { line, column, what } => {
                assert_eq!((*line, *column), (11, 19), "{err}");
                assert!(what.contains("</titel> does not close <title>"), "{err}");
            }
            other => panic!("expected MalformedXml, got {other:?}"),
        }
        assert!(
            err.to_string()
                .starts_with("malformed XML at line 11, column 19:"),
            "{err}"
        );
    }

    #[test]
    fn truncated_and_trailing_garbage_feeds_are_errors() {
        let base = url("https://x.example/");
        let truncated = b"<rss version=\"2.0\"><channel><item><title>a</title><link>https://x.example/a</link></item>";
        let err = parse_feed(truncated, &base).expect_err("truncated");
        assert!(
            err.to_string().contains("document ends inside <channel>"),
            "{err}"
        );
        let trailing = b"<rss version=\"2.0\"><channel></channel></rss><rss/>";
        assert!(matches!(
            parse_feed(trailing, &base),
            Err(ParseError::MalformedXml { .. })
        ));
        let html = b"<html><body>not a feed</body></html>";
        assert!(matches!(parse_feed(html, &base), Err(ParseError::Feed(_))));
        let json = b"{\"version\": \"https://jsonfeed.org/version/1.1\", \"items\": [";
        assert!(matches!(parse_feed(json, &base), Err(ParseError::Feed(_))));
    }

    #[test]
    fn feed_whose_entries_all_lack_links_is_an_error() {
        let xml = b"<rss version=\"2.0\"><channel><title>t</title><item><title>a</title></item></channel></rss>";
        let err = parse_feed(xml, &url("https://x.example/")).expect_err("no links");
        assert!(
            matches!(err, ParseError::NoUsableEntries { total: 1 }),
            "{err}"
        );
        let empty = b"<rss version=\"2.0\"><channel><title>t</title></channel></rss>";
        assert_eq!(
            parse_feed(empty, &url("https://x.example/")).expect("empty is fine"),
            vec![]
        );
    }

    #[test]
    fn euc_kr_feed_bytes_and_already_decoded_text_both_work() {
        let xml = "<?xml version=\"1.0\" encoding=\"EUC-KR\"?><rss version=\"2.0\"><channel><title>증권</title>\
                   <item><title>코스닥 상승</title><link>https://x.example/1</link></item></channel></rss>";
        let (euc_kr, _, _) = encoding_rs::EUC_KR.encode(xml);
        for input in [&euc_kr[..], xml.as_bytes()] {
            let entries = parse_feed(input, &url("https://x.example/rss")).expect("parses");
            assert_eq!(entries[0].title, "코스닥 상승");
        }
    }

    fn naver_selectors() -> ListSelectors {
        ListSelectors {
            item: "dl > .articleSubject".into(),
            title: "a".into(),
            link: "a".into(),
            summary: Some("dd.articleSummary".into()),
            published: Some("span.wdate".into()),
            published_format: Some("%Y.%m.%d %H:%M".into()),
            timezone: chrono_tz::Asia::Seoul,
            exclude: Some("span.press, span.bar".into()),
        }
    }

    #[test]
    fn naver_finance_list_page() {
        let page = charset::decode(NAVER_LIST, Some("text/html"));
        assert_eq!(page.encoding, "EUC-KR");
        let base = url("https://finance.naver.com/news/news_list.naver?mode=LSS2D&section_id=101&section_id2=258");
        let compiled = naver_selectors().compile().expect("valid selectors");
        let entries = parse_list(&page.text, &base, &compiled).expect("parses");
        assert_eq!(entries.len(), 5, "{entries:#?}");

        let first = &entries[0];
        assert_eq!(
            first.title,
            "코스피, 외국인 매수에 2,610선 회복…반도체 강세"
        );
        assert_eq!(
            first.url,
            "https://finance.naver.com/news/news_read.naver?article_id=0005412345&office_id=009&mode=LSS2D&type=0&section_id=101&section_id2=258&section_id3=&date=20261124&page=1"
        );
        assert_eq!(
            first.summary.as_deref(),
            Some("외국인이 사흘 연속 순매수에 나서면서 코스피가 2,610선을 회복했다. 24일 한국거래소에 따르면 코스피는 전 거래일보다 31.52포인트(1.22%) 오른 …")
        );
        assert_eq!(
            first.published,
            Some(utc("2026-11-24T06:32:00Z")),
            "15:32 KST"
        );
        assert_eq!(first.language.as_deref(), Some("ko"));

        // `&amp;` in the href and the thumbnail-less <dt> form.
        assert!(
            entries[1]
                .url
                .contains("article_id=0004987654&office_id=015"),
            "{}",
            entries[1].url
        );
        assert_eq!(entries[1].summary.as_deref(), Some("서울 외환시장에서 원/달러 환율은 전 거래일보다 7.4원 내린 1,383.1원에 주간 거래를 마쳤다."));
        assert_eq!(entries[3].title, "삼성전자, 5거래일 만에 '7만전자' 복귀");
        // "24:10" is not a time: the item stays, without a date.
        assert_eq!(entries[4].title, "금융위, 공매도 전산시스템 점검");
        assert_eq!(entries[4].published, None);
    }

    #[test]
    fn list_selectors_deserialize_and_reject_unknown_fields() {
        let json = r#"{"item":"dl > .articleSubject","title":"a","link":"a","summary":"dd.articleSummary",
            "published":"span.wdate","published_format":"%Y.%m.%d %H:%M","timezone":"Asia/Seoul",
            "exclude":"span.press, span.bar"}"#;
        let parsed: ListSelectors = serde_json::from_str(json).expect("deserializes");
        assert_eq!(parsed, naver_selectors());
        let unknown =
            r#"{"item":"li","title":"a","link":"a","timezone":"Asia/Seoul","colour":"red"}"#;
        assert!(serde_json::from_str::<ListSelectors>(unknown).is_err());
        let bad_zone = r#"{"item":"li","title":"a","link":"a","timezone":"Mars/Olympus"}"#;
        let err = serde_json::from_str::<ListSelectors>(bad_zone).expect_err("bad zone");
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");
    }

    #[test]
    fn compile_names_the_bad_selector() {
        let mut sel = naver_selectors();
        sel.summary = Some("dd..articleSummary".into());
        let err = sel.compile().expect_err("bad selector");
        assert!(
            err.to_string()
                .starts_with("summary selector `dd..articleSummary` invalid: "),
            "{err}"
        );
        let mut sel = naver_selectors();
        sel.published_format = Some("%Y.%m.%Q".into());
        assert!(matches!(
            sel.compile(),
            Err(ParseError::InvalidDateFormat { .. })
        ));
    }

    #[test]
    fn list_errors_when_the_layout_changed() {
        let compiled = naver_selectors().compile().expect("valid");
        let base = url("https://finance.naver.com/news/");
        let err = parse_list(
            "<html><body><ul><li>x</li></ul></body></html>",
            &base,
            &compiled,
        )
        .expect_err("no items");
        assert_eq!(err.to_string(), "no items matched `dl > .articleSubject`");
        let no_links = "<dl><dd class=articleSubject>제목만</dd></dl>";
        let err = parse_list(no_links, &base, &compiled).expect_err("no links");
        assert!(
            matches!(err, ParseError::NoUsableItems { matched: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn container_items_and_datetime_attributes() {
        let html = r#"<ul>
            <li class="n"><a class="t" href="https://news.example.com/a">First</a><p>One</p><time datetime="2026-11-24T09:00:00+09:00">오늘</time></li>
            <li class="ad">광고 <p>Not news</p></li>
            <li class="n"><a class="t" href="javascript:void(0)">No link</a></li>
            <li class="n"><a class="t" href="/b">Second</a></li>
        </ul>"#;
        let sel = ListSelectors {
            item: "li.n".into(),
            title: "a.t".into(),
            link: "a.t".into(),
            summary: Some("p".into()),
            published: Some("time".into()),
            published_format: None,
            timezone: chrono_tz::UTC,
            exclude: None,
        };
        let entries = parse_list(
            html,
            &url("https://news.example.com/"),
            &sel.compile().expect("valid"),
        )
        .expect("parses");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].published, Some(utc("2026-11-24T00:00:00Z")));
        assert_eq!(entries[0].summary.as_deref(), Some("One"));
        assert_eq!(entries[1].url, "https://news.example.com/b");
        assert_eq!(entries[1].summary, None, "not borrowed from its neighbours");
    }

    #[test]
    fn local_times_around_dst_transitions() {
        let ny = chrono_tz::America::New_York;
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("test time");
        // 01:30 happens twice on 2026-11-01: EDT (05:30Z) is the earlier.
        assert_eq!(
            local_to_utc(at("2026-11-01 01:30"), ny),
            Some(utc("2026-11-01T05:30:00Z"))
        );
        // 02:30 never happens on 2026-03-08: the gap ends at 03:00 EDT (07:00Z).
        assert_eq!(
            local_to_utc(at("2026-03-08 02:30"), ny),
            Some(utc("2026-03-08T07:00:00Z"))
        );
        assert_eq!(
            parse_local_time("2026.11.24", Some("%Y.%m.%d"), chrono_tz::Asia::Seoul),
            Some(utc("2026-11-23T15:00:00Z")),
            "date-only formats mean local midnight"
        );
        assert_eq!(
            parse_local_time("Tue, 24 Nov 2026 15:40:12 +0900", None, chrono_tz::UTC),
            Some(utc("2026-11-24T06:40:12Z"))
        );
    }

    #[test]
    fn euc_kr_article_body_by_heuristic_and_by_selector() {
        let page = charset::decode(ARTICLE, Some("text/html"));
        assert_eq!(
            (page.encoding, page.from),
            ("EUC-KR", charset::CharsetSource::Meta)
        );
        let body = extract_body(&page.text, None).expect("body found");
        let paragraphs: Vec<&str> = body.split("\n\n").collect();
        assert_eq!(paragraphs.len(), 5, "{body}");
        assert_eq!(
            paragraphs[0],
            "외국인이 사흘 연속 순매수에 나서면서 코스피가 2,610선을 회복했다."
        );
        assert!(paragraphs[2].starts_with("시가총액 상위 종목 중에서는 삼성전자가 2.4% 올랐고"));
        for junk in ["loadAd", "관련 기사", "무단전재", "부동산", "광고"] {
            assert!(!body.contains(junk), "{junk} leaked into {body}");
        }
        let selector = compile_selector("body", "#articleBody").expect("valid");
        assert_eq!(extract_body(&page.text, Some(&selector)), Some(body));
    }

    #[test]
    fn body_prefers_article_then_paragraph_density() {
        let with_article = format!(
            "<body><nav><p>{}</p></nav><article><h1>Title</h1><p>{}</p><p>Second paragraph.</p></article></body>",
            "menu ".repeat(100),
            "Long enough text. ".repeat(10)
        );
        let body = extract_body(&with_article, None).expect("article");
        assert!(body.starts_with("Title\n\nLong enough text."), "{body}");
        assert!(body.ends_with("Second paragraph."), "{body}");

        let paragraphs =
            "<body><div id=side><p><a href=/1>Related one related one related one</a></p></div>\
            <div id=story><p>The central bank held rates.</p><p>Markets rose.</p></div></body>";
        assert_eq!(
            extract_body(paragraphs, None).as_deref(),
            Some("The central bank held rates.\n\nMarkets rose.")
        );
        let missing = compile_selector("body", "#nope").expect("valid");
        assert_eq!(
            extract_body(paragraphs, Some(&missing)).as_deref(),
            Some("The central bank held rates.\n\nMarkets rose."),
            "a selector that matches nothing falls back to the heuristic"
        );
        assert_eq!(
            extract_body("<html><body><script>x()</script></body></html>", None),
            None
        );
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let html = format!(
            "{}<p>deep</p>{}",
            "<div>".repeat(2500),
            "</div>".repeat(2500)
        );
        assert_eq!(extract_body(&html, None).as_deref(), Some("deep"));
    }
}
