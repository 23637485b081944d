//! Line charts: best-so-far curves with ±std bands, learning curves.

use super::{
    Frame, HEIGHT, Scale, Swatch, WIDTH, axis_ticks, close_svg, colour, draw_axes, draw_empty,
    draw_legend, escape, extent, f, legend_width, open_svg,
};
use std::fmt::Write;

/// Above this many series a line chart switches to thin, translucent lines without a legend
/// (each line still names itself in a tooltip): the look of many learning curves.
pub const MANY_SERIES: usize = 10;

/// One line of a [`LineChart`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Name shown in the legend and the line's tooltip.
    pub name: String,
    /// The points (x, y), in drawing order. Non-finite points (and non-positive x on a log axis)
    /// break the line.
    pub points: Vec<(f64, f64)>,
    /// An optional shaded band (x, lo, hi), for example mean ± standard deviation.
    pub band: Option<Vec<(f64, f64, f64)>>,
}

impl Series {
    /// A series without a band.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
            band: None,
        }
    }

    /// The same series with a band (x, lo, hi).
    pub fn with_band(mut self, band: Vec<(f64, f64, f64)>) -> Self {
        self.band = Some(band);
        self
    }

    /// A series of means with a band of ±1.96 standard errors (`std / sqrt(runs)`): the 95 %
    /// confidence interval of each mean, from (x, mean, std) triples over `runs` runs. Unlike
    /// a ±std band it narrows with more runs and stays near the line.
    pub fn mean_se(name: impl Into<String>, stats: &[(f64, f64, f64)], runs: usize) -> Self {
        let k = 1.96 / (runs.max(1) as f64).sqrt();
        Series {
            name: name.into(),
            points: stats.iter().map(|&(x, m, _)| (x, m)).collect(),
            band: Some(
                stats
                    .iter()
                    .map(|&(x, m, s)| (x, m - k * s, m + k * s))
                    .collect(),
            ),
        }
    }

    /// A series of means with a ±std band from (x, mean, std) triples.
    pub fn mean_std(name: impl Into<String>, stats: &[(f64, f64, f64)]) -> Self {
        Series {
            name: name.into(),
            points: stats.iter().map(|&(x, m, _)| (x, m)).collect(),
            band: Some(stats.iter().map(|&(x, m, s)| (x, m - s, m + s)).collect()),
        }
    }
}

/// One strategy's best-so-far curve summarised over runs, for
/// [`LineChart::best_so_far_over_runs`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunCurve {
    /// The strategy's name.
    pub name: String,
    /// Mean over runs after each query (query 1 first).
    pub mean: Vec<f64>,
    /// Standard deviation over runs after each query.
    pub std: Vec<f64>,
    /// How many runs.
    pub runs: usize,
}

/// A chart of lines over a shared x axis.
///
/// Draws one `path.series` per series with at least one drawable point and one `path.band` per
/// band with at least one drawable triple. With more than `MANY_SERIES` (10) series the lines are
/// thin and translucent and the legend is replaced by a note.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineChart {
    /// Title above the chart.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// The lines, coloured in order from [`super::PALETTE`].
    pub series: Vec<Series>,
    /// A fixed y range (lo, hi); lines are clipped to it. `None` fits the data.
    pub y_range: Option<(f64, f64)>,
    /// Whether the x axis is logarithmic (x must then be positive).
    pub log_x: bool,
}

