//! Scatter charts: trials in groups, with an optional Pareto front drawn as a step line.

use super::{
    Frame, HEIGHT, Scale, Shape, Swatch, Ticks, WIDTH, axis_ticks, close_svg, colour, draw_axes,
    draw_empty, draw_legend, escape, extent, f, format_value, legend_width, open_svg,
};
use nascent_core::Direction;
use std::fmt::Write;

/// The colour of the Pareto front (vermillion is also a palette colour; the front is drawn
/// darker and thicker so it stands apart from the groups).
const FRONT_COLOUR: &str = "#A23B00";

/// One point of a [`ScatterChart`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScatterPoint {
    /// x value.
    pub x: f64,
    /// y value.
    pub y: f64,
    /// Tooltip text (an architecture, a trial number); `None` shows the coordinates only.
    pub label: Option<String>,
}

impl ScatterPoint {
    /// A point without a label.
    pub fn new(x: f64, y: f64) -> Self {
        ScatterPoint { x, y, label: None }
    }

    /// A point with a tooltip label.
    pub fn labelled(x: f64, y: f64, label: impl Into<String>) -> Self {
        ScatterPoint {
            x,
            y,
            label: Some(label.into()),
        }
    }
}

/// A named group of points sharing a colour and marker shape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PointGroup {
    /// Name in the legend.
    pub name: String,
    /// The points.
    pub points: Vec<ScatterPoint>,
}

/// A Pareto front over the chart's two axes, with the direction of each axis.
///
/// Drawn as the attainment staircase: between two neighbouring front points the line turns at
/// the corner that is worse than both in each coordinate.
#[derive(Clone, Debug, PartialEq)]
pub struct ParetoFront {
    /// Name in the legend ("Pareto front").
    pub name: String,
    /// The non-dominated points (any order).
    pub points: Vec<(f64, f64)>,
    /// Whether larger or smaller x is better.
    pub x_direction: Direction,
    /// Whether larger or smaller y is better.
    pub y_direction: Direction,
}

impl ParetoFront {
    /// The front of `points` (non-dominated under the directions), computed with
    /// [`nascent_core::pareto::pareto_front`]. Non-finite points are ignored.
    pub fn of(
        name: impl Into<String>,
        points: &[(f64, f64)],
        x_direction: Direction,
        y_direction: Direction,
    ) -> Self {
        let finite: Vec<(f64, f64)> = points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        let loss = |v: f64, d: Direction| match d {
            Direction::Maximize => -v,
            Direction::Minimize => v,
        };
        let losses: Vec<Vec<f64>> = finite
            .iter()
            .map(|&(x, y)| vec![loss(x, x_direction), loss(y, y_direction)])
            .collect();
        let mut front: Vec<(f64, f64)> = nascent_core::pareto::pareto_front(&losses)
            .into_iter()
            .map(|i| finite[i])
            .collect();
        front.dedup();
        ParetoFront {
            name: name.into(),
            points: front,
            x_direction,
            y_direction,
        }
    }

    /// The vertices of the staircase through the front, sorted by x.
    pub fn staircase(&self) -> Vec<(f64, f64)> {
        let mut pts: Vec<(f64, f64)> = self
            .points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let worse = |a: f64, b: f64, d: Direction| match d {
            Direction::Maximize => a.min(b),
            Direction::Minimize => a.max(b),
        };
        let mut out = Vec::with_capacity(pts.len() * 2);
        for (k, &p) in pts.iter().enumerate() {
            if k > 0 {
                let q = pts[k - 1];
                out.push((
                    worse(p.0, q.0, self.x_direction),
                    worse(p.1, q.1, self.y_direction),
                ));
            }
            out.push(p);
        }
        out
    }
}

/// A scatter chart of point groups, optionally with a Pareto front.
///
/// Draws one `path.point` per drawable point (groups differ in colour and marker shape), each
/// with a `<title>` tooltip, and, with a front, one `path.front` staircase and one
/// `path.front-point` ring per front point.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScatterChart {
    /// Title above the chart.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// The groups of points, coloured in order from [`super::PALETTE`].
    pub groups: Vec<PointGroup>,
    /// An optional Pareto front.
    pub front: Option<ParetoFront>,
    /// Whether the x axis is logarithmic.
    pub log_x: bool,
    /// Whether the y axis is logarithmic.
    pub log_y: bool,
}

