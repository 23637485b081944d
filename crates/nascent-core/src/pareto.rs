//! Pareto dominance, non-dominated sorting, crowding distance and hypervolume.
//!
//! Points are given as losses: every coordinate is minimised (turn objectives with
//! [`crate::Objective::loss`]).

/// Whether `a` dominates `b` (no worse everywhere, better somewhere; all coordinates minimised).
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    let mut strictly = false;
    for (x, y) in a.iter().zip(b) {
        if x > y {
            return false;
        }
        if x < y {
            strictly = true;
        }
    }
    strictly
}

/// Indices of the non-dominated points.
pub fn pareto_front(points: &[Vec<f64>]) -> Vec<usize> {
    if points.first().is_some_and(|p| p.len() == 2) {
        // O(n log n) sweep for two objectives.
        let mut idx: Vec<usize> = (0..points.len()).collect();
        idx.sort_by(|&a, &b| {
            points[a][0]
                .total_cmp(&points[b][0])
                .then(points[a][1].total_cmp(&points[b][1]))
        });
        let mut out = Vec::new();
        let mut best_y = f64::INFINITY;
        let mut last: Option<&Vec<f64>> = None;
        for i in idx {
            let p = &points[i];
            if p[1] < best_y || last.is_some_and(|l| l == p) {
                if p[1] < best_y {
                    best_y = p[1];
                }
                out.push(i);
                last = Some(p);
            }
        }
        out.sort_unstable();
        return out;
    }
    (0..points.len())
        .filter(|&i| !points.iter().any(|q| dominates(q, &points[i])))
        .collect()
}

/// Fast non-dominated sorting (NSGA-II): the fronts, best first, as indices.
pub fn non_dominated_sort(points: &[Vec<f64>]) -> Vec<Vec<usize>> {
    let n = points.len();
    let mut dominated_by: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut count = vec![0usize; n];
    let mut fronts: Vec<Vec<usize>> = vec![Vec::new()];
    for p in 0..n {
        for q in 0..n {
            if p == q {
                continue;
            }
            if dominates(&points[p], &points[q]) {
                dominated_by[p].push(q);
            } else if dominates(&points[q], &points[p]) {
                count[p] += 1;
            }
        }
        if count[p] == 0 {
            fronts[0].push(p);
        }
    }
    let mut k = 0;
    while !fronts[k].is_empty() {
        let mut next = Vec::new();
        for &p in &fronts[k] {
            for &q in &dominated_by[p] {
                count[q] -= 1;
                if count[q] == 0 {
                    next.push(q);
                }
            }
        }
        k += 1;
        fronts.push(next);
    }
    fronts.pop();
    fronts
}

/// Crowding distance of each member of one front (NSGA-II); boundary points get infinity.
pub fn crowding_distance(points: &[Vec<f64>], front: &[usize]) -> Vec<f64> {
    let n = front.len();
    let mut dist = vec![0.0; n];
    if n <= 2 {
        return vec![f64::INFINITY; n];
    }
    let m = points[front[0]].len();
    let columns = (0..m).map(|k| front.iter().map(|&i| points[i][k]).collect::<Vec<f64>>());
    for column in columns {
        let coord = |w: usize| column[w];
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| coord(a).total_cmp(&coord(b)));
        let lo = coord(order[0]);
        let hi = coord(order[n - 1]);
        dist[order[0]] = f64::INFINITY;
        dist[order[n - 1]] = f64::INFINITY;
        let span = hi - lo;
        if span <= 0.0 {
            continue;
        }
        for w in 1..n - 1 {
            let d = (coord(order[w + 1]) - coord(order[w - 1])) / span;
            dist[order[w]] += d;
        }
    }
    dist
}

/// The hypervolume dominated by `points` and bounded by `reference` (all minimised). Points
/// that do not dominate the reference contribute nothing.
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let pts: Vec<Vec<f64>> = points
        .iter()
        .filter(|p| p.iter().zip(reference).all(|(x, r)| x < r))
        .cloned()
        .collect();
    if pts.is_empty() {
        return 0.0;
    }
    let front: Vec<Vec<f64>> = pareto_front(&pts)
        .into_iter()
        .map(|i| pts[i].clone())
        .collect();
    hv_rec(front, reference)
}

