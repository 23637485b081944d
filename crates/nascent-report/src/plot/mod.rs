//! Dependency-free SVG charts: line charts with bands, scatter plots with a Pareto front, and bar
//! charts.
//!
//! Every chart is plain data with a `to_svg()` method returning one standalone `<svg>` element
//! (it carries its own `xmlns`, width, height and viewBox), so the same string can be written to a
//! `.svg` file or inlined in an HTML page. Axes get "nice" ticks (1, 2, 5 times a power of ten, or
//! decades on log axes), gridlines, labels and a legend; series are coloured from the
//! colour-blind-safe Okabe-Ito palette ([`PALETTE`]) and all text is escaped.
//!
//! ```
//! use nascent_report::plot::{LineChart, Series};
//! let chart = LineChart {
//!     title: "Best so far".into(),
//!     x_label: "queries".into(),
//!     y_label: "test accuracy (%)".into(),
//!     series: vec![Series::new("random", vec![(1.0, 90.0), (2.0, 91.5), (3.0, 93.1)])],
//!     ..LineChart::default()
//! };
//! let svg = chart.to_svg();
//! assert!(svg.starts_with("<svg"));
//! ```
//!
//! Elements carry classes that tests and style sheets can select: `series` (one path per line
//! series), `band` (one path per ±std band), `point` (one path per scatter point), `front` (the
//! Pareto step line), `front-point`, `bar` (one rect per bar), `legend`, `tick`, `axis`.

mod bar;
mod line;
mod scatter;

pub use bar::{BarChart, BarGroup, Orientation};
pub use line::{LineChart, RunCurve, Series};
pub use scatter::{ParetoFront, PointGroup, ScatterChart, ScatterPoint};

use std::fmt::Write;

/// The Okabe-Ito colour-blind-safe palette (its yellow darkened for contrast on white), in the
/// order series are coloured.
pub const PALETTE: [&str; 8] = [
    "#0072B2", // blue
    "#E69F00", // orange
    "#009E73", // bluish green
    "#D55E00", // vermillion
    "#CC79A7", // reddish purple
    "#56B4E9", // sky blue
    "#333333", // near black
    "#B59F00", // dark yellow
];

/// The colour of series number `i` (cycling through [`PALETTE`]).
pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Escapes text for XML and HTML content and attribute values (`& < > " '`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab/newline are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The font stack of every chart: system fonts only, nothing fetched.
pub(crate) const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', 'DejaVu Sans', Arial, sans-serif";

/// Default chart size in pixels.
pub(crate) const WIDTH: f64 = 720.0;
pub(crate) const HEIGHT: f64 = 440.0;

/// Rough width of `text` in pixels at `size` (average glyph of a sans-serif font).
pub(crate) fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.56
}

/// `text` cut to `max` characters with an ellipsis.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// A coordinate formatted compactly for SVG (two decimals, no trailing zeros).
pub(crate) fn f(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" || s.is_empty() {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// A value formatted for people with about four significant digits (SI suffixes for large
/// magnitudes): 94.37, 0.0123, 1.25M.
pub fn format_value(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "–".to_string()
        } else if v > 0.0 {
            "∞".to_string()
        } else {
            "−∞".to_string()
        };
    }
    let a = v.abs();
    if a >= 1e4 {
        let (unit, suffix) = si_unit(a);
        return trim_num(format!(
            "{:.*}",
            3usize.saturating_sub(digits_before(a / unit)),
            v / unit
        )) + suffix;
    }
    if a == 0.0 {
        return "0".to_string();
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 8) as usize;
    trim_num(format!("{v:.decimals$}"))
}

fn digits_before(a: f64) -> usize {
    if a < 10.0 {
        1
    } else if a < 100.0 {
        2
    } else {
        3
    }
}

fn trim_num(s: String) -> String {
    if s.contains('.') {
        let t = s.trim_end_matches('0').trim_end_matches('.');
        if t == "-0" { "0".into() } else { t.to_string() }
    } else {
        s
    }
}

fn si_unit(a: f64) -> (f64, &'static str) {
    if a >= 1e12 {
        (1e12, "T")
    } else if a >= 1e9 {
        (1e9, "G")
    } else if a >= 1e6 {
        (1e6, "M")
    } else {
        (1e3, "k")
    }
}

