//! Structure of the SVG charts: well-formed XML, the expected number of elements, escaping.

use nascent_core::Direction;
use nascent_report::plot::{
    BarChart, BarGroup, LineChart, Orientation, PALETTE, ParetoFront, PointGroup, ScatterChart,
    ScatterPoint, Series,
};
use roxmltree::Document;

/// Parses `svg` (panicking with the XML error and the text on failure) and checks the root.
fn parse(svg: &str) -> Document<'_> {
    let doc = Document::parse(svg).unwrap_or_else(|e| panic!("invalid XML: {e}\n{svg}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    assert!(root.attribute("viewBox").is_some());
    doc
}

fn with_class<'a>(doc: &'a Document<'a>, class: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split_whitespace().any(|w| w == class))
        })
        .collect()
}

fn texts(doc: &Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            n.children()
                .filter(|c| c.is_text())
                .filter_map(|c| c.text())
                .collect()
        })
        .collect()
}

fn path_numbers(d: &str) -> Vec<f64> {
    d.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

#[test]
fn line_chart_has_one_path_per_series_and_band() {
    let chart = LineChart {
        title: "Best so far <CIFAR-10>".into(),
        x_label: "queries".into(),
        y_label: "test accuracy (%)".into(),
        series: vec![
            Series::mean_std(
                "random & co",
                &[(1.0, 90.0, 1.0), (50.0, 93.5, 0.4), (100.0, 93.7, 0.36)],
            ),
            Series::new("evolution", vec![(1.0, 90.5), (50.0, 93.8), (100.0, 93.9)]),
        ],
        y_range: None,
        log_x: false,
    };
    let svg = chart.to_svg();
    let doc = parse(&svg);
    assert_eq!(with_class(&doc, "series").len(), 2);
    assert_eq!(with_class(&doc, "band").len(), 1);
    // Legend lists both names, escaped in the source and intact once parsed.
    assert!(svg.contains("random &amp; co"));
    assert!(svg.contains("Best so far &lt;CIFAR-10&gt;"));
    let t = texts(&doc);
    assert!(t.iter().any(|s| s == "random & co"));
    assert!(t.iter().any(|s| s == "Best so far <CIFAR-10>"));
    assert!(t.iter().any(|s| s == "queries"));
    assert_eq!(with_class(&doc, "legend-entry").len(), 2);
    // Series take palette colours in order.
    let series = with_class(&doc, "series");
    assert_eq!(series[0].attribute("stroke"), Some(PALETTE[0]));
    assert_eq!(series[1].attribute("stroke"), Some(PALETTE[1]));
    // The band has 3 upper + 3 lower vertices.
    let band = with_class(&doc, "band")[0].attribute("d").unwrap();
    assert_eq!(path_numbers(band).len(), 12);
    // Ticks are nice numbers covering the data.
    let ticks: Vec<String> = with_class(&doc, "tick")
        .iter()
        .map(|n| n.text().unwrap().to_string())
        .collect();
    assert!(ticks.contains(&"100".to_string()), "{ticks:?}");
    assert!(ticks.contains(&"0".to_string()), "{ticks:?}");
}

#[test]
fn line_chart_points_map_inside_the_frame_and_gaps_break_lines() {
    let chart = LineChart {
        series: vec![Series::new(
            "s",
            vec![(1.0, 1.0), (2.0, f64::NAN), (3.0, 3.0), (4.0, 4.0)],
        )],
        ..LineChart::default()
    };
    let svg = chart.to_svg();
    let doc = parse(&svg);
    let d = with_class(&doc, "series")[0].attribute("d").unwrap();
    // Two sub-paths: the isolated first point becomes a dot, then a two-point segment.
    assert_eq!(d.matches('M').count(), 2, "{d}");
    assert!(d.contains("h0"));
    let w: f64 = doc
        .root_element()
        .attribute("width")
        .unwrap()
        .parse()
        .unwrap();
    let h: f64 = doc
        .root_element()
        .attribute("height")
        .unwrap()
        .parse()
        .unwrap();
    let nums = path_numbers(&d.replace("h0", ""));
    for xy in nums.chunks(2) {
        assert!(
            xy[0] > 0.0 && xy[0] < w && xy[1] > 0.0 && xy[1] < h,
            "{xy:?}"
        );
    }
}

#[test]
fn many_series_are_thin_without_legend_and_log_axes_use_decades() {
    let series: Vec<Series> = (0..40)
        .map(|i| {
            Series::new(
                format!("trial {i}"),
                (1..=12)
                    .map(|e| (e as f64, 50.0 + i as f64 * 0.5 + e as f64 * 2.0))
                    .collect(),
            )
        })
        .collect();
    let chart = LineChart {
        title: "Learning curves".into(),
        series,
        log_x: true,
        y_range: Some((40.0, 100.0)),
        ..LineChart::default()
    };
    let doc_src = chart.to_svg();
    let doc = parse(&doc_src);
    let paths = with_class(&doc, "series");
    assert_eq!(paths.len(), 40);
    assert!(
        paths
            .iter()
            .all(|p| p.attribute("stroke-width") == Some("1.2"))
    );
    assert!(with_class(&doc, "legend").is_empty());
    assert_eq!(with_class(&doc, "note").len(), 1);
    let ticks: Vec<&str> = with_class(&doc, "tick")
        .iter()
        .map(|n| n.text().unwrap())
        .collect();
    // x: 1..100 in 1-2-5 steps (one decade of data, widened); y: the fixed range's ticks.
    assert!(ticks.contains(&"1") && ticks.contains(&"10") && ticks.contains(&"5"));
    assert!(ticks.contains(&"40") && ticks.contains(&"100"));
    // Clipped to a unique id that the plot group refers to.
    let clip = doc
        .descendants()
        .find(|n| n.has_tag_name("clipPath"))
        .unwrap();
    let id = clip.attribute("id").unwrap();
    assert!(id.starts_with("clip-"));
    assert!(doc_src.contains(&format!("url(#{id})")));
}

#[test]
fn empty_line_chart_still_renders() {
    let svg = LineChart::default().to_svg();
    let doc = parse(&svg);
    assert!(with_class(&doc, "series").is_empty());
    assert_eq!(with_class(&doc, "empty").len(), 1);
}

#[test]
fn scatter_chart_points_tooltips_and_front() {
    let pts = [
        (1.0, 80.0),
        (2.0, 85.0),
        (1.5, 70.0),
        (3.0, 90.0),
        (4.0, 88.0),
    ];
    let chart = ScatterChart {
        title: "Accuracy vs latency".into(),
        x_label: "latency (ms)".into(),
        y_label: "accuracy (%)".into(),
        groups: vec![
            PointGroup {
                name: "complete".into(),
                points: pts
                    .iter()
                    .map(|&(x, y)| ScatterPoint::labelled(x, y, format!("|op~0|<{x}>")))
                    .collect(),
            },
            PointGroup {
                name: "pruned".into(),
                points: vec![
                    ScatterPoint::new(2.5, 60.0),
                    ScatterPoint::new(f64::NAN, 1.0),
                ],
            },
        ],
        front: Some(ParetoFront::of(
            "Pareto front",
            &pts,
            Direction::Minimize,
            Direction::Maximize,
        )),
        log_x: false,
        log_y: false,
    };
    let svg = chart.to_svg();
    let doc = parse(&svg);
    // 5 + 1 drawable points; the NaN one is skipped.
    assert_eq!(with_class(&doc, "point").len(), 6);
    // Front of (min x, max y): (1,80), (2,85), (3,90).
    let front = chart.front.as_ref().unwrap();
    let mut fp = front.points.clone();
    fp.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(fp, vec![(1.0, 80.0), (2.0, 85.0), (3.0, 90.0)]);
    assert_eq!(with_class(&doc, "front").len(), 1);
    assert_eq!(with_class(&doc, "front-point").len(), 3);
    // Staircase: horizontal then vertical for a (min x, max y) front.
    assert_eq!(
        front.staircase(),
        vec![
            (1.0, 80.0),
            (2.0, 80.0),
            (2.0, 85.0),
            (3.0, 85.0),
            (3.0, 90.0)
        ]
    );
    let d = with_class(&doc, "front")[0].attribute("d").unwrap();
    assert_eq!(path_numbers(d).len(), 10);
    // Tooltips carry the escaped labels.
    assert!(svg.contains("|op~0|&lt;3&gt;"));
    let titles: Vec<String> = with_class(&doc, "point")
        .iter()
        .map(|p| p.first_element_child().unwrap().text().unwrap().to_string())
        .collect();
    assert!(titles.iter().any(|t| t.starts_with("|op~0|<3>")));
    // Groups differ in colour and legend names both groups and the front.
    assert_eq!(with_class(&doc, "legend-entry").len(), 3);
}

#[test]
fn staircase_turns_at_the_worse_corner_for_every_direction() {
    let both_max = ParetoFront {
        name: String::new(),
        points: vec![(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)],
        x_direction: Direction::Maximize,
        y_direction: Direction::Maximize,
    };
    assert_eq!(
        both_max.staircase(),
        vec![(1.0, 3.0), (1.0, 2.0), (2.0, 2.0), (2.0, 1.0), (3.0, 1.0)]
    );
    let both_min = ParetoFront {
        x_direction: Direction::Minimize,
        y_direction: Direction::Minimize,
        ..both_max.clone()
    };
    assert_eq!(
        both_min.staircase(),
        vec![(1.0, 3.0), (2.0, 3.0), (2.0, 2.0), (3.0, 2.0), (3.0, 1.0)]
    );
}

#[test]
fn scatter_log_axes_drop_non_positive_points() {
    let chart = ScatterChart {
        groups: vec![PointGroup {
            name: String::new(),
            points: vec![
                ScatterPoint::new(0.0, 1.0),
                ScatterPoint::new(10.0, 100.0),
                ScatterPoint::new(1000.0, 1e6),
                ScatterPoint::new(5.0, -2.0),
            ],
        }],
        log_x: true,
        log_y: true,
        ..ScatterChart::default()
    };
    let doc_src = chart.to_svg();
    let doc = parse(&doc_src);
    assert_eq!(with_class(&doc, "point").len(), 2);
    assert!(with_class(&doc, "legend").is_empty());
    let ticks: Vec<&str> = with_class(&doc, "tick")
        .iter()
        .map(|n| n.text().unwrap())
        .collect();
    assert!(
        ticks.contains(&"1M") && ticks.contains(&"1000"),
        "{ticks:?}"
    );
}

#[test]
fn bar_charts_draw_one_rect_per_value() {
    let cats: Vec<String> = [
        "none",
        "skip_connect",
        "nor_conv_1x1",
        "nor_conv_3x3",
        "avg_pool_3x3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for orientation in [Orientation::Horizontal, Orientation::Vertical] {
        let chart = BarChart {
            title: "Operations in the top 10 vs all".into(),
            value_label: "share of edges (%)".into(),
            categories: cats.clone(),
            groups: vec![
                BarGroup {
                    name: "top 10".into(),
                    values: vec![0.0, 10.0, 20.0, 65.0, 5.0],
                },
                BarGroup {
                    name: "all <trials>".into(),
                    values: vec![20.0, 20.0, 20.0, 20.0, f64::NAN],
                },
            ],
            orientation,
        };
        let svg = chart.to_svg();
        let doc = parse(&svg);
        let bars = with_class(&doc, "bar");
        assert_eq!(bars.len(), 9, "{orientation:?}");
        assert_eq!(with_class(&doc, "category").len(), 5);
        assert_eq!(with_class(&doc, "legend-entry").len(), 2);
        assert!(svg.contains("all &lt;trials&gt;"));
        // The longest bar is the 65.
        let long = |n: &roxmltree::Node| -> f64 {
            let a = if orientation == Orientation::Horizontal {
                "width"
            } else {
                "height"
            };
            n.attribute(a).unwrap().parse().unwrap()
        };
        let longest = bars
            .iter()
            .max_by(|a, b| long(a).total_cmp(&long(b)))
            .unwrap();
        assert!(
            longest
                .first_element_child()
                .unwrap()
                .text()
                .unwrap()
                .ends_with("nor_conv_3x3: 65")
        );
        // Bars of the zero value have zero length.
        assert!(bars.iter().any(|b| long(b) == 0.0));
    }
}

#[test]
fn negative_bars_extend_left_of_zero() {
    let chart = BarChart {
        categories: vec!["a".into(), "b".into()],
        groups: vec![BarGroup {
            name: String::new(),
            values: vec![-3.0, 5.0],
        }],
        ..BarChart::default()
    };
    let doc_src = chart.to_svg();
    let doc = parse(&doc_src);
    let bars = with_class(&doc, "bar");
    let x = |i: usize| -> f64 { bars[i].attribute("x").unwrap().parse().unwrap() };
    let w = |i: usize| -> f64 { bars[i].attribute("width").unwrap().parse().unwrap() };
    // Bar a ends where bar b starts (at zero).
    assert!((x(0) + w(0) - x(1)).abs() < 0.02);
    assert!(w(1) > w(0));
}

/// Issue 12: the benchmark plot's bands are 95 % confidence intervals of the mean, inside the
/// data's range, and the y axis is fitted to the lines (not to ±std bands above 100 %).
#[test]
fn issue12_benchmark_bands_stay_within_the_lines_range() {
    use nascent_report::plot::RunCurve;
    let curve = |start: f64, end: f64| RunCurve {
        name: format!("s{start}"),
        mean: (0..100)
            .map(|q| end - (end - start) * (-(q as f64) / 15.0).exp())
            .collect(),
        std: vec![6.0; 100],
        runs: 500,
    };
    let curves = [curve(80.0, 94.0), curve(85.0, 94.3)];
    let chart = LineChart::best_so_far_over_runs("t", "acc", &curves);
    let (lo, hi) = chart.y_range.unwrap();
    let means_from_q10 = curves.iter().flat_map(|c| c.mean[9..].iter().copied());
    let (mlo, mhi) = means_from_q10.fold((f64::MAX, f64::MIN), |a, v| (a.0.min(v), a.1.max(v)));
    assert!(
        lo < mlo && lo > mlo - 1.0 && hi > mhi && hi < mhi + 1.0,
        "{lo}..{hi}"
    );
    assert!(hi < 100.0);
    let band = chart.series[0].band.as_ref().unwrap();
    let half = 1.96 * 6.0 / 500f64.sqrt();
    for (b, m) in band.iter().zip(&curves[0].mean) {
        assert!((b.2 - m - half).abs() < 1e-9 && (m - b.1 - half).abs() < 1e-9);
    }
    roxmltree::Document::parse(&chart.to_svg()).unwrap();
}
