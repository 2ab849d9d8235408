//! The report charts: each renders a well-formed SVG that says what it
//! shows in real text, and a page of them renders in headless Chromium the
//! way a person would see it. Chromium is required (`IT_CHROMIUM`, default
//! `/usr/bin/chromium`; `.ci/run` installs it): a missing one fails the
//! test, never skips it.
//!
//! [`render_in_chromium`] is shared: any test that writes a page (the
//! report index) can check it the same way.

use anyhow::{bail, ensure, Context};
use chrono::{Duration as Days, NaiveDate};
use std::collections::HashSet;
use std::fs::File;
use std::io::BufReader;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tickerd::charts::{
    interval_chart_svg, line_chart_svg, reliability_svg, ChartError, Interval, LineChart,
    ReliabilityBin, Series, Shade, Style,
};

const W: u32 = 640;
const H: u32 = 400;

fn day(n: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + Days::days(n)
}

/// Sixty days of interval coverage: the model (with a three-day gap of
/// NaN and infinities), a dashed baseline, both windows, an alert day.
fn coverage_chart() -> LineChart {
    let model = (0..60)
        .map(|n| {
            let y = match n {
                20 => f64::NAN,
                21 => f64::INFINITY,
                22 => f64::NEG_INFINITY,
                _ => 0.8 + 0.05 * (n as f64 / 5.0).sin() - if n > 44 { 0.1 } else { 0.0 },
            };
            (day(n), y)
        })
        .collect();
    let baseline = (0..60).map(|n| (day(n), 0.76 + 0.001 * n as f64)).collect();
    LineChart {
        title: "Coverage of 80% intervals — AAPL & MSFT".into(),
        y_label: "coverage".into(),
        series: vec![
            Series {
                name: "lgbm-v3".into(),
                points: model,
                style: Style::Solid,
            },
            Series {
                name: "baseline (last close)".into(),
                points: baseline,
                style: Style::Dashed,
            },
        ],
        reference: Some(("nominal 0.8".into(), 0.8)),
        shades: vec![
            Shade {
                start: day(0),
                end: day(29),
                label: "baseline window".into(),
            },
            Shade {
                start: day(30),
                end: day(59),
                label: "recent window".into(),
            },
        ],
        marker: Some((day(45), "alert: coverage drop".into())),
        y_range: None,
    }
}

fn one_series_chart(style: Style, gap: bool) -> LineChart {
    let points = (0..30)
        .map(|n| (day(n), if gap && n == 15 { f64::NAN } else { n as f64 }))
        .collect();
    LineChart {
        title: "one series".into(),
        y_label: "value".into(),
        series: vec![Series {
            name: "only".into(),
            points,
            style,
        }],
        reference: None,
        shades: vec![],
        marker: None,
        y_range: None,
    }
}

fn reliability_models() -> Vec<(String, Vec<ReliabilityBin>)> {
    let bins = |skew: f64| {
        (0..10)
            .map(|i| {
                let p = (i as f64 + 0.5) / 10.0;
                ReliabilityBin {
                    predicted: p,
                    observed: (p + skew * p * (1.0 - p)).clamp(0.0, 1.0),
                    count: 10 + 40 * i,
                }
            })
            .collect::<Vec<_>>()
    };
    let mut with_gap = bins(-0.6);
    with_gap[4].observed = f64::NAN;
    vec![("lgbm-v3".into(), bins(0.4)), ("logit-v1".into(), with_gap)]
}

fn intervals() -> Vec<Interval> {
    let row = |label: &str, estimate, low, high| Interval {
        label: label.into(),
        estimate,
        low,
        high,
    };
    vec![
        row("AAPL 1d", 0.012, -0.004, 0.028),
        row("MSFT 1d", -0.006, -0.02, 0.008),
        row("005930 5d", 0.031, 0.011, 0.051),
        row("no estimate yet", f64::NAN, f64::NAN, f64::NAN),
    ]
}

