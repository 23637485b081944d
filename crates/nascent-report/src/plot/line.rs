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

    /// A series of means with a ±std band from (x, mean, std) triples.
    pub fn mean_std(name: impl Into<String>, stats: &[(f64, f64, f64)]) -> Self {
        Series {
            name: name.into(),
            points: stats.iter().map(|&(x, m, _)| (x, m)).collect(),
            band: Some(stats.iter().map(|&(x, m, s)| (x, m - s, m + s)).collect()),
        }
    }
}

/// A chart of lines over a shared x axis.
///
/// Draws one `path.series` per series with at least one drawable point and one `path.band` per
/// band with at least one drawable triple. With more than [`MANY_SERIES`] series the lines are
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
        let x_ext = extent(xs, self.log_x);
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
