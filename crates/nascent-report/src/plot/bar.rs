//! Bar charts: horizontal or vertical, single or grouped bars per category.

use super::{
    HEIGHT, Scale, Swatch, WIDTH, close_svg, colour, draw_legend, escape, extent, f, format_value,
    legend_width, linear_ticks, open_svg, shorten, text_width,
};
use std::fmt::Write;

/// Which way the bars run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Orientation {
    /// Bars run left to right; categories are listed down the left side (best for long names).
    #[default]
    Horizontal,
    /// Bars run upwards; categories are listed along the bottom.
    Vertical,
}

/// One series of bars: a value per category.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BarGroup {
    /// Name in the legend ("top 10", "all trials").
    pub name: String,
    /// One value per category of the chart, in the chart's category order (missing values are
    /// drawn as nothing; non-finite values are skipped).
    pub values: Vec<f64>,
}

/// A bar chart: for each category one bar per group, side by side.
///
/// Draws one `rect.bar` per finite value, each with a `<title>` tooltip and its value printed
/// at the bar's end. The value axis always includes zero.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BarChart {
    /// Title above the chart.
    pub title: String,
    /// Label of the value axis.
    pub value_label: String,
    /// The category names (operations, say).
    pub categories: Vec<String>,
    /// The groups of bars, coloured in order from [`super::PALETTE`].
    pub groups: Vec<BarGroup>,
    /// Which way the bars run.
    pub orientation: Orientation,
}