/// Writes `svg` to a file, parses it back and checks the document: an
/// `<svg>` root of the requested size, no non-finite number leaked into
/// it. Returns the text of every `<text>` element, trimmed.
fn check_svg(dir: &Path, name: &str, svg: &str, width: u32, height: u32) -> Vec<String> {
    let path = dir.join(name);
    std::fs::write(&path, svg).unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(
        written.starts_with("<svg"),
        "{name} starts with {:?}",
        &written[..40.min(written.len())]
    );
    let doc = roxmltree::Document::parse(&written)
        .unwrap_or_else(|e| panic!("{name} is not well-formed XML: {e}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.attribute("width"),
        Some(width.to_string().as_str()),
        "{name}"
    );
    assert_eq!(
        root.attribute("height"),
        Some(height.to_string().as_str()),
        "{name}"
    );
    for bad in ["NaN", "inf"] {
        assert!(!written.contains(bad), "{name} contains {bad:?}");
    }
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

fn assert_has_text(texts: &[String], wanted: &str) {
    assert!(
        texts.iter().any(|t| t == wanted),
        "no text {wanted:?} among {texts:?}"
    );
}

/// How many `<polyline>`s have `stroke-width="2"`: the data lines (and
/// their legend samples), not the grid or the axes.
fn data_polylines(svg: &str) -> usize {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke-width") == Some("2"))
        .count()
}

#[test]
fn line_chart_is_an_svg_with_title_legend_windows_and_marker() {
    let dir = tempfile::tempdir().unwrap();
    let chart = coverage_chart();
    let svg = line_chart_svg(&chart, W, H).unwrap();
    let texts = check_svg(dir.path(), "coverage.svg", &svg, W, H);
    for wanted in [
        chart.title.as_str(),
        "coverage",
        "lgbm-v3",
        "baseline (last close)",
        "nominal 0.8",
        "baseline window",
        "recent window",
        "alert: coverage drop",
    ] {
        assert_has_text(&texts, wanted);
    }
    // Dates on the x axis, as days: a few of them, no more.
    let dates: Vec<&String> = texts
        .iter()
        .filter(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").is_ok())
        .collect();
    assert!((2..=8).contains(&dates.len()), "x axis dates: {dates:?}");
    // The palette's first two colours, one per series.
    assert!(svg.contains("stroke=\"#0072B2\""), "first series colour");
    assert!(svg.contains("stroke=\"#D55E00\""), "second series colour");
}

#[test]
fn non_finite_points_are_gaps_in_the_line() {
    let whole = line_chart_svg(&one_series_chart(Style::Solid, false), W, H).unwrap();
    let gapped = line_chart_svg(&one_series_chart(Style::Solid, true), W, H).unwrap();
    check_svg(
        tempfile::tempdir().unwrap().path(),
        "gap.svg",
        &gapped,
        W,
        H,
    );
    // One line plus its legend sample; the gap splits the line in two.
    assert_eq!(data_polylines(&whole), 2);
    assert_eq!(data_polylines(&gapped), 3);
}

#[test]
fn dashed_series_are_drawn_as_dashes() {
    // plotters has no stroke-dasharray: its SVG backend draws each dash as
    // a short polyline of its own.
    let solid = line_chart_svg(&one_series_chart(Style::Solid, false), W, H).unwrap();
    let dashed = line_chart_svg(&one_series_chart(Style::Dashed, false), W, H).unwrap();
    assert!(
        data_polylines(&dashed) > 10 * data_polylines(&solid),
        "dashed {} polylines, solid {}",
        data_polylines(&dashed),
        data_polylines(&solid)
    );
}

#[test]
fn a_given_y_range_keeps_lines_inside_the_plot() {
    let mut chart = one_series_chart(Style::Solid, false);
    chart.y_range = Some((5.0, 10.0));
    let svg = line_chart_svg(&chart, W, H).unwrap();
    check_svg(
        tempfile::tempdir().unwrap().path(),
        "clipped.svg",
        &svg,
        W,
        H,
    );
    let doc = roxmltree::Document::parse(&svg).unwrap();
    // The y axis' tick labels bound the plot vertically; every data point
    // must lie within them (give or take a label's height).
    let label_ys: Vec<f64> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter(|n| {
            let value = n.text().unwrap_or("").trim().parse::<f64>();
            matches!(value, Ok(v) if v == 5.0 || v == 10.0)
        })
        .map(|n| n.attribute("y").unwrap().parse().unwrap())
        .collect();
    assert_eq!(label_ys.len(), 2, "tick labels 5 and 10");
    let (top, bottom) = (
        label_ys[0].min(label_ys[1]) - 10.0,
        label_ys[0].max(label_ys[1]) + 10.0,
    );
    let line = doc
        .descendants()
        // The series' colour, and more points than its legend sample.
        .find(|n| {
            n.has_tag_name("polyline")
                && n.attribute("stroke") == Some("#0072B2")
                && n.attribute("points").unwrap().split_whitespace().count() > 2
        })
        .expect("the series' line");
    for point in line.attribute("points").unwrap().split_whitespace() {
        let y: f64 = point.split(',').nth(1).unwrap().parse().unwrap();
        assert!(
            (top..=bottom).contains(&y),
            "point {point} outside {top}..{bottom}"
        );
    }
}

#[test]
fn reliability_diagram_is_an_svg_with_diagonal_and_models() {
    let dir = tempfile::tempdir().unwrap();
    let svg = reliability_svg("Calibration, 1-day direction", &reliability_models(), W, H).unwrap();
    let texts = check_svg(dir.path(), "reliability.svg", &svg, W, H);
    for wanted in [
        "Calibration, 1-day direction",
        "lgbm-v3",
        "logit-v1",
        "perfect calibration",
        "observed frequency",
    ] {
        assert_has_text(&texts, wanted);
    }
    // Point size shows the count: more than one radius among the points.
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let radii: HashSet<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .filter_map(|n| n.attribute("r"))
        .collect();
    assert!(radii.len() > 3, "radii {radii:?}");

    let bad = vec![(
        "m".to_string(),
        vec![ReliabilityBin {
            predicted: 1.5,
            observed: 0.5,
            count: 3,
        }],
    )];
    let err = reliability_svg("bad", &bad, W, H).unwrap_err();
    assert!(err.to_string().contains("outside 0..1"), "{err}");
}

#[test]
fn interval_chart_is_an_svg_with_a_row_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let rows = intervals();
    let svg =
        interval_chart_svg("Mean excess return, 95% CI", "excess return", &rows, W, H).unwrap();
    let texts = check_svg(dir.path(), "intervals.svg", &svg, W, H);
    assert_has_text(&texts, "Mean excess return, 95% CI");
    assert_has_text(&texts, "excess return");
    for row in &rows {
        assert_has_text(&texts, &row.label);
    }
    // Three finite estimates, three points.
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("circle"))
            .count(),
        3
    );
}

