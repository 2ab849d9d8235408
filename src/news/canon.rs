//! Canonical article URLs: one spelling per article, so the same story seen
//! through a feed, a list page and a share link is stored once.
//!
//! Rules, in order (each is cheap and safe; anything clever that could merge
//! two different articles is left out, content hashing in `dedup` catches
//! the copies that URL rules cannot):
//!
//! 1. Resolve `raw` against `base` when given (list pages hold relative
//!    links), else parse it as an absolute URL.
//! 2. Only `http` and `https` are articles; `javascript:`, `mailto:`,
//!    `data:`… are errors, not silently dropped, so callers can count them.
//! 3. The `url` crate already lowercases the scheme and host, punycodes
//!    international hosts, drops the scheme's default port (`:80`, `:443`),
//!    resolves `.`/`..` segments and gives an empty path the root `/`.
//! 4. User name and password are dropped: an article never needs them and a
//!    stored URL must not carry credentials.
//! 5. The fragment is dropped: it points inside a page, not to another page.
//! 6. Tracking parameters ([`TRACKING_PARAMS`], [`TRACKING_PREFIXES`]) are
//!    dropped; every other parameter is kept byte for byte and in its
//!    order. Korean portals put the article id in the query
//!    (`?article_id=0005&office_id=015`), and some of them send EUC-KR
//!    percent-escapes that a decode/re-encode round trip would corrupt, so
//!    the query is filtered as raw text, never re-serialized. Empty pieces
//!    (`a=1&&b=2`) go, and a query left empty loses its `?`.
//!
//! Deliberately *not* done:
//! * the path is kept as is: `/news/` and `/news` or `/a/index.html` and
//!   `/a/` are different resources to some servers, and guessing wrong
//!   merges different articles;
//! * `www.` is not stripped: `www.example.com` and `example.com` (or
//!   `m.example.com`) can be different sites; copies across them share a
//!   content hash anyway;
//! * parameters are not sorted: the order is what the site links to, and
//!   the same site always writes it the same way;
//! * `http` is not upgraded to `https`: not every news site serves both.

use thiserror::Error;
use url::Url;

/// Query parameter names dropped outright (compared ASCII case-insensitively):
/// ad-click ids and newsletter/social trackers that never select content.
pub const TRACKING_PARAMS: &[&str] = &[
    "fbclid",      // Facebook
    "gclid",       // Google Ads
    "dclid",       // Google Display
    "gbraid",      // Google Ads (iOS)
    "wbraid",      // Google Ads (web-to-app)
    "msclkid",     // Microsoft Ads
    "yclid",       // Yandex
    "twclid",      // X/Twitter
    "igshid",      // Instagram share
    "igsh",        // Instagram share (newer)
    "mc_cid",      // Mailchimp campaign
    "mc_eid",      // Mailchimp subscriber
    "ref_src",     // Twitter embeds
    "ref_url",     // Twitter embeds
    "spm",         // Alibaba/Aliyun
    "_ga",         // Google Analytics cross-domain
    "_gl",         // Google Analytics cross-domain
    "mkt_tok",     // Marketo
    "oly_anon_id", // Omeda
    "oly_enc_id",  // Omeda
    "vero_id",     // Vero
    "__twitter_impression",
];

/// Query parameter name prefixes dropped (ASCII case-insensitive): the
/// whole `utm_*` family (`utm_source`, `utm_medium`, `utm_campaign`, …).
pub const TRACKING_PREFIXES: &[&str] = &["utm_"];

/// Why a link is not a canonical article URL.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CanonError {
    /// Not a URL at all, or relative with no base to resolve it against.
    #[error("unparsable URL {url:?}: {source}")]
    Unparsable {
        url: String,
        #[source]
        source: url::ParseError,
    },
    /// A URL, but not one that can name a web article.
    #[error("URL {url:?} has scheme {scheme:?}; only http and https articles are kept")]
    UnsupportedScheme { url: String, scheme: String },
}

