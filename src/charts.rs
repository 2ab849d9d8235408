//! Charts for the evaluation reports, as SVG strings: a dated line chart
//! (metrics over time, with shaded windows, a reference level and an alert
//! marker), a reliability (calibration) diagram and a forest plot of
//! intervals. The caller writes the string wherever the report goes.
//!
//! Text is written as SVG `<text>` and laid out by the browser that shows
//! the report, so no font is loaded here (plotters' `ttf` feature would need
//! the system's fontconfig); plotters only estimates text sizes to place
//! labels. Bad input never panics: a non-finite value is a gap, a chart
//! without any finite value says "no data", and only a bad size, a bad y
//! range or a "probability" outside 0..1 is an error.

use chrono::{NaiveDate, TimeDelta};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The largest width or height accepted, in pixels: beyond it a chart is a
/// mistake (and a huge file), not a report figure.
pub const MAX_SIDE: u32 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("chart size {width}x{height} is invalid: each side must be 1 to {MAX_SIDE} pixels")]
    InvalidSize { width: u32, height: u32 },
    #[error("y range {low}..{high} is invalid: both ends must be finite and low < high")]
    InvalidRange { low: f64, high: f64 },
    #[error("invalid chart data: {0}")]
    InvalidData(String),
    #[error("drawing the chart failed: {0}")]
    Draw(String),
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        ChartError::Draw(e.to_string())
    }
}

/// How a series' line is drawn: baselines are dashed, so they read as
/// "reference" next to the model they are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Solid,
    Dashed,
    /// Dashed in the colour of the series before it: a model's baseline
    /// (always-up on the same items) reads as belonging to that model.
    Companion,
}

/// Each series' colour: a new palette colour per series, except that a
/// `Companion` shares the previous series' colour.
fn series_colours(series: &[Series]) -> Vec<RGBColor> {
    let mut next = 0;
    let mut out: Vec<RGBColor> = Vec::with_capacity(series.len());
    for s in series {
        match (s.style, out.last()) {
            (Style::Companion, Some(prev)) => out.push(*prev),
            _ => {
                out.push(colour(next));
                next += 1;
            }
        }
    }
    out
}

/// One named line of a [`LineChart`]. Points need not be sorted; a
/// non-finite value breaks the line there.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(NaiveDate, f64)>,
    pub style: Style,
}

/// A shaded date range (both days included), drawn behind the lines with
/// its label at the top, e.g. "baseline window" and "recent window".
#[derive(Debug, Clone)]
pub struct Shade {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub label: String,
}

/// A metric over time.
#[derive(Debug, Clone)]
pub struct LineChart {
    pub title: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// A horizontal dashed line with its legend name, e.g. nominal coverage 0.8.
    pub reference: Option<(String, f64)>,
    pub shades: Vec<Shade>,
    /// A vertical line with its label, e.g. the day an alert fired.
    pub marker: Option<(NaiveDate, String)>,
    /// The y axis; by default the data's range (and the reference) plus 5%.
    pub y_range: Option<(f64, f64)>,
}

/// One bin of a reliability diagram: mean predicted probability, observed
/// frequency and how many predictions fell in the bin.
#[derive(Debug, Clone, Copy)]
pub struct ReliabilityBin {
    pub predicted: f64,
    pub observed: f64,
    pub count: usize,
}

/// One row of a forest plot: a point estimate and its interval.
#[derive(Debug, Clone)]
pub struct Interval {
    pub label: String,
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// Okabe–Ito colours, told apart with the common colour-vision
/// deficiencies, in the order series get them (repeating after seven).
/// Its yellow is left out: it vanishes on white.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
];
/// Guides (reference lines, the diagonal, notes) are grey, apart from data.
const GUIDE: RGBColor = RGBColor(90, 90, 90);
const FONT: &str = "sans-serif";
const TITLE_SIZE: u32 = 22;
const LABEL_SIZE: u32 = 15;
/// Dash and gap lengths in pixels, for dashed series and guides.
const DASH: (u32, u32) = (8, 5);

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

impl LineChart {
    /// A chart of `series` with no reference line, shading, marker or fixed
    /// y range (set those fields after, as needed).
    pub fn new(title: impl Into<String>, y_label: impl Into<String>, series: Vec<Series>) -> Self {
        LineChart {
            title: title.into(),
            y_label: y_label.into(),
            series,
            reference: None,
            shades: Vec::new(),
            marker: None,
            y_range: None,
        }
    }
}