/// A tick label: as many decimals as the tick step needs, SI suffixes for large magnitudes.
pub(crate) fn format_tick(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let a = v.abs().max(step.abs());
    if a >= 1e4 {
        let (unit, suffix) = si_unit(a);
        let d = decimals_for(step / unit);
        return trim_num(format!("{:.*}", d, v / unit)) + suffix;
    }
    let d = decimals_for(step);
    let s = format!("{v:.d$}");
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        "0".to_string()
    } else {
        s
    }
}

fn decimals_for(step: f64) -> usize {
    if step <= 0.0 || !step.is_finite() {
        return 0;
    }
    // A step of 0.25 needs two decimals; 0.2 one; 5 none.
    let mut d = 0usize;
    let mut s = step;
    while d < 8 && (s - s.round()).abs() > 1e-9 * s.abs().max(1.0) {
        s *= 10.0;
        d += 1;
    }
    d
}

/// A mapping from data values to pixels along one axis.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scale {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    pub px0: f64,
    pub px1: f64,
}

impl Scale {
    pub fn map(&self, v: f64) -> f64 {
        let (a, b, x) = if self.log {
            (self.lo.log10(), self.hi.log10(), v.log10())
        } else {
            (self.lo, self.hi, v)
        };
        let t = if b > a { (x - a) / (b - a) } else { 0.5 };
        self.px0 + t * (self.px1 - self.px0)
    }

    /// Whether `v` can be drawn on this scale (finite, and positive on a log scale).
    pub fn accepts(&self, v: f64) -> bool {
        v.is_finite() && (!self.log || v > 0.0)
    }
}

/// Ticks of one axis: the (possibly widened) domain and the tick values with their labels.
#[derive(Clone, Debug)]
pub(crate) struct Ticks {
    pub lo: f64,
    pub hi: f64,
    pub ticks: Vec<(f64, String)>,
}

/// The data range of `values` that a scale can draw (finite; positive when `log`), widened when
/// it is a single value. `None` when nothing can be drawn.
pub(crate) fn extent(values: impl Iterator<Item = f64>, log: bool) -> Option<(f64, f64)> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values {
        if v.is_finite() && (!log || v > 0.0) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if lo > hi {
        return None;
    }
    if lo == hi {
        if log {
            return Some((lo / 2.0, hi * 2.0));
        }
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.05 };
        return Some((lo - pad, hi + pad));
    }
    Some((lo, hi))
}

/// The 1-2-5 step that splits `range` into about `target` intervals.
fn nice_step(range: f64, target: usize) -> f64 {
    let raw = range / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let r = raw / mag;
    let nice = if r < 1.5 {
        1.0
    } else if r < 3.0 {
        2.0
    } else if r < 7.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Linear ticks over `(lo, hi)`. With `widen` the domain grows to the enclosing multiples of the
/// step (a "nice" axis); without, ticks are those inside the fixed domain.
pub(crate) fn linear_ticks(lo: f64, hi: f64, target: usize, widen: bool) -> Ticks {
    let step = nice_step(hi - lo, target);
    let (dlo, dhi) = if widen {
        ((lo / step).floor() * step, (hi / step).ceil() * step)
    } else {
        (lo, hi)
    };
    let k0 = (dlo / step - 1e-9).ceil() as i64;
    let k1 = (dhi / step + 1e-9).floor() as i64;
    let ticks = (k0..=k1)
        .map(|k| {
            let v = k as f64 * step;
            (v, format_tick(v, step))
        })
        .collect();
    Ticks {
        lo: dlo,
        hi: dhi,
        ticks,
    }
}

/// Log ticks over `(lo, hi)` (both positive): decades, plus 2 and 5 times them when the range
/// spans at most two decades. With `widen` the domain grows to whole decades.
pub(crate) fn log_ticks(lo: f64, hi: f64, widen: bool) -> Ticks {
    let e0 = lo.log10().floor() as i32;
    let e1 = hi.log10().ceil() as i32;
    let (dlo, dhi) = if widen {
        (10f64.powi(e0), 10f64.powi(e1))
    } else {
        (lo, hi)
    };
    let mults: &[f64] = if e1 - e0 <= 2 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let stride = ((e1 - e0) as usize / 8).max(1);
    let mut ticks = Vec::new();
    for e in e0..=e1 {
        if !((e - e0) as usize).is_multiple_of(stride) {
            continue;
        }
        let base = 10f64.powi(e);
        for m in mults {
            let v = base * m;
            if v >= dlo * (1.0 - 1e-9) && v <= dhi * (1.0 + 1e-9) {
                ticks.push((v, format_tick(v, v)));
            }
        }
    }
    Ticks {
        lo: dlo,
        hi: dhi,
        ticks,
    }
}

/// Ticks for an axis over a data extent, honouring a fixed range where one is given.
pub(crate) fn axis_ticks(
    extent: Option<(f64, f64)>,
    fixed: Option<(f64, f64)>,
    log: bool,
    target: usize,
) -> Ticks {
    let (lo, hi, widen) = match fixed {
        Some((a, b)) if a.is_finite() && b.is_finite() && a < b && (!log || a > 0.0) => {
            (a, b, false)
        }
        _ => match extent {
            Some((a, b)) => (a, b, true),
            None if log => (1.0, 10.0, true),
            None => (0.0, 1.0, true),
        },
    };
    if log {
        log_ticks(lo, hi, widen)
    } else {
        linear_ticks(lo, hi, target, widen)
    }
}

/// The plotting area of a chart, in pixels.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Frame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Frame {
    pub fn x0(&self) -> f64 {
        self.left
    }
    pub fn x1(&self) -> f64 {
        self.width - self.right
    }
    pub fn y0(&self) -> f64 {
        self.height - self.bottom
    }
    pub fn y1(&self) -> f64 {
        self.top
    }
}