fn hv_rec(mut pts: Vec<Vec<f64>>, reference: &[f64]) -> f64 {
    let d = reference.len();
    if pts.is_empty() {
        return 0.0;
    }
    if d == 1 {
        let m = pts.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
        return reference[0] - m;
    }
    if d == 2 {
        pts.sort_by(|a, b| a[0].total_cmp(&b[0]));
        let mut vol = 0.0;
        let mut prev_y = reference[1];
        for p in &pts {
            if p[1] < prev_y {
                vol += (reference[0] - p[0]) * (prev_y - p[1]);
                prev_y = p[1];
            }
        }
        return vol;
    }
    // Slice along the last coordinate (HSO).
    pts.sort_by(|a, b| a[d - 1].total_cmp(&b[d - 1]));
    let mut vol = 0.0;
    for i in 0..pts.len() {
        let lo = pts[i][d - 1];
        let hi = if i + 1 < pts.len() {
            pts[i + 1][d - 1]
        } else {
            reference[d - 1]
        };
        if hi <= lo {
            continue;
        }
        let slice: Vec<Vec<f64>> = pts[..=i].iter().map(|p| p[..d - 1].to_vec()).collect();
        let front: Vec<Vec<f64>> = pareto_front(&slice)
            .into_iter()
            .map(|j| slice[j].clone())
            .collect();
        vol += hv_rec(front, &reference[..d - 1]) * (hi - lo);
    }
    vol
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominance() {
        assert!(dominates(&[1.0, 1.0], &[1.0, 2.0]));
        assert!(!dominates(&[1.0, 2.0], &[1.0, 2.0]));
        assert!(!dominates(&[0.0, 3.0], &[1.0, 2.0]));
    }

    #[test]
    fn front_and_sorting_agree() {
        let pts = vec![
            vec![1.0, 5.0],
            vec![2.0, 3.0],
            vec![3.0, 4.0],
            vec![4.0, 1.0],
            vec![5.0, 5.0],
        ];
        assert_eq!(pareto_front(&pts), vec![0, 1, 3]);
        let fronts = non_dominated_sort(&pts);
        let mut f0 = fronts[0].clone();
        f0.sort();
        assert_eq!(f0, vec![0, 1, 3]);
        assert_eq!(fronts[1], vec![2]);
        assert_eq!(fronts[2], vec![4]);
        let three = vec![
            vec![1.0, 2.0, 3.0],
            vec![2.0, 1.0, 3.0],
            vec![2.0, 2.0, 4.0],
        ];
        assert_eq!(pareto_front(&three), vec![0, 1]);
    }

    #[test]
    fn hypervolume_2d_and_3d() {
        let pts = vec![vec![1.0, 3.0], vec![2.0, 2.0], vec![3.0, 1.0]];
        // Staircase under reference (4,4): 3*1 + 2*1 + 1*1 = 6.
        assert!((hypervolume(&pts, &[4.0, 4.0]) - 6.0).abs() < 1e-12);
        // A single 3-D point: a box.
        assert!((hypervolume(&[vec![1.0, 1.0, 1.0]], &[2.0, 3.0, 4.0]) - 6.0).abs() < 1e-12);
        // Two boxes overlapping: 1x2x2 + 2x1x2 - 1x1x2 = 6.
        let v = hypervolume(
            &[vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.0]],
            &[2.0, 2.0, 2.0],
        );
        assert!((v - 6.0).abs() < 1e-12, "{v}");
    }

    #[test]
    fn crowding_marks_boundaries() {
        let pts = vec![vec![0.0, 3.0], vec![1.0, 2.0], vec![3.0, 0.0]];
        let d = crowding_distance(&pts, &[0, 1, 2]);
        assert!(d[0].is_infinite() && d[2].is_infinite() && d[1].is_finite());
    }
}