#[test]
fn charts_without_finite_data_say_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut empty_line = coverage_chart();
    for s in &mut empty_line.series {
        s.points.iter_mut().for_each(|p| p.1 = f64::NAN);
    }
    let nan_bins = vec![(
        "m".to_string(),
        vec![ReliabilityBin {
            predicted: f64::NAN,
            observed: 0.5,
            count: 3,
        }],
    )];
    let nan_rows = vec![Interval {
        label: "x".into(),
        estimate: f64::NAN,
        low: f64::NAN,
        high: f64::INFINITY,
    }];
    let svgs = [
        ("line.svg", line_chart_svg(&empty_line, W, H).unwrap()),
        (
            "line-none.svg",
            line_chart_svg(
                &LineChart {
                    series: vec![],
                    ..coverage_chart()
                },
                W,
                H,
            )
            .unwrap(),
        ),
        (
            "reliability.svg",
            reliability_svg("calibration", &nan_bins, W, H).unwrap(),
        ),
        (
            "reliability-none.svg",
            reliability_svg("calibration", &[], W, H).unwrap(),
        ),
        (
            "intervals.svg",
            interval_chart_svg("effects", "x", &nan_rows, W, H).unwrap(),
        ),
        (
            "intervals-none.svg",
            interval_chart_svg("effects", "x", &[], W, H).unwrap(),
        ),
    ];
    for (name, svg) in svgs {
        let texts = check_svg(dir.path(), name, &svg, W, H);
        assert_has_text(&texts, "no data");
    }
}