/// Renders a dated line chart; see [`LineChart`].
pub fn line_chart_svg(chart: &LineChart, width: u32, height: u32) -> Result<String, ChartError> {
    check_size(width, height)?;
    if let Some((low, high)) = chart.y_range {
        check_range(low, high)?;
    }
    let finite = || {
        chart
            .series
            .iter()
            .flat_map(|s| &s.points)
            .filter(|p| p.1.is_finite())
    };
    let Some(origin) = finite().map(|p| p.0).min() else {
        return render(width, height, |root| no_data(root, &chart.title));
    };
    // Dates become days since the first one, so that a line cut at the
    // y range's edge can end between two days.
    let day = |d: NaiveDate| (d - origin).num_days() as f64;

    // Shades span whole days: half a day either side of their first and last.
    let mut xs: Vec<f64> = finite().map(|p| day(p.0)).collect();
    for s in &chart.shades {
        xs.extend([day(s.start) - 0.5, day(s.end) + 0.5]);
    }
    xs.extend(chart.marker.iter().map(|m| day(m.0)));
    let (x_lo, x_hi) = padded(&xs, 0.0);

    let (y_lo, y_hi) = chart.y_range.unwrap_or_else(|| {
        let mut ys: Vec<f64> = finite().map(|p| p.1).collect();
        ys.extend(
            chart
                .reference
                .iter()
                .map(|r| r.1)
                .filter(|y| y.is_finite()),
        );
        padded(&ys, 0.05)
    });

    let reference = chart
        .reference
        .as_ref()
        .filter(|r| (y_lo..=y_hi).contains(&r.1));
    let mut legend: Vec<(&str, Sample)> = reference
        .iter()
        .map(|r| (r.0.as_str(), Sample::Line(GUIDE, Style::Dashed)))
        .collect();
    let colours = series_colours(&chart.series);
    legend.extend(
        (chart.series.iter().zip(&colours))
            .map(|(s, c)| (s.name.as_str(), Sample::Line(*c, s.style))),
    );

    render(width, height, |root| {
        let plot = heading(root, &chart.title, &legend)?;
        let mut ctx = ChartBuilder::on(&plot)
            .margin(12)
            .margin_top(4)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)?;
        let date_label = |x: &f64| {
            // The axis picks round numbers of days; label whole days only.
            if (x - x.round()).abs() > 1e-6 {
                return String::new();
            }
            origin
                .checked_add_signed(TimeDelta::days(x.round() as i64))
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        ctx.configure_mesh()
            .x_labels(5)
            .y_labels(6)
            .x_label_formatter(&date_label)
            .y_desc(&chart.y_label)
            .label_style((FONT, LABEL_SIZE))
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.08))
            .draw()?;

        for (i, shade) in chart.shades.iter().enumerate() {
            let (x0, x1) = (day(shade.start) - 0.5, day(shade.end) + 0.5);
            // Two tints, so that adjacent windows stay apart.
            let tint = BLACK.mix(if i % 2 == 0 { 0.06 } else { 0.11 });
            ctx.draw_series([Rectangle::new([(x0, y_hi), (x1, y_lo)], tint.filled())])?;
            ctx.draw_series([
                EmptyElement::at((x0, y_hi)) + Text::new(shade.label.clone(), (4, 4), note_font())
            ])?;
        }

        if let Some((_, y)) = reference {
            let line = vec![(x_lo, *y), (x_hi, *y)];
            ctx.draw_series([dashed(line, GUIDE.stroke_width(2))])?;
        }

        if let Some((date, label)) = &chart.marker {
            let x = day(*date);
            ctx.draw_series([PathElement::new(vec![(x, y_lo), (x, y_hi)], BLACK)])?;
            // Below the shade labels, which sit at the top edge, and left of
            // the line: a marker is usually the last day, at the right edge.
            let left = -(label.chars().count() as i32 * 7) - 4;
            ctx.draw_series([
                EmptyElement::at((x, y_hi)) + Text::new(label.clone(), (left, 22), note_font())
            ])?;
        }

        for (series, colour) in chart.series.iter().zip(colours.iter().copied()) {
            let style = colour.stroke_width(2);
            let mut points: Vec<(f64, f64)> =
                series.points.iter().map(|p| (day(p.0), p.1)).collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let runs: Vec<Vec<(f64, f64)>> = points
                .split(|p| !p.1.is_finite())
                .flat_map(|run| clip_run(run, y_lo, y_hi))
                .collect();
            // A lone point between gaps has no line to show it: a dot does.
            ctx.draw_series(
                runs.iter()
                    .filter(|r| r.len() == 1)
                    .map(|r| Circle::new(r[0], 3, colour.filled())),
            )?;
            let lines = runs.into_iter().filter(|r| r.len() > 1);
            match series.style {
                Style::Solid => ctx.draw_series(lines.map(|r| PathElement::new(r, style)))?,
                Style::Dashed | Style::Companion => {
                    ctx.draw_series(lines.map(|r| dashed(r, style)))?
                }
            };
        }
        Ok(())
    })
}

