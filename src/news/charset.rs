//! Turning fetched bytes into text in the right character set.
//!
//! Korean financial sites still serve EUC-KR / CP949 pages and feeds, often
//! with a missing or wrong label, so "assume UTF-8" garbles exactly the
//! sources we care about. The encoding is chosen in this order, the first
//! usable answer winning:
//!
//! 1. a byte-order mark;
//! 2. the `charset` parameter of the HTTP `Content-Type` header;
//! 3. `<meta charset>` / `<meta http-equiv content="…charset=…">` or the
//!    `<?xml … encoding="…"?>` declaration, looked for in the first 1,024
//!    bytes (the same window browsers pre-scan);
//! 4. statistical detection with `chardetng` (optionally hinted by the TLD).
//!
//! A label that names no encoding, or whose decoding of these bytes produces
//! many malformed sequences (the classic "UTF-8" header on an EUC-KR page),
//! falls through to the next step instead of producing mojibake.
//!
//! encoding_rs's "EUC-KR" decoder is the WHATWG one, i.e. windows-949 (UHC),
//! a superset of EUC-KR, so CP949-only syllables decode too.

use encoding_rs::Encoding;

/// How many leading bytes are searched for `<meta>` / `<?xml?>` declarations.
const PRESCAN_BYTES: usize = 1024;

/// Detection cost grows with input; a megabyte is far more than chardetng
/// needs to be confident.
const DETECT_BYTES: usize = 1 << 20;

/// Text decoded from bytes, with the encoding used and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    /// The WHATWG name of the encoding, e.g. `"EUC-KR"`, `"UTF-8"`.
    pub encoding: &'static str,
    pub from: CharsetSource,
}

/// Which step of the order chose the encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharsetSource {
    /// A UTF-8 / UTF-16 byte-order mark.
    Bom,
    /// The `charset` parameter of the `Content-Type` header.
    Header,
    /// A `<meta>` tag in the first 1,024 bytes.
    Meta,
    /// The `<?xml … encoding="…"?>` declaration.
    Xml,
    /// chardetng's statistical guess.
    Detected,
}

/// Decodes `bytes`, choosing the encoding as described in the module docs.
pub fn decode(bytes: &[u8], content_type: Option<&str>) -> Decoded {
    decode_with_tld(bytes, content_type, None)
}

/// Like [`decode`], with the host's top-level domain (e.g. `"kr"`) as a hint
/// for detection; it only matters when nothing in the document names a charset.
pub fn decode_with_tld(bytes: &[u8], content_type: Option<&str>, tld: Option<&str>) -> Decoded {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return decoded(text.into_owned(), encoding, CharsetSource::Bom);
    }
    let declared = [
        content_type
            .and_then(header_charset)
            .map(|e| (e, CharsetSource::Header)),
        declared_charset(bytes),
    ];
    for (encoding, source) in declared.into_iter().flatten() {
        if let Some(text) = decode_if_plausible(bytes, encoding) {
            return decoded(text, encoding, source);
        }
        tracing::debug!(
            encoding = encoding.name(),
            ?source,
            "declared charset does not fit the bytes; trying the next source"
        );
    }
    let encoding = detect(bytes, tld);
    let (text, _) = encoding.decode_without_bom_handling(bytes);
    decoded(text.into_owned(), encoding, CharsetSource::Detected)
}

fn decoded(text: String, encoding: &'static Encoding, from: CharsetSource) -> Decoded {
    Decoded {
        text,
        encoding: encoding.name(),
        from,
    }
}

/// Looks a label up, treating the "replacement" encoding (labels such as
/// `iso-2022-kr`, which decode everything to U+FFFD) as unknown: detection
/// gives a more useful answer than a page of replacement characters.
fn encoding_for_label(label: &str) -> Option<&'static Encoding> {
    Encoding::for_label_no_replacement(label.trim().as_bytes())
}