#[test]
fn bad_sizes_and_ranges_are_errors() {
    let chart = coverage_chart();
    for (w, h) in [(0, H), (W, 0), (10_001, H), (W, 10_001)] {
        let err = line_chart_svg(&chart, w, h).unwrap_err();
        assert!(
            matches!(err, ChartError::InvalidSize { .. }),
            "{w}x{h}: {err}"
        );
        assert!(err.to_string().contains(&format!("{w}x{h}")), "{err}");
        assert!(reliability_svg("t", &reliability_models(), w, h).is_err());
        assert!(interval_chart_svg("t", "x", &intervals(), w, h).is_err());
    }
    // Tiny and huge sizes within the limits still draw something valid.
    for (w, h) in [(1, 1), (10_000, 10_000)] {
        let dir = tempfile::tempdir().unwrap();
        check_svg(
            dir.path(),
            "line.svg",
            &line_chart_svg(&chart, w, h).unwrap(),
            w,
            h,
        );
        check_svg(
            dir.path(),
            "rel.svg",
            &reliability_svg("t", &reliability_models(), w, h).unwrap(),
            w,
            h,
        );
        check_svg(
            dir.path(),
            "ivl.svg",
            &interval_chart_svg("t", "x", &intervals(), w, h).unwrap(),
            w,
            h,
        );
    }
    for range in [(1.0, 1.0), (2.0, 1.0), (f64::NAN, 1.0)] {
        let bad = LineChart {
            y_range: Some(range),
            ..coverage_chart()
        };
        let err = line_chart_svg(&bad, W, H).unwrap_err();
        assert!(
            matches!(err, ChartError::InvalidRange { .. }),
            "{range:?}: {err}"
        );
    }
}