impl LineChart {
    /// Best-so-far against queries over many runs, one line per strategy: the mean with its
    /// 95 % confidence band (±1.96 standard errors). The y axis is fitted to the lines (their
    /// means from a tenth of the queries on, padded by 5 %), so that the bands, which only
    /// narrow the view, never set it.
    pub fn best_so_far_over_runs(
        title: impl Into<String>,
        y_label: impl Into<String>,
        curves: &[RunCurve],
    ) -> LineChart {
        let series: Vec<Series> = curves
            .iter()
            .map(|c| {
                let stats: Vec<(f64, f64, f64)> = c
                    .mean
                    .iter()
                    .zip(&c.std)
                    .enumerate()
                    .map(|(q, (&m, &s))| ((q + 1) as f64, m, s))
                    .collect();
                Series::mean_se(c.name.clone(), &stats, c.runs)
            })
            .collect();
        let queries = curves.iter().map(|c| c.mean.len()).max().unwrap_or(0);
        let from = (queries / 10).max(1) - 1;
        let shown = curves
            .iter()
            .flat_map(|c| c.mean.iter().skip(from))
            .copied()
            .filter(|v| v.is_finite());
        let (lo, hi) = shown.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let pad = ((hi - lo) * 0.05).max(1e-9);
        LineChart {
            title: title.into(),
            x_label: "queries".into(),
            y_label: y_label.into(),
            series,
            y_range: (lo.is_finite() && hi >= lo).then_some((lo - pad, hi + pad)),
            log_x: false,
        }
    }

    /// The chart as a standalone SVG element.
    pub fn to_svg(&self) -> String {
        let many = self.series.len() > MANY_SERIES;
        let names: Vec<&str> = self.series.iter().map(|s| s.name.as_str()).collect();
        let show_legend = !many && names.iter().any(|n| !n.is_empty());
        let right = if show_legend {
            legend_width(&names) + 28.0
        } else {
            24.0
        };
        let frame = Frame {
            width: WIDTH.max(right + 420.0),
            height: HEIGHT,
            left: 70.0,
            right,
            top: 44.0,
            bottom: 54.0,
        };

        let xs = self.series.iter().flat_map(|s| {
            s.points
                .iter()
                .map(|p| p.0)
                .chain(s.band.iter().flatten().map(|b| b.0))
        });
        let xs: Vec<f64> = xs.collect();
        let x_ext = match extent(xs.iter().copied(), self.log_x) {
            // Every point at one x (trials that ran one epoch): a unit either side, not ±5 %.
            Some(_) if !self.log_x && xs.iter().all(|&x| !x.is_finite() || x == xs[0]) => {
                Some((xs[0] - 1.0, xs[0] + 1.0))
            }
            e => e,
        };
        let ys = self.series.iter().flat_map(|s| {
            s.points
                .iter()
                .filter(|p| p.0.is_finite())
                .map(|p| p.1)
                .chain(s.band.iter().flatten().flat_map(|b| [b.1, b.2]))
        });
        let y_ext = extent(ys, false);
        let xt = axis_ticks(x_ext, None, self.log_x, 7);
        let yt = axis_ticks(y_ext, self.y_range, false, 6);
        let xs = Scale {
            lo: xt.lo,
            hi: xt.hi,
            log: self.log_x,
            px0: frame.x0(),
            px1: frame.x1(),
        };
        let ys = Scale {
            lo: yt.lo,
            hi: yt.hi,
            log: false,
            px0: frame.y0(),
            px1: frame.y1(),
        };

        let mut out = String::new();
        open_svg(
            &mut out,
            frame.width,
            frame.height,
            &self.title,
            "line-chart",
        );
        draw_axes(
            &mut out,
            &frame,
            &self.title,
            (&xs, &xt, &self.x_label),
            (&ys, &yt, &self.y_label),
        );
        if x_ext.is_none() || y_ext.is_none() {
            draw_empty(&mut out, &frame);
        }

        out.push_str("<g class=\"plot\" clip-path=\"url(#@@CLIP@@)\">");
        for (i, s) in self.series.iter().enumerate() {
            if let Some(band) = &s.band
                && let Some(d) = band_path(band, &xs, &ys)
            {
                let _ = write!(
                    out,
                    "<path class=\"band\" d=\"{d}\" fill=\"{}\" fill-opacity=\"0.16\" stroke=\"none\"><title>{}</title></path>",
                    colour(i),
                    escape(&s.name)
                );
            }
        }
        let (width, opacity) = if many { (1.2, 0.55) } else { (2.0, 1.0) };
        for (i, s) in self.series.iter().enumerate() {
            if let Some(d) = line_path(&s.points, &xs, &ys) {
                let _ = write!(
                    out,
                    "<path class=\"series\" d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{width}\" stroke-opacity=\"{opacity}\" stroke-linejoin=\"round\" stroke-linecap=\"round\"><title>{}</title></path>",
                    colour(i),
                    escape(&s.name)
                );
            }
        }
        // Points that no line joins (a curve of one value) are drawn as dots.
        for (i, s) in self.series.iter().enumerate() {
            for (x, y) in isolated(&s.points, &xs, &ys) {
                let _ = write!(
                    out,
                    "<circle class=\"point\" cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{}\" fill-opacity=\"{}\"><title>{}</title></circle>",
                    f(x),
                    f(y),
                    colour(i),
                    if many { 0.7 } else { 1.0 },
                    escape(&s.name)
                );
            }
        }
        out.push_str("</g>");

        if show_legend {
            let entries: Vec<(String, &str, Swatch)> = self
                .series
                .iter()
                .enumerate()
                .map(|(i, s)| (s.name.clone(), colour(i), Swatch::Line))
                .collect();
            draw_legend(&mut out, frame.x1() + 16.0, frame.y1(), &entries);
        } else if many {
            let _ = write!(
                out,
                "<text class=\"note\" x=\"{}\" y=\"24\" text-anchor=\"end\" fill=\"#666\" font-size=\"11\">{} series (hover a line for its name)</text>",
                f(frame.x1()),
                self.series.len()
            );
        }
        close_svg(out)
    }
}