/// The `charset` parameter of a `Content-Type` value, if it names an encoding.
fn header_charset(content_type: &str) -> Option<&'static Encoding> {
    let label = content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(|c| c == '"' || c == '\''))
    })?;
    encoding_for_label(label)
}

/// Decodes with `encoding` unless the result says the label is wrong.
///
/// Legacy single-byte encodings accept nearly any byte, so this only catches
/// multi-byte mismatches, which are the ones that matter here (UTF-8 vs
/// EUC-KR). A few stray bad bytes in a long page are tolerated so that one
/// corrupt character does not throw the whole page to the detector.
fn decode_if_plausible(bytes: &[u8], encoding: &'static Encoding) -> Option<String> {
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    if had_errors {
        let malformed = text.chars().filter(|&c| c == '\u{FFFD}').count();
        if malformed > (bytes.len() / 1000).max(3) {
            return None;
        }
    }
    Some(text.into_owned())
}

/// The charset declared inside the document: the XML declaration if the
/// document starts with one, else the first `<meta>` that names a charset.
fn declared_charset(bytes: &[u8]) -> Option<(&'static Encoding, CharsetSource)> {
    let head = &bytes[..bytes.len().min(PRESCAN_BYTES)];
    let (label, source) = match xml_declaration_encoding(head) {
        Some(label) => (label, CharsetSource::Xml),
        None => (meta_charset(head)?, CharsetSource::Meta),
    };
    let encoding = encoding_for_label(&label)?;
    // A document that declares UTF-16 in ASCII-compatible bytes cannot be
    // UTF-16 (we could read the declaration); browsers use UTF-8 then.
    let encoding = if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE {
        encoding_rs::UTF_8
    } else {
        encoding
    };
    Some((encoding, source))
}

/// `encoding="…"` from a leading `<?xml … ?>` declaration.
fn xml_declaration_encoding(head: &[u8]) -> Option<String> {
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &head[start..];
    if !rest.starts_with(b"<?xml") {
        return None;
    }
    let end = find(rest, b"?>")?;
    let attrs = parse_attributes(&rest[5..end]);
    attrs
        .into_iter()
        .find(|(name, _)| name == "encoding")
        .map(|(_, value)| value)
}

/// The label from the first `<meta charset>` or
/// `<meta http-equiv=… content="…; charset=…">` in `head`.
fn meta_charset(head: &[u8]) -> Option<String> {
    let lower = head.to_ascii_lowercase();
    let mut pos = 0;
    while let Some(offset) = find(&lower[pos..], b"<meta") {
        let tag_start = pos + offset + b"<meta".len();
        let tag_end = lower[tag_start..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(lower.len(), |i| tag_start + i);
        let attrs = parse_attributes(&head[tag_start..tag_end]);
        if let Some(label) = charset_from_meta(&attrs) {
            return Some(label);
        }
        pos = tag_end;
    }
    None
}

fn charset_from_meta(attrs: &[(String, String)]) -> Option<String> {
    let get = |wanted: &str| {
        attrs
            .iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, v)| v.as_str())
    };
    if let Some(label) = get("charset") {
        return Some(label.to_string());
    }
    let content = get("content")?;
    let lower = content.to_ascii_lowercase();
    let at = lower.find("charset")? + "charset".len();
    let value = content[at..].trim_start().strip_prefix('=')?.trim_start();
    let value = value.trim_start_matches(['"', '\'']);
    let label: String = value
        .chars()
        .take_while(|c| !matches!(c, ';' | '"' | '\'' | ' ' | '\t' | '\n' | '\r'))
        .collect();
    (!label.is_empty()).then_some(label)
}

