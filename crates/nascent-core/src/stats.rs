//! Rank statistics shared by the proxies' correlations and the proxy warm start.

/// Spearman's rank correlation of `x` and `y` (same length), ties given their average rank.
/// Non-finite values (NaN, ±inf) rank below every finite one. `None` with fewer than two
/// pairs, different lengths, or when one side is constant.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let rx = ranks(x);
    let ry = ranks(y);
    pearson(&rx, &ry)
}

/// Average ranks (1-based), ties sharing the mean of their positions; non-finite values are
/// tied below every finite one.
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let key = |a: f64| if a.is_finite() { a } else { f64::NEG_INFINITY };
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| key(v[a]).total_cmp(&key(v[b])));
    let mut out = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && key(v[order[j + 1]]) == key(v[order[i]]) {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = r;
        }
        i = j + 1;
    }
    out
}

/// Pearson correlation of `x` and `y` (same length); `None` when one side is constant.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_their_average_rank_and_non_finite_values_rank_lowest() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        assert_eq!(
            ranks(&[f64::NAN, 0.0, f64::NEG_INFINITY]),
            vec![1.5, 3.0, 1.5]
        );
        assert_eq!(pearson(&[1.0, 2.0], &[5.0, 5.0]), None);
    }
}