/// The id placeholder of a chart's clip path, replaced by a content hash once the chart is
/// drawn, so that several charts inlined in one page never share an id.
pub(crate) const CLIP_PLACEHOLDER: &str = "@@CLIP@@";

/// Opens an `<svg>` root with its accessible title and white background.
pub(crate) fn open_svg(out: &mut String, width: f64, height: f64, title: &str, kind: &str) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"nascent-chart {kind}\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" font-family=\"{font}\" font-size=\"12\">",
        w = f(width),
        h = f(height),
        font = FONT
    );
    let _ = write!(out, "<title>{}</title>", escape(title));
    let _ = write!(
        out,
        "<rect class=\"background\" x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
        f(width),
        f(height)
    );
}

/// Closes the root and makes the clip id unique to this chart's content.
pub(crate) fn close_svg(mut out: String) -> String {
    out.push_str("</svg>");
    if out.contains(CLIP_PLACEHOLDER) {
        // FNV-1a over the drawn chart: equal charts get equal ids (and equal clip rectangles).
        let mut h: u64 = 0xcbf29ce484222325;
        for b in out.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        out = out.replace(CLIP_PLACEHOLDER, &format!("clip-{h:016x}"));
    }
    out
}

/// Draws the title, gridlines, axes, ticks and axis labels of an x/y chart, and defines the
/// clip path of the plotting area.
pub(crate) fn draw_axes(
    out: &mut String,
    frame: &Frame,
    title: &str,
    x: (&Scale, &Ticks, &str),
    y: (&Scale, &Ticks, &str),
) {
    let (xs, xt, xl) = x;
    let (ys, yt, yl) = y;
    let _ = write!(
        out,
        "<defs><clipPath id=\"{CLIP_PLACEHOLDER}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath></defs>",
        f(frame.x0()),
        f(frame.y1()),
        f(frame.x1() - frame.x0()),
        f(frame.y0() - frame.y1())
    );
    if !title.is_empty() {
        let _ = write!(
            out,
            "<text class=\"chart-title\" x=\"{}\" y=\"24\" font-size=\"15\" font-weight=\"600\" fill=\"#222\">{}</text>",
            f(frame.x0()),
            escape(title)
        );
    }
    // Gridlines and ticks.
    out.push_str("<g class=\"grid\" stroke=\"#e6e6e6\" stroke-width=\"1\">");
    for (v, _) in &xt.ticks {
        let px = xs.map(*v);
        let _ = write!(
            out,
            "<line x1=\"{p}\" y1=\"{}\" x2=\"{p}\" y2=\"{}\"/>",
            f(frame.y1()),
            f(frame.y0()),
            p = f(px)
        );
    }
    for (v, _) in &yt.ticks {
        let py = ys.map(*v);
        let _ = write!(
            out,
            "<line x1=\"{}\" y1=\"{p}\" x2=\"{}\" y2=\"{p}\"/>",
            f(frame.x0()),
            f(frame.x1()),
            p = f(py)
        );
    }
    out.push_str("</g>");
    let _ = write!(
        out,
        "<g class=\"axis\" stroke=\"#555\" stroke-width=\"1\"><line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\"/><line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{y1}\"/></g>",
        x0 = f(frame.x0()),
        x1 = f(frame.x1()),
        y0 = f(frame.y0()),
        y1 = f(frame.y1())
    );
    out.push_str("<g class=\"ticks\" fill=\"#444\" font-size=\"11\">");
    for (v, label) in &xt.ticks {
        let px = xs.map(*v);
        let _ = write!(
            out,
            "<line x1=\"{p}\" y1=\"{}\" x2=\"{p}\" y2=\"{}\" stroke=\"#555\"/><text class=\"tick\" x=\"{p}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            f(frame.y0()),
            f(frame.y0() + 5.0),
            f(frame.y0() + 18.0),
            escape(label),
            p = f(px)
        );
    }
    for (v, label) in &yt.ticks {
        let py = ys.map(*v);
        let _ = write!(
            out,
            "<line x1=\"{}\" y1=\"{p}\" x2=\"{}\" y2=\"{p}\" stroke=\"#555\"/><text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            f(frame.x0() - 5.0),
            f(frame.x0()),
            f(frame.x0() - 8.0),
            f(py + 4.0),
            escape(label),
            p = f(py)
        );
    }
    out.push_str("</g>");
    if !xl.is_empty() {
        let _ = write!(
            out,
            "<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#222\" font-size=\"12\">{}</text>",
            f((frame.x0() + frame.x1()) / 2.0),
            f(frame.height - 12.0),
            escape(xl)
        );
    }
    if !yl.is_empty() {
        let cy = (frame.y0() + frame.y1()) / 2.0;
        let _ = write!(
            out,
            "<text class=\"axis-label\" x=\"16\" y=\"{cy}\" transform=\"rotate(-90 16 {cy})\" text-anchor=\"middle\" fill=\"#222\" font-size=\"12\">{}</text>",
            escape(yl),
            cy = f(cy)
        );
    }
}

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Swatch {
    /// A short line (line series, fronts).
    Line,
    /// A marker of the given shape (scatter groups).
    Marker(Shape),
    /// A filled square (bars).
    Block,
}