/// Renders a reliability (calibration) diagram: predicted probability
/// against observed frequency, the diagonal of perfect calibration, and one
/// line of bins per model, each point's area growing with its bin's count.
/// Bins with a non-finite value or no predictions are left out; a finite
/// value outside 0..1 is an error, since it is no probability.
pub fn reliability_svg(
    title: &str,
    models: &[(String, Vec<ReliabilityBin>)],
    width: u32,
    height: u32,
) -> Result<String, ChartError> {
    check_size(width, height)?;
    let usable =
        |b: &&ReliabilityBin| b.predicted.is_finite() && b.observed.is_finite() && b.count > 0;
    for (name, bins) in models {
        if let Some(b) = bins
            .iter()
            .filter(usable)
            .find(|b| !(0.0..=1.0).contains(&b.predicted) || !(0.0..=1.0).contains(&b.observed))
        {
            return Err(ChartError::InvalidData(format!(
                "reliability bin of {name:?} is outside 0..1: predicted {}, observed {}",
                b.predicted, b.observed
            )));
        }
    }
    let Some(max_count) = models
        .iter()
        .flat_map(|m| m.1.iter().filter(usable))
        .map(|b| b.count)
        .max()
    else {
        return render(width, height, |root| no_data(root, title));
    };
    // Radius grows with the square root of the count, so area ∝ count.
    let radius = |count: usize| 3 + (7.0 * (count as f64 / max_count as f64).sqrt()).round() as i32;

    let mut legend = vec![("perfect calibration", Sample::Line(GUIDE, Style::Dashed))];
    legend.extend(
        (models.iter().enumerate()).map(|(i, m)| (m.0.as_str(), Sample::LineDot(colour(i)))),
    );

    render(width, height, |root| {
        let plot = heading(root, title, &legend)?;
        let mut ctx = ChartBuilder::on(&plot)
            .margin(12)
            .margin_top(4)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
        ctx.configure_mesh()
            .x_labels(6)
            .y_labels(6)
            .x_desc("predicted probability (point area ∝ predictions in the bin)")
            .y_desc("observed frequency")
            .label_style((FONT, LABEL_SIZE))
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.08))
            .draw()?;

        ctx.draw_series([dashed(vec![(0.0, 0.0), (1.0, 1.0)], GUIDE.stroke_width(2))])?;

        for (i, (_, bins)) in models.iter().enumerate() {
            let colour = colour(i);
            let mut bins: Vec<&ReliabilityBin> = bins.iter().filter(usable).collect();
            bins.sort_by(|a, b| a.predicted.total_cmp(&b.predicted));
            let line: Vec<(f64, f64)> = bins.iter().map(|b| (b.predicted, b.observed)).collect();
            ctx.draw_series(bins.iter().map(|b| {
                Circle::new(
                    (b.predicted, b.observed),
                    radius(b.count),
                    colour.mix(0.75).filled(),
                )
            }))?;
            ctx.draw_series([PathElement::new(line, colour.stroke_width(2))])?;
        }
        Ok(())
    })
}