#[test]
fn charts_render_in_chromium() {
    // IT_CHARTS_OUT=DIR keeps the page, charts and screenshot for a person.
    let tmp = tempfile::tempdir().unwrap();
    let dir = match std::env::var_os("IT_CHARTS_OUT") {
        Some(out) => {
            std::fs::create_dir_all(&out).unwrap();
            PathBuf::from(out)
        }
        None => tmp.path().to_path_buf(),
    };
    let files = [
        (
            "coverage.svg",
            line_chart_svg(&coverage_chart(), W, H).unwrap(),
        ),
        (
            "reliability.svg",
            reliability_svg("Calibration", &reliability_models(), W, H).unwrap(),
        ),
        (
            "intervals.svg",
            interval_chart_svg("Effects", "excess return", &intervals(), W, H).unwrap(),
        ),
    ];
    let mut imgs = String::new();
    for (name, svg) in &files {
        std::fs::write(dir.join(name), svg).unwrap();
        imgs.push_str(&format!(
            "<img src=\"{name}\" width=\"{W}\" height=\"{H}\" alt=\"{name}\">\n"
        ));
    }
    let page = dir.join("charts.html");
    std::fs::write(
        &page,
        format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>charts</title>\
             <style>body{{margin:8px;background:#fff}} img{{margin:4px}}</style></head>\
             <body>\n{imgs}</body></html>\n"
        ),
    )
    .unwrap();

    let (width, height) = (1320, 860);
    let shot = render_in_chromium(&page, width, height).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(shot.png.is_file(), "{} missing", shot.png.display());
    assert_eq!(
        (shot.width, shot.height),
        (width, height),
        "screenshot size"
    );
    assert_eq!(
        shot.broken_images, 0,
        "broken: {:?}",
        shot.broken_image_urls
    );
    assert!(
        shot.console_errors.is_empty(),
        "console errors: {:?}",
        shot.console_errors
    );
    // Not a blank page: white, greys, the series' colours, antialiasing.
    assert!(
        shot.distinct_colours > 16,
        "{} colours in {}",
        shot.distinct_colours,
        shot.png.display()
    );
}

#[test]
fn chromium_reports_broken_images_and_console_errors() {
    // The probe must see what a person would: a missing image and a script
    // error, or the test above proves nothing.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("broken.html");
    std::fs::write(
        &page,
        "<!doctype html><html><head><title>broken</title></head><body>\
         <img src=\"missing.svg\"><img src=\"not-xml.svg\">\
         <script>console.error('chart data missing'); notAFunction();</script></body></html>",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("not-xml.svg"),
        "<svg width='10' height='10'><g></svg>",
    )
    .unwrap();
    let shot = render_in_chromium(&page, 400, 300).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(shot.broken_images, 2, "{:?}", shot.broken_image_urls);
    assert_eq!(shot.console_errors.len(), 2, "{:?}", shot.console_errors);
    assert!(
        shot.console_errors[0].contains("chart data missing"),
        "{:?}",
        shot.console_errors
    );
    assert!(
        shot.console_errors[1].contains("notAFunction"),
        "{:?}",
        shot.console_errors
    );
}

// ---------------------------------------------------------------------------
// Headless Chromium.

/// What Chromium showed for a page.
pub(crate) struct Rendered {
    /// The screenshot, beside the page as `STEM.screenshot.png` (so it lives
    /// as long as the page's folder, and a person can look at it).
    pub png: PathBuf,
    /// The screenshot's size in pixels (the window's).
    pub width: u32,
    pub height: u32,
    /// `<img>`s that did not load or did not decode (a malformed SVG too).
    pub broken_images: usize,
    /// Their URLs, for the failure message.
    pub broken_image_urls: Vec<String>,
    /// `console.error` calls, uncaught exceptions, unhandled rejections and
    /// other resources (scripts, styles) that failed to load.
    pub console_errors: Vec<String>,
    /// Distinct pixel values in the screenshot: 1 means a blank page.
    pub distinct_colours: usize,
}

/// A hung Chromium fails the test instead of hanging CI.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(90);

/// The Chromium binary: `IT_CHROMIUM`, default `/usr/bin/chromium`.
pub(crate) fn chromium() -> PathBuf {
    std::env::var_os("IT_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Renders the page at `html` in headless Chromium with a `width`×`height`
/// window. Two passes: a screenshot of the page as it is, then a dump of
/// the DOM of a copy of the page (beside it, so relative links resolve) that
/// starts with [`PROBE`]. Chromium's stderr cannot tell a console error from
/// a log line (both are `INFO:CONSOLE`) and does not mention images that
/// failed, so the probe records both into the DOM, where `--dump-dom` hands
/// them back.
pub(crate) fn render_in_chromium(html: &Path, width: u32, height: u32) -> anyhow::Result<Rendered> {
    let browser = chromium();
    ensure!(
        browser.is_file(),
        "Chromium is required and was not found at {} (set IT_CHROMIUM; bash .ci/run installs it)",
        browser.display()
    );
    let html = html
        .canonicalize()
        .with_context(|| format!("page {}", html.display()))?;
    let dir = html.parent().context("the page has no folder")?;
    let stem = html.file_stem().unwrap_or_default().to_string_lossy();
    let png = dir.join(format!("{stem}.screenshot.png"));
    let _ = std::fs::remove_file(&png);

    let window = format!("--window-size={width},{height}");
    let shot = format!("--screenshot={}", png.display());
    run_chromium(&browser, &[&shot, &window, &file_url(&html)], "screenshot")?;
    ensure!(
        png.is_file(),
        "Chromium wrote no screenshot at {}",
        png.display()
    );
    let (png_width, png_height, distinct_colours) = read_png(&png)?;

    let page =
        std::fs::read_to_string(&html).with_context(|| format!("reading {}", html.display()))?;
    let probe = tempfile::Builder::new()
        .prefix(&format!(".{stem}."))
        .suffix(".probe.html")
        .tempfile_in(dir)?;
    std::fs::write(probe.path(), inject_probe(&page))?;
    let dom = run_chromium(
        &browser,
        &["--dump-dom", &window, &file_url(probe.path())],
        "dump-dom",
    )?;
    let result = probe_result(&dom)?;

    Ok(Rendered {
        png,
        width: png_width,
        height: png_height,
        broken_images: result.broken.len(),
        broken_image_urls: result.broken,
        console_errors: result.errors,
        distinct_colours,
    })
}

/// Runs first in the page (see [`inject_probe`]): records console errors,
/// uncaught errors and failed resources as they happen, and at `load`
/// the images that did not load, into a JSON `<script>` element.
const PROBE: &str = r#"<script>
(function () {
  var errors = [];
  var original = console.error;
  console.error = function () {
    errors.push(Array.prototype.map.call(arguments, String).join(" "));
    return original.apply(console, arguments);
  };
  window.addEventListener("error", function (e) {
    if (e instanceof ErrorEvent) {
      errors.push(e.message + " (" + e.filename + ":" + e.lineno + ")");
    } else if (e.target && e.target.tagName && e.target.tagName !== "IMG") {
      errors.push("failed to load <" + e.target.tagName.toLowerCase() + "> " + (e.target.src || e.target.href || ""));
    }
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    errors.push("unhandled rejection: " + e.reason);
  });
  // Lazy images below the window would otherwise never load, and count as broken.
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.images, function (i) { i.loading = "eager"; });
  });
  window.addEventListener("load", function () {
    var broken = Array.prototype.filter.call(document.images, function (i) {
      return !i.complete || i.naturalWidth === 0;
    }).map(function (i) { return i.currentSrc || i.src; });
    var out = document.createElement("script");
    out.type = "application/json";
    out.id = "it-probe-result";
    out.textContent = JSON.stringify({ broken: broken, errors: errors }).replace(/</g, "\\u003c");
    document.documentElement.appendChild(out);
  });
})();
</script>
"#;