/// A forgiving attribute parser for the inside of one tag: `name=value`,
/// `name="value"`, `name='value'` and bare `name`. Names are lower-cased.
/// Only ASCII matters for the attributes we read, so bytes are mapped to
/// chars one to one.
fn parse_attributes(tag: &[u8]) -> Vec<(String, String)> {
    let mut attrs = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < tag.len() && (tag[*i].is_ascii_whitespace() || tag[*i] == b'/') {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= tag.len() {
            break;
        }
        let name_start = i;
        while i < tag.len() && !matches!(tag[i], b'=' | b' ' | b'\t' | b'\n' | b'\r' | b'/') {
            i += 1;
        }
        let name = latin1(&tag[name_start..i]).to_ascii_lowercase();
        while i < tag.len() && tag[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < tag.len() && tag[i] == b'=' {
            i += 1;
            while i < tag.len() && tag[i].is_ascii_whitespace() {
                i += 1;
            }
            value = read_attribute_value(tag, &mut i);
        }
        if name.is_empty() {
            // A stray byte (e.g. a lone `=`); step over it to make progress.
            i += 1;
        } else {
            attrs.push((name, value));
        }
    }
    attrs
}

fn read_attribute_value(tag: &[u8], i: &mut usize) -> String {
    match tag.get(*i) {
        Some(&quote @ (b'"' | b'\'')) => {
            let start = *i + 1;
            let end = tag[start..]
                .iter()
                .position(|&b| b == quote)
                .map_or(tag.len(), |p| start + p);
            *i = (end + 1).min(tag.len());
            latin1(&tag[start..end])
        }
        _ => {
            let start = *i;
            while *i < tag.len() && !tag[*i].is_ascii_whitespace() {
                *i += 1;
            }
            latin1(&tag[start..*i])
        }
    }
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// chardetng's guess. The TLD hint is dropped unless it is a plain lower-case
/// ASCII label, because chardetng panics on anything else.
fn detect(bytes: &[u8], tld: Option<&str>) -> &'static Encoding {
    let sample = &bytes[..bytes.len().min(DETECT_BYTES)];
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(sample, sample.len() == bytes.len());
    let tld = tld
        .map(str::to_ascii_lowercase)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    detector.guess(tld.as_deref().map(str::as_bytes), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A paragraph of realistic Korean market news, long enough for detection.
    const KOREAN_NEWS: &str = "코스피가 외국인과 기관의 동반 순매수에 힘입어 사흘 만에 반등했다. \
        24일 한국거래소에 따르면 이날 코스피는 전 거래일보다 31.52포인트(1.22%) 오른 2,612.34에 \
        거래를 마쳤다. 유가증권시장에서 외국인은 4,215억원, 기관은 1,932억원어치를 순매수했고 \
        개인은 6,011억원어치를 순매도했다. 시가총액 상위 종목 중에서는 삼성전자가 2.4% 올랐고 \
        SK하이닉스도 3.1% 상승했다. 증권업계에서는 미국 연방준비제도의 금리 인하 기대감이 \
        커지면서 위험자산 선호 심리가 회복됐다는 분석이 나온다.";

    fn euc_kr(s: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = encoding_rs::EUC_KR.encode(s);
        assert!(!unmappable, "test text must be representable in EUC-KR");
        bytes.into_owned()
    }

    #[test]
    fn euc_kr_via_header() {
        let bytes = euc_kr(&format!("<html><body><p>{KOREAN_NEWS}</p></body></html>"));
        let d = decode(&bytes, Some("text/html; charset=EUC-KR"));
        assert_eq!((d.encoding, d.from), ("EUC-KR", CharsetSource::Header));
        assert!(d.text.contains("코스피가 외국인과 기관의"));
    }

    #[test]
    fn header_charset_label_may_be_quoted_and_cp949() {
        let bytes = euc_kr("삼성전자 주가");
        let d = decode(&bytes, Some("text/html;charset=\"ks_c_5601-1987\""));
        assert_eq!((d.encoding, d.from), ("EUC-KR", CharsetSource::Header));
        assert_eq!(d.text, "삼성전자 주가");
    }

    #[test]
    fn euc_kr_via_meta_http_equiv() {
        let page = format!(
            "<html><head><META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=euc-kr\">\
             <title>증시</title></head><body>{KOREAN_NEWS}</body></html>"
        );
        let d = decode(&euc_kr(&page), Some("text/html"));
        assert_eq!((d.encoding, d.from), ("EUC-KR", CharsetSource::Meta));
        assert!(d.text.contains("<title>증시</title>"));
    }

    #[test]
    fn euc_kr_via_meta_charset() {
        let page = format!("<meta charset=euc-kr><p>{KOREAN_NEWS}</p>");
        let d = decode(&euc_kr(&page), None);
        assert_eq!((d.encoding, d.from), ("EUC-KR", CharsetSource::Meta));
    }

    #[test]
    fn euc_kr_detected_without_any_label() {
        let page = format!(
            "<html><head><title>증권 뉴스</title></head><body><div id=\"articleBody\">{KOREAN_NEWS}</div></body></html>"
        );
        let d = decode(&euc_kr(&page), Some("text/html"));
        assert_eq!((d.encoding, d.from), ("EUC-KR", CharsetSource::Detected));
        assert!(d.text.contains("삼성전자가 2.4% 올랐고"));
    }

    #[test]
    fn wrong_utf8_header_falls_through_to_meta() {
        let page = format!("<meta charset=\"euc-kr\"><p>{KOREAN_NEWS}</p>");
        let d = decode(&euc_kr(&page), Some("text/html; charset=utf-8"));
        assert_eq!((d.encoding, d.from), ("EUC-KR", CharsetSource::Meta));
    }

    #[test]
    fn unknown_label_falls_through_to_detection() {
        let d = decode(
            &euc_kr(KOREAN_NEWS),
            Some("text/html; charset=x-no-such-thing"),
        );
        assert_eq!((d.encoding, d.from), ("EUC-KR", CharsetSource::Detected));
    }

    #[test]
    fn a_few_bad_bytes_keep_the_declared_utf8() {
        let mut bytes = KOREAN_NEWS.as_bytes().to_vec();
        bytes.push(0xff);
        let d = decode(&bytes, Some("text/plain; charset=utf-8"));
        assert_eq!((d.encoding, d.from), ("UTF-8", CharsetSource::Header));
        assert!(d.text.ends_with('\u{FFFD}'));
    }

    #[test]
    fn bom_wins_over_header() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice("한국".as_bytes());
        let d = decode(&bytes, Some("text/html; charset=euc-kr"));
        assert_eq!(
            (d.text.as_str(), d.encoding, d.from),
            ("한국", "UTF-8", CharsetSource::Bom)
        );
    }

    #[test]
    fn xml_declaration() {
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"EUC-KR\"?>\n<rss><title>{KOREAN_NEWS}</title></rss>"
        );
        let d = decode(&euc_kr(&xml), Some("application/rss+xml"));
        assert_eq!((d.encoding, d.from), ("EUC-KR", CharsetSource::Xml));
    }

    #[test]
    fn meta_past_the_prescan_window_is_ignored() {
        let page = format!(
            "<!--{}--><meta charset=windows-1252><p>caf\u{e9}</p>",
            "x".repeat(1100)
        );
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&page);
        let d = decode(&bytes, None);
        assert_eq!(d.from, CharsetSource::Detected);
    }

    #[test]
    fn meta_declaring_utf16_means_utf8() {
        let d = decode("<meta charset=utf-16><p>한국</p>".as_bytes(), None);
        assert_eq!((d.encoding, d.from), ("UTF-8", CharsetSource::Meta));
    }

    #[test]
    fn odd_tld_hints_do_not_panic() {
        for tld in ["KR", "co.kr", "한국", ""] {
            let d = decode_with_tld(&euc_kr(KOREAN_NEWS), None, Some(tld));
            assert_eq!(d.encoding, "EUC-KR");
        }
    }

    #[test]
    fn plain_ascii_is_fine() {
        let d = decode(b"hello", None);
        assert_eq!(d.text, "hello");
    }
}