/// Renders a forest plot: one row per interval, top to bottom in the given
/// order, with the point estimate, a whisker from low to high and a vertical
/// line at zero. Non-finite parts of a row are not drawn; its label stays.
pub fn interval_chart_svg(
    title: &str,
    x_label: &str,
    rows: &[Interval],
    width: u32,
    height: u32,
) -> Result<String, ChartError> {
    check_size(width, height)?;
    let mut xs: Vec<f64> = rows
        .iter()
        .flat_map(|r| [r.estimate, r.low, r.high])
        .filter(|x| x.is_finite())
        .collect();
    if xs.is_empty() {
        return render(width, height, |root| no_data(root, title));
    }
    xs.push(0.0);
    let (x_lo, x_hi) = padded(&xs, 0.05);
    let n = rows.len() as f64;
    // Row labels sit left of the plot: room for the longest, within reason.
    let longest = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0) as u32;
    let label_width = (longest * 8 + 20).max(40).min(width * 2 / 5);

    render(width, height, |root| {
        let plot = heading(root, title, &[])?;
        let mut ctx = ChartBuilder::on(&plot)
            .margin(12)
            .margin_top(4)
            .x_label_area_size(48)
            .y_label_area_size(label_width)
            .build_cartesian_2d(x_lo..x_hi, 0.0..n)?;
        ctx.configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(6)
            .x_desc(x_label)
            .label_style((FONT, LABEL_SIZE))
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.08))
            .draw()?;
        ctx.draw_series([PathElement::new(
            vec![(0.0, 0.0), (0.0, n)],
            GUIDE.stroke_width(1),
        )])?;

        let colour = colour(0);
        let style = colour.stroke_width(2);
        let cap = |x: f64, y: f64| {
            EmptyElement::at((x, y)) + PathElement::new(vec![(0, -6), (0, 6)], style)
        };
        // Right-aligned just left of the plot, where tick labels would be.
        let label_font = (FONT, LABEL_SIZE)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        for (i, row) in rows.iter().enumerate() {
            let y = n - i as f64 - 0.5;
            ctx.draw_series([EmptyElement::at((x_lo, y))
                + Text::new(row.label.clone(), (-10, 0), label_font.clone())])?;
            if row.low.is_finite() && row.high.is_finite() {
                ctx.draw_series([PathElement::new(vec![(row.low, y), (row.high, y)], style)])?;
                ctx.draw_series([cap(row.low, y), cap(row.high, y)])?;
            }
            if row.estimate.is_finite() {
                ctx.draw_series([Circle::new((row.estimate, y), 5, colour.filled())])?;
            }
        }
        Ok(())
    })
}

fn check_size(width: u32, height: u32) -> Result<(), ChartError> {
    let ok = |side: u32| (1..=MAX_SIDE).contains(&side);
    if ok(width) && ok(height) {
        Ok(())
    } else {
        Err(ChartError::InvalidSize { width, height })
    }
}

fn check_range(low: f64, high: f64) -> Result<(), ChartError> {
    if low.is_finite() && high.is_finite() && low < high {
        Ok(())
    } else {
        Err(ChartError::InvalidRange { low, high })
    }
}

/// Draws onto a fresh white SVG canvas and returns the document.
fn render(
    width: u32,
    height: u32,
    draw: impl FnOnce(&Area<'_>) -> Result<(), ChartError>,
) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    Ok(svg)
}

/// The empty chart: its title and the words "no data", so that a report
/// shows the gap instead of failing.
fn no_data(root: &Area<'_>, title: &str) -> Result<(), ChartError> {
    let area = root.titled(title, (FONT, TITLE_SIZE))?;
    let (w, h) = area.dim_in_pixel();
    let font = (FONT, 20)
        .into_font()
        .color(&GUIDE)
        .pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new("no data", (w as i32 / 2, h as i32 / 2), font))?;
    Ok(())
}

/// How a legend entry shows its line.
#[derive(Debug, Clone, Copy)]
enum Sample {
    Line(RGBColor, Style),
    /// A line with a dot: a series drawn with points.
    LineDot(RGBColor),
}

/// Draws the title and, under it, the legend in centred rows, and returns
/// the area left for the plot. A legend outside the plot never hides data
/// or the labels of windows and markers.
fn heading<'a>(
    root: &Area<'a>,
    title: &str,
    legend: &[(&str, Sample)],
) -> Result<Area<'a>, ChartError> {
    const SAMPLE: i32 = 24;
    const ROW: i32 = 20;
    const GAP: i32 = 22;
    let area = root.titled(title, (FONT, TITLE_SIZE))?;
    let (width, height) = area.dim_in_pixel();
    // The browser lays the text out; about 0.6 em a character is a safe guess.
    let char_px = f64::from(LABEL_SIZE) / 1.24 * 0.6;
    let entry_width =
        |name: &str| SAMPLE + 6 + (name.chars().count() as f64 * char_px).ceil() as i32;
    let mut rows: Vec<(i32, Vec<(&str, Sample)>)> = Vec::new();
    for &(name, sample) in legend {
        let w = entry_width(name);
        match rows.last_mut() {
            Some((used, row)) if *used + GAP + w <= width as i32 => {
                *used += GAP + w;
                row.push((name, sample));
            }
            _ => rows.push((w, vec![(name, sample)])),
        }
    }
    let font = (FONT, LABEL_SIZE)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (r, (used, row)) in rows.iter().enumerate() {
        let y = ROW * r as i32 + ROW / 2;
        let mut x = (width as i32 - used) / 2;
        for &(name, sample) in row {
            let line = vec![(x, y), (x + SAMPLE, y)];
            match sample {
                Sample::Line(colour, Style::Solid) => {
                    area.draw(&PathElement::new(line, colour.stroke_width(2)))?
                }
                Sample::Line(colour, Style::Dashed | Style::Companion) => {
                    area.draw(&dashed(line, colour.stroke_width(2)))?
                }
                Sample::LineDot(colour) => {
                    area.draw(&PathElement::new(line, colour.stroke_width(2)))?;
                    area.draw(&Circle::new((x + SAMPLE / 2, y), 4, colour.filled()))?;
                }
            }
            area.draw(&Text::new(name, (x + SAMPLE + 6, y), font.clone()))?;
            x += entry_width(name) + GAP;
        }
    }
    let used = (ROW * rows.len() as i32 + 4).min(height as i32);
    Ok(area.split_vertically(used).1)
}

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn note_font() -> TextStyle<'static> {
    (FONT, 13).into_font().color(&GUIDE)
}