impl BarChart {
    /// The chart as a standalone SVG element.
    pub fn to_svg(&self) -> String {
        let n_cat = self.categories.len();
        let n_grp = self.groups.len().max(1);
        let legend_names: Vec<&str> = self.groups.iter().map(|g| g.name.as_str()).collect();
        let show_legend = self.groups.iter().any(|g| !g.name.is_empty());
        let legend_w = if show_legend {
            legend_width(&legend_names) + 28.0
        } else {
            24.0
        };
        let values = self.groups.iter().flat_map(|g| {
            g.values
                .iter()
                .take(n_cat)
                .copied()
                .chain(std::iter::once(0.0))
        });
        let (lo, hi) = extent(values.chain(std::iter::once(0.0)), false).unwrap_or((0.0, 1.0));
        let ticks = linear_ticks(lo, hi, 6, true);
        let horizontal = self.orientation == Orientation::Horizontal;
        let bar = if n_grp > 1 { 14.0 } else { 20.0 };
        let gap = 12.0;
        let band = n_grp as f64 * bar + gap;
        let cat_names: Vec<String> = self.categories.iter().map(|c| shorten(c, 26)).collect();
        let longest = cat_names
            .iter()
            .map(|c| text_width(c, 12.0))
            .fold(0.0, f64::max);

        let mut out = String::new();
        let (width, height);
        if horizontal {
            let left = (longest + 24.0).max(70.0);
            width = WIDTH.max(left + legend_w + 360.0);
            height = (44.0 + 54.0 + n_cat as f64 * band + gap).max(160.0);
            let (x0, x1) = (left, width - legend_w);
            let (y0, y1) = (height - 54.0, 44.0);
            let vs = Scale {
                lo: ticks.lo,
                hi: ticks.hi,
                log: false,
                px0: x0,
                px1: x1 - 40.0,
            };
            open_svg(&mut out, width, height, &self.title, "bar-chart");
            self.draw_title(&mut out, x0);
            out.push_str("<g class=\"grid\" stroke=\"#e6e6e6\">");
            for (v, _) in &ticks.ticks {
                let _ = write!(
                    out,
                    "<line x1=\"{p}\" y1=\"{}\" x2=\"{p}\" y2=\"{}\"/>",
                    f(y1),
                    f(y0),
                    p = f(vs.map(*v))
                );
            }
            out.push_str("</g><g class=\"ticks\" fill=\"#444\" font-size=\"11\">");
            for (v, label) in &ticks.ticks {
                let _ = write!(
                    out,
                    "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                    f(vs.map(*v)),
                    f(y0 + 18.0),
                    escape(label)
                );
            }
            out.push_str("</g>");
            let _ = write!(
                out,
                "<g class=\"axis\" stroke=\"#555\"><line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\"/><line x1=\"{z}\" y1=\"{y0}\" x2=\"{z}\" y2=\"{y1}\"/></g>",
                x0 = f(x0),
                x1 = f(x1),
                y0 = f(y0),
                y1 = f(y1),
                z = f(vs.map(0.0))
            );
            out.push_str("<g class=\"categories\" fill=\"#222\" font-size=\"12\">");
            for (c, name) in cat_names.iter().enumerate() {
                let cy = y1 + gap + c as f64 * band + (band - gap) / 2.0;
                let _ = write!(
                    out,
                    "<text class=\"category\" x=\"{}\" y=\"{}\" text-anchor=\"end\"><title>{}</title>{}</text>",
                    f(x0 - 8.0),
                    f(cy + 4.0),
                    escape(&self.categories[c]),
                    escape(name)
                );
            }
            out.push_str("</g><g class=\"bars\" font-size=\"11\">");
            for (g, group) in self.groups.iter().enumerate() {
                for (c, &v) in group.values.iter().take(n_cat).enumerate() {
                    if !v.is_finite() {
                        continue;
                    }
                    let y = y1 + gap + c as f64 * band + g as f64 * bar;
                    let (a, b) = (vs.map(0.0), vs.map(v));
                    let _ = write!(
                        out,
                        "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}</title></rect>",
                        f(a.min(b)),
                        f(y + 1.0),
                        f((b - a).abs()),
                        f(bar - 2.0),
                        colour(g),
                        escape(&self.tooltip(g, c, v))
                    );
                    let (tx, anchor) = if v >= 0.0 {
                        (b + 4.0, "start")
                    } else {
                        (b - 4.0, "end")
                    };
                    let _ = write!(
                        out,
                        "<text class=\"bar-value\" x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" fill=\"#333\">{}</text>",
                        f(tx),
                        f(y + bar / 2.0 + 3.5),
                        format_value(v)
                    );
                }
            }
            out.push_str("</g>");
            if !self.value_label.is_empty() {
                let _ = write!(
                    out,
                    "<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#222\">{}</text>",
                    f((x0 + x1) / 2.0),
                    f(height - 12.0),
                    escape(&self.value_label)
                );
            }
            if show_legend {
                draw_legend(&mut out, x1 + 16.0, y1, &self.legend());
            }
        } else {
            let left = 70.0;
            let rotate = longest > band - 4.0;
            let bottom = if rotate { longest * 0.75 + 44.0 } else { 54.0 };
            width = WIDTH.max(left + legend_w + n_cat as f64 * band + gap);
            height = HEIGHT.max(44.0 + bottom + 240.0);
            let (x0, x1) = (left, width - legend_w);
            let (y0, y1) = (height - bottom, 44.0);
            let band = (x1 - x0 - gap) / n_cat.max(1) as f64;
            let bar = ((band - gap) / n_grp as f64).min(40.0);
            let vs = Scale {
                lo: ticks.lo,
                hi: ticks.hi,
                log: false,
                px0: y0,
                px1: y1 + 16.0,
            };
            open_svg(&mut out, width, height, &self.title, "bar-chart");
            self.draw_title(&mut out, x0);
            out.push_str("<g class=\"grid\" stroke=\"#e6e6e6\">");
            for (v, _) in &ticks.ticks {
                let _ = write!(
                    out,
                    "<line x1=\"{}\" y1=\"{p}\" x2=\"{}\" y2=\"{p}\"/>",
                    f(x0),
                    f(x1),
                    p = f(vs.map(*v))
                );
            }
            out.push_str("</g><g class=\"ticks\" fill=\"#444\" font-size=\"11\">");
            for (v, label) in &ticks.ticks {
                let _ = write!(
                    out,
                    "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                    f(x0 - 8.0),
                    f(vs.map(*v) + 4.0),
                    escape(label)
                );
            }
            out.push_str("</g>");
            let _ = write!(
                out,
                "<g class=\"axis\" stroke=\"#555\"><line x1=\"{x0}\" y1=\"{z}\" x2=\"{x1}\" y2=\"{z}\"/><line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{y1}\"/></g>",
                x0 = f(x0),
                x1 = f(x1),
                y0 = f(y0),
                y1 = f(y1),
                z = f(vs.map(0.0))
            );
            out.push_str("<g class=\"categories\" fill=\"#222\" font-size=\"12\">");
            for (c, name) in cat_names.iter().enumerate() {
                let cx = x0 + gap + c as f64 * band + (band - gap) / 2.0;
                let cy = y0 + 18.0;
                let transform = if rotate {
                    format!(
                        " transform=\"rotate(-35 {} {})\" text-anchor=\"end\"",
                        f(cx),
                        f(cy)
                    )
                } else {
                    " text-anchor=\"middle\"".to_string()
                };
                let _ = write!(
                    out,
                    "<text class=\"category\" x=\"{}\" y=\"{}\"{transform}><title>{}</title>{}</text>",
                    f(cx),
                    f(cy),
                    escape(&self.categories[c]),
                    escape(name)
                );
            }
            out.push_str("</g><g class=\"bars\" font-size=\"11\">");
            for (g, group) in self.groups.iter().enumerate() {
                for (c, &v) in group.values.iter().take(n_cat).enumerate() {
                    if !v.is_finite() {
                        continue;
                    }
                    let centre = x0 + gap + c as f64 * band + (band - gap) / 2.0;
                    let x = centre - n_grp as f64 * bar / 2.0 + g as f64 * bar;
                    let (a, b) = (vs.map(0.0), vs.map(v));
                    let _ = write!(
                        out,
                        "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}</title></rect>",
                        f(x + 1.0),
                        f(a.min(b)),
                        f(bar - 2.0),
                        f((b - a).abs()),
                        colour(g),
                        escape(&self.tooltip(g, c, v))
                    );
                    let ty = if v >= 0.0 { b - 4.0 } else { b + 12.0 };
                    let _ = write!(
                        out,
                        "<text class=\"bar-value\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#333\">{}</text>",
                        f(x + bar / 2.0),
                        f(ty),
                        format_value(v)
                    );
                }
            }
            out.push_str("</g>");
            if !self.value_label.is_empty() {
                let cy = (y0 + y1) / 2.0;
                let _ = write!(
                    out,
                    "<text class=\"axis-label\" x=\"16\" y=\"{cy}\" transform=\"rotate(-90 16 {cy})\" text-anchor=\"middle\" fill=\"#222\">{}</text>",
                    escape(&self.value_label),
                    cy = f(cy)
                );
            }
            if show_legend {
                draw_legend(&mut out, x1 + 16.0, y1, &self.legend());
            }
        }
        if n_cat == 0 {
            let _ = write!(
                out,
                "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#888\" font-size=\"13\">no data</text>",
                f(width / 2.0),
                f(height / 2.0)
            );
        }
        close_svg(out)
    }

    fn draw_title(&self, out: &mut String, x: f64) {
        if !self.title.is_empty() {
            let _ = write!(
                out,
                "<text class=\"chart-title\" x=\"{}\" y=\"24\" font-size=\"15\" font-weight=\"600\" fill=\"#222\">{}</text>",
                f(x),
                escape(&self.title)
            );
        }
    }

    fn tooltip(&self, g: usize, c: usize, v: f64) -> String {
        let name = &self.groups[g].name;
        if name.is_empty() {
            format!("{}: {}", self.categories[c], format_value(v))
        } else {
            format!("{} · {}: {}", name, self.categories[c], format_value(v))
        }
    }

    fn legend(&self) -> Vec<(String, &'static str, Swatch)> {
        self.groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.name.clone(), colour(i), Swatch::Block))
            .collect()
    }
}