/// Marker shapes, cycled with colours so groups differ in more than hue.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shape {
    Circle,
    Square,
    Diamond,
    Triangle,
}

impl Shape {
    pub fn nth(i: usize) -> Shape {
        [
            Shape::Circle,
            Shape::Square,
            Shape::Diamond,
            Shape::Triangle,
        ][i % 4]
    }

    /// Path data of the marker centred at (x, y) with radius r.
    pub fn path(self, x: f64, y: f64, r: f64) -> String {
        match self {
            Shape::Circle => format!(
                "M{} {}a{r} {r} 0 1 0 {} 0a{r} {r} 0 1 0 {} 0Z",
                f(x - r),
                f(y),
                f(2.0 * r),
                f(-2.0 * r),
                r = f(r)
            ),
            Shape::Square => {
                let s = r * 0.9;
                format!(
                    "M{} {}h{}v{}h{}Z",
                    f(x - s),
                    f(y - s),
                    f(2.0 * s),
                    f(2.0 * s),
                    f(-2.0 * s)
                )
            }
            Shape::Diamond => {
                let s = r * 1.25;
                format!(
                    "M{} {}L{} {}L{} {}L{} {}Z",
                    f(x),
                    f(y - s),
                    f(x + s),
                    f(y),
                    f(x),
                    f(y + s),
                    f(x - s),
                    f(y)
                )
            }
            Shape::Triangle => {
                let s = r * 1.2;
                format!(
                    "M{} {}L{} {}L{} {}Z",
                    f(x),
                    f(y - s),
                    f(x + s),
                    f(y + s * 0.8),
                    f(x - s),
                    f(y + s * 0.8)
                )
            }
        }
    }
}

/// Width in pixels of a legend holding `names` (names are cut to 28 characters).
pub(crate) fn legend_width(names: &[&str]) -> f64 {
    names
        .iter()
        .map(|n| text_width(&shorten(n, 28), 12.0))
        .fold(0.0, f64::max)
        + 34.0
}