fn dashed<C: Clone>(
    points: Vec<C>,
    style: ShapeStyle,
) -> DashedPathElement<std::vec::IntoIter<C>, u32> {
    DashedPathElement::new(points, DASH.0, DASH.1, style)
}

/// The smallest and largest of `values` (not empty), widened by `pad` of
/// their span on each side; a single value gets a range around it.
fn padded(values: &[f64], pad: f64) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = hi - lo;
    if span > 0.0 {
        (lo - span * pad, hi + span * pad)
    } else {
        let half = if lo != 0.0 { lo.abs() * 0.1 } else { 1.0 };
        (lo - half, hi + half)
    }
}

/// Cuts a run of finite points to the y range `lo..=hi`: a line leaving
/// the range ends at its edge, and one coming back starts a new run. The
/// SVG backend does not clip, so a line out of range would run over the
/// axes and the title.
fn clip_run(run: &[(f64, f64)], lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    if let [only] = run {
        if (lo..=hi).contains(&only.1) {
            runs.push(vec![*only]);
        }
        return runs;
    }
    // Whether the last run ends at the start of the next segment.
    let mut joined = false;
    for pair in run.windows(2) {
        let (p, q) = (pair[0], pair[1]);
        let Some((t0, t1)) = clip_segment(p.1, q.1, lo, hi) else {
            joined = false;
            continue;
        };
        let at = |t: f64| (p.0 + (q.0 - p.0) * t, p.1 + (q.1 - p.1) * t);
        match runs.last_mut() {
            Some(last) if joined && t0 == 0.0 => last.push(at(t1)),
            _ => runs.push(vec![at(t0), at(t1)]),
        }
        joined = t1 == 1.0;
    }
    runs
}

/// The part `t0..=t1` of the segment from `y0` to `y1` (`t` in 0..=1) that
/// lies within `lo..=hi`, if any.
fn clip_segment(y0: f64, y1: f64, lo: f64, hi: f64) -> Option<(f64, f64)> {
    let dy = y1 - y0;
    let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
    if dy == 0.0 {
        return (lo..=hi).contains(&y0).then_some((t0, t1));
    }
    // Where the segment crosses each bound, as a fraction of its length.
    let (a, b) = ((lo - y0) / dy, (hi - y0) / dy);
    t0 = t0.max(a.min(b));
    t1 = t1.min(a.max(b));
    (t0 <= t1).then_some((t0, t1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_cuts_lines_at_the_range_edges() {
        let run = [(0.0, 0.5), (1.0, 1.5), (2.0, 0.5), (3.0, 0.4)];
        let runs = clip_run(&run, 0.0, 1.0);
        assert_eq!(
            runs,
            vec![
                vec![(0.0, 0.5), (0.5, 1.0)],
                vec![(1.5, 1.0), (2.0, 0.5), (3.0, 0.4)]
            ]
        );
        assert!(clip_run(&[(0.0, 2.0), (1.0, 3.0)], 0.0, 1.0).is_empty());
        assert_eq!(clip_run(&[(0.0, 0.5)], 0.0, 1.0), vec![vec![(0.0, 0.5)]]);
    }

    #[test]
    fn padding_widens_the_data_range() {
        assert_eq!(padded(&[0.0, 10.0], 0.05), (-0.5, 10.5));
        let (lo, hi) = padded(&[0.8], 0.05);
        assert!(
            (lo - 0.72).abs() < 1e-12 && (hi - 0.88).abs() < 1e-12,
            "{lo}..{hi}"
        );
        assert_eq!(padded(&[0.0], 0.05), (-1.0, 1.0));
    }
}