/// Path data through the drawable points, starting a new sub-path after each gap. An isolated
/// point becomes a dot (a zero-length segment with a round cap).
fn line_path(points: &[(f64, f64)], xs: &Scale, ys: &Scale) -> Option<String> {
    let mut d = String::new();
    let mut pen_down = false;
    let mut run = 0usize;
    for &(x, y) in points {
        if xs.accepts(x) && ys.accepts(y) {
            let cmd = if pen_down { 'L' } else { 'M' };
            let _ = write!(d, "{cmd}{} {}", f(xs.map(x)), f(ys.map(y)));
            pen_down = true;
            run += 1;
        } else {
            if run == 1 {
                d.push_str("h0");
            }
            pen_down = false;
            run = 0;
        }
    }
    if run == 1 {
        d.push_str("h0");
    }
    (!d.is_empty()).then_some(d)
}

/// Path data of a band: along the upper edge and back along the lower one (drawable triples
/// only).
fn band_path(band: &[(f64, f64, f64)], xs: &Scale, ys: &Scale) -> Option<String> {
    let ok: Vec<&(f64, f64, f64)> = band
        .iter()
        .filter(|b| xs.accepts(b.0) && ys.accepts(b.1) && ys.accepts(b.2))
        .collect();
    if ok.is_empty() {
        return None;
    }
    let mut d = String::new();
    for (k, b) in ok.iter().enumerate() {
        let cmd = if k == 0 { 'M' } else { 'L' };
        let _ = write!(d, "{cmd}{} {}", f(xs.map(b.0)), f(ys.map(b.2)));
    }
    for b in ok.iter().rev() {
        let _ = write!(d, "L{} {}", f(xs.map(b.0)), f(ys.map(b.1)));
    }
    d.push('Z');
    Some(d)
}

/// The pixel positions of the drawable points with no drawable neighbour.
fn isolated(points: &[(f64, f64)], xs: &Scale, ys: &Scale) -> Vec<(f64, f64)> {
    let ok = |p: &(f64, f64)| xs.accepts(p.0) && ys.accepts(p.1);
    (0..points.len())
        .filter(|&i| {
            ok(&points[i])
                && (i == 0 || !ok(&points[i - 1]))
                && (i + 1 == points.len() || !ok(&points[i + 1]))
        })
        .map(|i| (xs.map(points[i].0), ys.map(points[i].1)))
        .collect()
}