/// Draws a legend with its top-left corner at (x, y).
pub(crate) fn draw_legend(out: &mut String, x: f64, y: f64, entries: &[(String, &str, Swatch)]) {
    if entries.is_empty() {
        return;
    }
    out.push_str("<g class=\"legend\" font-size=\"12\" fill=\"#222\">");
    for (i, (name, colour, swatch)) in entries.iter().enumerate() {
        let cy = y + 8.0 + i as f64 * 18.0;
        let _ = write!(
            out,
            "<g class=\"legend-entry\"><title>{}</title>",
            escape(name)
        );
        match swatch {
            Swatch::Line => {
                let _ = write!(
                    out,
                    "<line x1=\"{}\" y1=\"{c}\" x2=\"{}\" y2=\"{c}\" stroke=\"{colour}\" stroke-width=\"2.5\"/>",
                    f(x),
                    f(x + 20.0),
                    c = f(cy)
                );
            }
            Swatch::Marker(shape) => {
                let _ = write!(
                    out,
                    "<path d=\"{}\" fill=\"{colour}\" fill-opacity=\"0.8\" stroke=\"{colour}\"/>",
                    shape.path(x + 10.0, cy, 4.5)
                );
            }
            Swatch::Block => {
                let _ = write!(
                    out,
                    "<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"12\" fill=\"{colour}\"/>",
                    f(x + 3.0),
                    f(cy - 6.0)
                );
            }
        }
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\">{}</text></g>",
            f(x + 26.0),
            f(cy + 4.0),
            escape(&shorten(name, 28))
        );
    }
    out.push_str("</g>");
}

/// A message drawn in the middle of an empty plotting area.
pub(crate) fn draw_empty(out: &mut String, frame: &Frame) {
    let _ = write!(
        out,
        "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#888\" font-size=\"13\">no data</text>",
        f((frame.x0() + frame.x1()) / 2.0),
        f((frame.y0() + frame.y1()) / 2.0)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_linear_ticks() {
        let t = linear_ticks(0.3, 9.7, 6, true);
        assert_eq!(t.lo, 0.0);
        assert_eq!(t.hi, 10.0);
        let labels: Vec<&str> = t.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0", "2", "4", "6", "8", "10"]);
        let t = linear_ticks(93.61, 94.37, 5, true);
        let labels: Vec<&str> = t.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["93.6", "93.8", "94.0", "94.2", "94.4"]);
        // A fixed range keeps its ends; ticks stay inside.
        let t = linear_ticks(0.05, 0.95, 5, false);
        assert_eq!((t.lo, t.hi), (0.05, 0.95));
        assert!(t.ticks.iter().all(|(v, _)| *v >= 0.05 && *v <= 0.95));
        assert_eq!(t.ticks[0].1, "0.2");
    }

    #[test]
    fn log_ticks_are_decades() {
        let t = log_ticks(3.0, 4000.0, true);
        assert_eq!((t.lo, t.hi), (1.0, 10000.0));
        let labels: Vec<&str> = t.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["1", "10", "100", "1000", "10k"]);
        let t = log_ticks(0.02, 0.9, true);
        let labels: Vec<&str> = t.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"]);
    }

    #[test]
    fn values_and_ticks_format_compactly() {
        assert_eq!(format_value(94.3712), "94.37");
        assert_eq!(format_value(0.012345), "0.01235");
        assert_eq!(format_value(1_250_000.0), "1.25M");
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(f64::NAN), "–");
        assert_eq!(format_tick(2.5e6, 5e5), "2.5M");
        assert_eq!(format_tick(-0.0000001, 0.5), "0");
        assert_eq!(f(-0.001), "0");
        assert_eq!(f(12.5), "12.5");
    }

    #[test]
    fn escaping_covers_markup_and_controls() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>\u{1}"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;\u{FFFD}"
        );
    }

    #[test]
    fn extent_skips_bad_values_and_widens_points() {
        assert_eq!(
            extent([f64::NAN, 2.0, f64::INFINITY, 5.0].into_iter(), false),
            Some((2.0, 5.0))
        );
        assert_eq!(extent([0.0, -1.0, 4.0].into_iter(), true), Some((2.0, 8.0)));
        assert_eq!(extent(std::iter::empty(), false), None);
        assert_eq!(extent([10.0].into_iter(), false), Some((9.5, 10.5)));
    }
}