#[derive(serde::Deserialize)]
struct ProbeResult {
    broken: Vec<String>,
    errors: Vec<String>,
}

/// The page with [`PROBE`] as its first script: right after `<head …>`,
/// else after `<html …>`, else after the doctype (before it, the page
/// would change to quirks mode), else at the very start.
fn inject_probe(page: &str) -> String {
    let lower = page.to_ascii_lowercase();
    // After the first `<TAG>` or `<TAG …>` (so `<head` is not `<header>`).
    let after_tag = |tag: &str| {
        let start = lower.match_indices(tag).map(|(i, _)| i).find(|&i| {
            let next = lower[i + tag.len()..].chars().next();
            matches!(next, Some(c) if c == '>' || c.is_ascii_whitespace())
        })?;
        Some(start + lower[start..].find('>')? + 1)
    };
    let at = after_tag("<head")
        .or_else(|| after_tag("<html"))
        .or_else(|| after_tag("<!doctype"))
        .unwrap_or(0);
    format!("{}{PROBE}{}", &page[..at], &page[at..])
}

fn probe_result(dom: &str) -> anyhow::Result<ProbeResult> {
    let marker = "id=\"it-probe-result\">";
    let Some(start) = dom.find(marker).map(|i| i + marker.len()) else {
        bail!("the probe left no result: the page never finished loading? DOM:\n{dom}");
    };
    let end = start
        + dom[start..]
            .find("</script>")
            .context("unterminated probe result")?;
    serde_json::from_str(&dom[start..end]).context("reading the probe's result")
}

fn file_url(path: &Path) -> String {
    url::Url::from_file_path(path)
        .expect("an absolute path")
        .to_string()
}

/// Runs Chromium headless with `args` plus the common flags and a fresh
/// profile; returns its stdout. Fails on a non-zero exit or after
/// [`CHROMIUM_TIMEOUT`], with the meaningful part of its stderr.
fn run_chromium(browser: &Path, args: &[&str], what: &str) -> anyhow::Result<String> {
    // A fresh profile per run: parallel tests share no state or lock.
    let work = tempfile::tempdir()?;
    let (out, err) = (work.path().join("stdout"), work.path().join("stderr"));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox", // tests run as root, where the sandbox refuses to start
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!(
            "--user-data-dir={}",
            work.path().join("profile").display()
        ))
        .args(args)
        .stdin(Stdio::null())
        // Files, not pipes: a chatty Chromium cannot block on a full pipe.
        .stdout(File::create(&out)?)
        .stderr(File::create(&err)?)
        // Its own process group, so a timeout kills the wrapper script and
        // every browser process it started.
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", browser.display()))?;
    let deadline = Instant::now() + CHROMIUM_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            // SAFETY: kill(2) on the group this function just created.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            bail!(
                "Chromium ({what}) did not finish within {CHROMIUM_TIMEOUT:?}; stderr:\n{}",
                stderr_summary(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    ensure!(
        status.success(),
        "Chromium ({what}) failed with {status}; stderr:\n{}",
        stderr_summary(&err)
    );
    Ok(std::fs::read_to_string(&out)?)
}

/// Chromium's stderr without the noise of a machine with no D-Bus, GPU or
/// session: what is left explains a failure.
fn stderr_summary(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let noise = [
        "dbus",
        "D-Bus",
        "vaapi",
        "sandbox_linux",
        "bluez",
        "UPower",
        "unexpected operator",
    ];
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !noise.iter().any(|n| l.contains(n)))
        .collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The PNG's width, height and number of distinct pixel values.
fn read_png(path: &Path) -> anyhow::Result<(u32, u32, usize)> {
    let mut decoder = png::Decoder::new(BufReader::new(File::open(path)?));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .with_context(|| format!("reading {}", path.display()))?;
    let mut buf = vec![0; reader.output_buffer_size().context("PNG too large")?];
    let info = reader.next_frame(&mut buf)?;
    let samples = info.color_type.samples();
    let colours: HashSet<&[u8]> = buf[..info.buffer_size()].chunks_exact(samples).collect();
    Ok((info.width, info.height, colours.len()))
}