/// The canonical form of an article link; see the module docs for the rules.
pub fn canonical_url(raw: &str, base: Option<&Url>) -> Result<String, CanonError> {
    let mut url = parse(raw, base)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(CanonError::UnsupportedScheme {
            url: raw.to_owned(),
            scheme: url.scheme().to_owned(),
        });
    }
    // Both only fail for URLs without a host, which http(s) URLs always have.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    let query = url.query().map(strip_tracking);
    url.set_query(query.as_deref().filter(|q| !q.is_empty()));
    Ok(url.into())
}

fn parse(raw: &str, base: Option<&Url>) -> Result<Url, CanonError> {
    let parsed = match base {
        Some(base) => base.join(raw),
        None => Url::parse(raw),
    };
    parsed.map_err(|source| CanonError::Unparsable {
        url: raw.to_owned(),
        source,
    })
}

/// The raw query without tracking parameters and empty pieces, other pieces
/// untouched and in order.
fn strip_tracking(query: &str) -> String {
    let kept: Vec<&str> = query
        .split('&')
        .filter(|piece| !piece.is_empty() && !is_tracking(param_name(piece)))
        .collect();
    kept.join("&")
}

fn param_name(piece: &str) -> &str {
    piece.split_once('=').map_or(piece, |(name, _)| name)
}