impl ScatterChart {
    /// The chart as a standalone SVG element.
    pub fn to_svg(&self) -> String {
        let mut entries: Vec<(String, &str, Swatch)> = self
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| !g.name.is_empty())
            .map(|(i, g)| (g.name.clone(), colour(i), Swatch::Marker(Shape::nth(i))))
            .collect();
        if let Some(front) = &self.front
            && !front.name.is_empty()
        {
            entries.push((front.name.clone(), FRONT_COLOUR, Swatch::Line));
        }
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        let right = if entries.is_empty() {
            24.0
        } else {
            legend_width(&names) + 28.0
        };
        let frame = Frame {
            width: WIDTH.max(right + 420.0),
            height: HEIGHT,
            left: 70.0,
            right,
            top: 44.0,
            bottom: 54.0,
        };
        let all = || {
            self.groups
                .iter()
                .flat_map(|g| g.points.iter().map(|p| (p.x, p.y)))
                .chain(self.front.iter().flat_map(|fr| fr.points.iter().copied()))
        };
        let x_ext = extent(all().filter(|p| p.1.is_finite()).map(|p| p.0), self.log_x);
        let y_ext = extent(all().filter(|p| p.0.is_finite()).map(|p| p.1), self.log_y);
        let xt = margin(axis_ticks(x_ext, None, self.log_x, 7), x_ext, self.log_x);
        let yt = margin(axis_ticks(y_ext, None, self.log_y, 6), y_ext, self.log_y);
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
            log: self.log_y,
            px0: frame.y0(),
            px1: frame.y1(),
        };

        let mut out = String::new();
        open_svg(
            &mut out,
            frame.width,
            frame.height,
            &self.title,
            "scatter-chart",
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
        for (i, g) in self.groups.iter().enumerate() {
            let shape = Shape::nth(i);
            let c = colour(i);
            let _ = write!(out, "<g class=\"group\" fill=\"{c}\" stroke=\"{c}\">");
            for p in &g.points {
                if !(xs.accepts(p.x) && ys.accepts(p.y)) {
                    continue;
                }
                let coords = format!("({}, {})", format_value(p.x), format_value(p.y));
                let tip = match &p.label {
                    Some(l) => format!("{l}\n{coords}"),
                    None if g.name.is_empty() => coords,
                    None => format!("{}\n{coords}", g.name),
                };
                let _ = write!(
                    out,
                    "<path class=\"point\" d=\"{}\" fill-opacity=\"0.55\" stroke-width=\"1\"><title>{}</title></path>",
                    shape.path(xs.map(p.x), ys.map(p.y), 4.0),
                    escape(&tip)
                );
            }
            out.push_str("</g>");
        }
        if let Some(front) = &self.front {
            let stairs: Vec<(f64, f64)> = front
                .staircase()
                .into_iter()
                .filter(|p| xs.accepts(p.0) && ys.accepts(p.1))
                .collect();
            if !stairs.is_empty() {
                let mut d = String::new();
                for (k, p) in stairs.iter().enumerate() {
                    let cmd = if k == 0 { 'M' } else { 'L' };
                    let _ = write!(d, "{cmd}{} {}", f(xs.map(p.0)), f(ys.map(p.1)));
                }
                if stairs.len() == 1 {
                    d.push_str("h0");
                }
                let _ = write!(
                    out,
                    "<path class=\"front\" d=\"{d}\" fill=\"none\" stroke=\"{FRONT_COLOUR}\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"><title>{}</title></path>",
                    escape(&front.name)
                );
            }
            for &(x, y) in &front.points {
                if !(xs.accepts(x) && ys.accepts(y)) {
                    continue;
                }
                let _ = write!(
                    out,
                    "<path class=\"front-point\" d=\"{}\" fill=\"none\" stroke=\"{FRONT_COLOUR}\" stroke-width=\"1.5\"><title>{} ({}, {})</title></path>",
                    Shape::Circle.path(xs.map(x), ys.map(y), 6.5),
                    escape(&front.name),
                    format_value(x),
                    format_value(y)
                );
            }
        }
        out.push_str("</g>");
        draw_legend(&mut out, frame.x1() + 16.0, frame.y1(), &entries);
        close_svg(out)
    }
}

/// Gives the domain a 3% margin on a side where data sits on its edge, so that markers there are
/// not cut in half (the ticks stay where they are).
fn margin(mut t: Ticks, ext: Option<(f64, f64)>, log: bool) -> Ticks {
    let Some((lo, hi)) = ext else { return t };
    if log {
        let r = (t.hi / t.lo).powf(0.03);
        if lo < t.lo * r {
            t.lo /= r;
        }
        if hi > t.hi / r {
            t.hi *= r;
        }
    } else {
        let p = (t.hi - t.lo) * 0.03;
        if lo < t.lo + p {
            t.lo -= p;
        }
        if hi > t.hi - p {
            t.hi += p;
        }
    }
    t
}