/// Tracking names are plain ASCII, so a percent-escaped name (`utm%5Fsource`)
/// is not worth decoding: no real tracker writes it that way.
fn is_tracking(name: &str) -> bool {
    TRACKING_PARAMS.iter().any(|t| name.eq_ignore_ascii_case(t))
        || TRACKING_PREFIXES.iter().any(|p| {
            name.len() >= p.len()
                && name.is_char_boundary(p.len())
                && name[..p.len()].eq_ignore_ascii_case(p)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(raw: &str) -> String {
        match canonical_url(raw, None) {
            Ok(c) => c,
            Err(e) => panic!("{raw}: {e}"),
        }
    }

    fn base(raw: &str) -> Url {
        Url::parse(raw).expect("test base parses")
    }

    #[test]
    fn lowercases_host_and_scheme_and_drops_default_port() {
        assert_eq!(
            canon("HTTPS://News.Example.COM:443/A/B"),
            "https://news.example.com/A/B"
        );
        assert_eq!(canon("http://example.com:80/x"), "http://example.com/x");
        assert_eq!(
            canon("http://example.com:8080/x"),
            "http://example.com:8080/x"
        );
    }

    #[test]
    fn drops_fragment_and_credentials() {
        assert_eq!(
            canon("https://example.com/a#comments"),
            "https://example.com/a"
        );
        assert_eq!(
            canon("https://user:pw@example.com/a"),
            "https://example.com/a"
        );
    }

    #[test]
    fn drops_tracking_params_keeps_others_in_order() {
        assert_eq!(
            canon("https://n.news.example.com/main/read?utm_source=tw&article_id=0005&fbclid=x&office_id=015&UTM_Medium=s&gclid=1"),
            "https://n.news.example.com/main/read?article_id=0005&office_id=015"
        );
        assert_eq!(
            canon("https://example.com/r?office_id=015&article_id=0005"),
            "https://example.com/r?office_id=015&article_id=0005",
            "order is the site's and is kept"
        );
        assert_eq!(
            canon("https://example.com/r?spm=a.b&id=7&mc_cid=1&mc_eid=2"),
            "https://example.com/r?id=7"
        );
    }

    #[test]
    fn keeps_param_values_byte_for_byte() {
        // EUC-KR escapes and `+` would change under a decode/encode round trip.
        assert_eq!(
            canon("https://example.com/s?q=%C7%D1+a&x"),
            "https://example.com/s?q=%C7%D1+a&x"
        );
        assert_eq!(
            canon("https://example.com/s?utm=1&ref=home"),
            "https://example.com/s?utm=1&ref=home"
        );
    }

    #[test]
    fn removes_empty_query_and_empty_pieces() {
        assert_eq!(canon("https://example.com/a?"), "https://example.com/a");
        assert_eq!(
            canon("https://example.com/a?utm_source=x&fbclid=y"),
            "https://example.com/a"
        );
        assert_eq!(
            canon("https://example.com/a?&id=1&&b=2&"),
            "https://example.com/a?id=1&b=2"
        );
    }

    #[test]
    fn keeps_paths_and_www_as_they_are() {
        assert_eq!(canon("https://example.com"), "https://example.com/");
        assert_eq!(
            canon("https://example.com/news/"),
            "https://example.com/news/"
        );
        assert_eq!(
            canon("https://example.com/news/index.html"),
            "https://example.com/news/index.html"
        );
        assert_eq!(
            canon("https://www.example.com/a"),
            "https://www.example.com/a"
        );
        assert_eq!(
            canon("https://example.com/a/./b/../c"),
            "https://example.com/a/c"
        );
    }

    #[test]
    fn resolves_relative_links_against_base() {
        let b = base("https://finance.example.co.kr/news/list.naver?page=2");
        assert_eq!(
            canonical_url("read.naver?article_id=1&utm_campaign=x#top", Some(&b)),
            Ok("https://finance.example.co.kr/news/read.naver?article_id=1".to_owned())
        );
        assert_eq!(
            canonical_url("/a/b", Some(&b)),
            Ok("https://finance.example.co.kr/a/b".to_owned())
        );
        assert_eq!(
            canonical_url("//other.example.com/x", Some(&b)),
            Ok("https://other.example.com/x".to_owned())
        );
        assert_eq!(
            canonical_url("http://abs.example.com/y", Some(&b)),
            Ok("http://abs.example.com/y".to_owned())
        );
    }

    #[test]
    fn international_hosts_are_punycoded() {
        assert_eq!(
            canon("https://한국.example/기사?id=1"),
            "https://xn--3e0b707e.example/%EA%B8%B0%EC%82%AC?id=1"
        );
    }

    #[test]
    fn rejects_non_http_schemes() {
        for raw in [
            "javascript:void(0)",
            "mailto:desk@example.com",
            "ftp://example.com/a",
            "data:text/plain,x",
        ] {
            match canonical_url(raw, None) {
                Err(CanonError::UnsupportedScheme { url, .. }) => assert_eq!(url, raw),
                other => panic!("{raw}: {other:?}"),
            }
        }
        let b = base("https://example.com/");
        assert!(matches!(
            canonical_url("javascript:go()", Some(&b)),
            Err(CanonError::UnsupportedScheme { .. })
        ));
    }

    #[test]
    fn rejects_unparsable_and_relative_without_base() {
        for raw in [
            "",
            "/news/1",
            "read?id=1",
            "http://",
            "https://exa mple.com/",
        ] {
            assert!(
                matches!(canonical_url(raw, None), Err(CanonError::Unparsable { .. })),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn error_message_names_url_and_reason() {
        let e = canonical_url("mailto:a@b.c", None).expect_err("mailto is rejected");
        let msg = e.to_string();
        assert!(
            msg.contains("mailto:a@b.c") && msg.contains("mailto") && msg.contains("http"),
            "{msg}"
        );
        let e = canonical_url("/x", None).expect_err("relative without base");
        assert!(e.to_string().contains("\"/x\""), "{e}");
    }

    #[test]
    fn canonical_form_is_a_fixed_point() {
        for raw in [
            "HTTPS://www.Example.com:443/a/../b?utm_source=x&id=%C7%D1&&z#f",
            "http://example.com",
            "https://example.com/s?q=a+b",
        ] {
            let once = canon(raw);
            assert_eq!(canon(&once), once);
        }
    }
}
