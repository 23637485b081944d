//! Learning-curve extrapolation: fit parametric curves to the first epochs of a training run
//! by least squares and predict the value at its last epoch.
//!
//! The models are those of Domhan, Springenberg and Hutter (2015) that describe saturating
//! learning curves with few parameters (`x` is the epoch, 1-based):
//!
//! | model | formula |
//! |---|---|
//! | [`CurveModel::Pow3`] | `c - a x^(-alpha)` |
//! | [`CurveModel::LogPower`] | `a / (1 + (x / e^b)^c)`, `c < 0` |
//! | [`CurveModel::Exp3`] | `c - exp(b - a x)` |
//! | [`CurveModel::Ilog2`] | `c - a / ln(x + 1)` |
//! | [`CurveModel::Weibull`] | `alpha - (alpha - beta) exp(-(kappa x)^delta)` |
//!
//! Each model is fitted by Levenberg–Marquardt from several starting points; models whose fit
//! is poor (root-mean-square residual more than twice the best model's) or whose parameters
//! leave the saturating regime are dropped, and the rest give the prediction: their mean, and
//! their lowest and highest values as the range.
//!
//! Curves are taken as rising (accuracy). For falling curves (loss), fit the negated values.

use serde::{Deserialize, Serialize};

/// A parametric learning-curve model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurveModel {
    /// `c - a x^(-alpha)`: a power law rising to `c`.
    Pow3,
    /// `a / (1 + (x / e^b)^c)` with `c < 0`: the log-power curve rising to `a`.
    LogPower,
    /// `c - exp(b - a x)`: exponential saturation at `c`.
    Exp3,
    /// `c - a / ln(x + 1)`: a slow, logarithmic approach to `c`.
    Ilog2,
    /// `alpha - (alpha - beta) exp(-(kappa x)^delta)`: the Weibull curve from `beta` to `alpha`.
    Weibull,
}

impl CurveModel {
    /// Every model.
    pub const ALL: [CurveModel; 5] = [
        CurveModel::Pow3,
        CurveModel::LogPower,
        CurveModel::Exp3,
        CurveModel::Ilog2,
        CurveModel::Weibull,
    ];

    /// The model's name.
    pub fn name(self) -> &'static str {
        match self {
            CurveModel::Pow3 => "pow3",
            CurveModel::LogPower => "log_power",
            CurveModel::Exp3 => "exp3",
            CurveModel::Ilog2 => "ilog2",
            CurveModel::Weibull => "weibull",
        }
    }

    /// Number of parameters.
    pub fn arity(self) -> usize {
        match self {
            CurveModel::Ilog2 => 2,
            CurveModel::Pow3 | CurveModel::LogPower | CurveModel::Exp3 => 3,
            CurveModel::Weibull => 4,
        }
    }

    /// The curve with parameters `p` at epoch `x`.
    pub fn eval(self, p: &[f64], x: f64) -> f64 {
        match self {
            CurveModel::Pow3 => p[0] - p[1] * x.powf(-p[2]),
            CurveModel::LogPower => p[0] / (1.0 + (x / p[1].exp()).powf(p[2])),
            CurveModel::Exp3 => p[0] - (p[2] - p[1] * x).exp(),
            CurveModel::Ilog2 => p[0] - p[1] / (x + 1.0).ln(),
            CurveModel::Weibull => p[0] - (p[0] - p[1]) * (-(p[2] * x).powf(p[3])).exp(),
        }
    }

    /// Whether parameters describe a curve that rises and saturates.
    fn plausible(self, p: &[f64]) -> bool {
        if p.iter().any(|v| !v.is_finite()) {
            return false;
        }
        match self {
            CurveModel::Pow3 => p[1] > 0.0 && p[2] > 0.0,
            CurveModel::LogPower => p[0] > 0.0 && p[2] < 0.0,
            CurveModel::Exp3 => p[1] > 0.0,
            CurveModel::Ilog2 => p[1] > 0.0,
            CurveModel::Weibull => p[0] > p[1] && p[2] > 0.0 && p[3] > 0.0,
        }
    }

    /// Starting points for the fit, from the data.
    fn starts(self, xs: &[f64], ys: &[f64]) -> Vec<Vec<f64>> {
        let n = xs.len();
        let (x1, y1) = (xs[0], ys[0]);
        let (xn, yn) = (xs[n - 1], ys[n - 1]);
        let span = (ys.iter().cloned().fold(f64::MIN, f64::max)
            - ys.iter().cloned().fold(f64::MAX, f64::min))
        .max(1e-3);
        let xm = xs[n / 2].max(1.0);
        let mut out = Vec::new();
        for gap in [0.05, 0.3, 1.0] {
            let c = yn + gap * span;
            match self {
                CurveModel::Pow3 => {
                    for alpha in [0.5, 1.0, 2.0] {
                        let a = ((c - y1) * x1.powf(alpha)).max(1e-3);
                        out.push(vec![c, a, alpha]);
                    }
                }
                CurveModel::LogPower => {
                    for cc in [-0.5, -1.0, -2.0] {
                        // Solve a / (1 + (x1/e^b)^cc) = y1 for b given a = c.
                        let ratio = (c / y1.max(1e-6) - 1.0).max(1e-6);
                        let b = x1.ln() - ratio.ln() / cc;
                        out.push(vec![c.max(1e-6), b, cc]);
                    }
                }
                CurveModel::Exp3 => {
                    for rate in [0.5 / xm, 1.0 / xm, 3.0 / xm] {
                        let b = (c - y1).max(1e-6).ln() + rate * x1;
                        out.push(vec![c, rate, b]);
                    }
                }
                CurveModel::Ilog2 => {
                    let a = ((c - y1) * (x1 + 1.0).ln()).max(1e-3);
                    out.push(vec![c, a]);
                }
                CurveModel::Weibull => {
                    for delta in [0.7, 1.5] {
                        out.push(vec![c, y1 - 0.1 * span, 1.0 / xn.max(1.0), delta]);
                    }
                }
            }
        }
        out
    }
}

/// One model's fit.
#[derive(Clone, Debug, PartialEq)]
pub struct CurveFit {
    /// The model.
    pub model: CurveModel,
    /// Its fitted parameters.
    pub params: Vec<f64>,
    /// Root-mean-square residual over the points fitted.
    pub rmse: f64,
}

impl CurveFit {
    /// The fitted curve at epoch `x`.
    pub fn predict(&self, x: f64) -> f64 {
        self.model.eval(&self.params, x)
    }
}

/// A prediction of a curve's value at a later epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct Extrapolation {
    /// The epoch predicted.
    pub target: u32,
    /// The mean prediction of the models kept.
    pub mean: f64,
    /// The lowest prediction.
    pub low: f64,
    /// The highest prediction.
    pub high: f64,
    /// The models kept, with their fits.
    pub fits: Vec<CurveFit>,
}

/// Sum of squared residuals.
fn sse(model: CurveModel, p: &[f64], xs: &[f64], ys: &[f64]) -> f64 {
    xs.iter()
        .zip(ys)
        .map(|(&x, &y)| {
            let r = model.eval(p, x) - y;
            r * r
        })
        .sum()
}

/// Solves the small dense system `a x = b` (Gaussian elimination, partial pivoting).
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    for col in 0..n {
        let piv =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[piv * n + col].abs() < 1e-300 {
            return None;
        }
        if piv != col {
            for k in 0..n {
                a.swap(piv * n + k, col * n + k);
            }
            b.swap(piv, col);
        }
        for row in col + 1..n {
            let f = a[row * n + col] / a[col * n + col];
            for k in col..n {
                a[row * n + k] -= f * a[col * n + k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row * n + k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row * n + row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Levenberg–Marquardt from `p0`; returns the parameters and their sum of squares.
fn levenberg_marquardt(model: CurveModel, p0: Vec<f64>, xs: &[f64], ys: &[f64]) -> (Vec<f64>, f64) {
    let m = p0.len();
    let mut p = p0;
    let mut cost = sse(model, &p, xs, ys);
    if !cost.is_finite() {
        return (p, f64::INFINITY);
    }
    let mut lambda = 1e-3;
    for _ in 0..300 {
        // Residuals and the Jacobian by forward differences.
        let r: Vec<f64> = xs
            .iter()
            .zip(ys)
            .map(|(&x, &y)| model.eval(&p, x) - y)
            .collect();
        let mut jac = vec![0.0; xs.len() * m];
        for k in 0..m {
            let h = 1e-7 * p[k].abs().max(1e-3);
            let mut q = p.clone();
            q[k] += h;
            for (i, &x) in xs.iter().enumerate() {
                jac[i * m + k] = (model.eval(&q, x) - model.eval(&p, x)) / h;
            }
        }
        let mut jtj = vec![0.0; m * m];
        let mut jtr = vec![0.0; m];
        for i in 0..xs.len() {
            for a in 0..m {
                jtr[a] += jac[i * m + a] * r[i];
                for b in 0..m {
                    jtj[a * m + b] += jac[i * m + a] * jac[i * m + b];
                }
            }
        }
        if jtj.iter().chain(&jtr).any(|v| !v.is_finite()) {
            break;
        }
        let mut improved = false;
        for _ in 0..12 {
            let mut a = jtj.clone();
            for d in 0..m {
                a[d * m + d] += lambda * jtj[d * m + d].max(1e-12);
            }
            let rhs: Vec<f64> = jtr.iter().map(|v| -v).collect();
            if let Some(step) = solve(a, rhs, m) {
                let q: Vec<f64> = p.iter().zip(&step).map(|(a, b)| a + b).collect();
                let c = sse(model, &q, xs, ys);
                if c.is_finite() && c < cost {
                    let rel = (cost - c) / cost.max(1e-300);
                    p = q;
                    cost = c;
                    lambda = (lambda / 3.0).max(1e-12);
                    improved = true;
                    if rel < 1e-12 {
                        return (p, cost);
                    }
                    break;
                }
            }
            lambda *= 4.0;
        }
        if !improved {
            break;
        }
    }
    (p, cost)
}

/// Fits `model` to the points `(x, y)` (at least one more point than the model has
/// parameters); `None` when no start converges to a plausible, saturating curve.
pub fn fit(model: CurveModel, xs: &[f64], ys: &[f64]) -> Option<CurveFit> {
    if xs.len() != ys.len() || xs.len() < model.arity() + 1 {
        return None;
    }
    let mut best: Option<(Vec<f64>, f64)> = None;
    for p0 in model.starts(xs, ys) {
        let (p, cost) = levenberg_marquardt(model, p0, xs, ys);
        if cost.is_finite() && model.plausible(&p) && best.as_ref().is_none_or(|(_, c)| cost < *c) {
            best = Some((p, cost));
        }
    }
    best.map(|(params, cost)| CurveFit {
        model,
        params,
        rmse: (cost / xs.len() as f64).sqrt(),
    })
}

/// Predicts the value of a rising curve at epoch `target` from its points `(step, value)` by
/// fitting `models`; `None` when fewer than 3 points are given or no model fits.
///
/// Models fitting more than twice as badly as the best one (plus a small tolerance for
/// curves fitted exactly) are dropped; predictions are clamped to `cap` (100 for accuracies in
/// percent, say) and never below the curve's best value so far.
pub fn extrapolate(
    curve: &[(u32, f64)],
    target: u32,
    models: &[CurveModel],
    cap: Option<f64>,
) -> Option<Extrapolation> {
    let pts: Vec<(f64, f64)> = curve
        .iter()
        .filter(|(_, y)| y.is_finite())
        .map(|&(s, y)| (s as f64, y))
        .collect();
    if pts.len() < 3 {
        return None;
    }
    let xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let best_so_far = ys.iter().cloned().fold(f64::MIN, f64::max);
    let span = (best_so_far - ys.iter().cloned().fold(f64::MAX, f64::min)).max(1e-9);
    let fits: Vec<CurveFit> = models.iter().filter_map(|&m| fit(m, &xs, &ys)).collect();
    let best_rmse = fits.iter().map(|f| f.rmse).fold(f64::INFINITY, f64::min);
    if !best_rmse.is_finite() {
        return None;
    }
    let tol = 2.0 * best_rmse + 1e-3 * span;
    let t = target as f64;
    let mut kept = Vec::new();
    let mut preds = Vec::new();
    for f in fits {
        if f.rmse > tol {
            continue;
        }
        let mut v = f.predict(t);
        if !v.is_finite() {
            continue;
        }
        if let Some(c) = cap {
            v = v.min(c);
        }
        v = v.max(best_so_far.min(f.predict(xs[xs.len() - 1])));
        preds.push(v);
        kept.push(f);
    }
    if preds.is_empty() {
        return None;
    }
    let mean = preds.iter().sum::<f64>() / preds.len() as f64;
    Some(Extrapolation {
        target,
        mean,
        low: preds.iter().cloned().fold(f64::INFINITY, f64::min),
        high: preds.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        fits: kept,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(f: impl Fn(f64) -> f64, n: u32) -> Vec<(u32, f64)> {
        (1..=n).map(|e| (e, f(e as f64))).collect()
    }

    #[test]
    fn each_model_recovers_its_own_curve() {
        let cases: [(CurveModel, Vec<f64>); 5] = [
            (CurveModel::Pow3, vec![92.0, 70.0, 0.8]),
            (CurveModel::LogPower, vec![90.0, 1.0, -1.2]),
            (CurveModel::Exp3, vec![88.0, 0.15, 4.0]),
            (CurveModel::Ilog2, vec![95.0, 40.0]),
            (CurveModel::Weibull, vec![91.0, 20.0, 0.08, 1.1]),
        ];
        for (model, p) in cases {
            let pts = curve(|x| model.eval(&p, x), 15);
            let xs: Vec<f64> = pts.iter().map(|p| p.0 as f64).collect();
            let ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
            let f = fit(model, &xs, &ys).unwrap_or_else(|| panic!("{model:?} did not fit"));
            let truth = model.eval(&p, 100.0);
            let pred = f.predict(100.0);
            assert!(f.rmse < 1e-3, "{model:?} rmse {}", f.rmse);
            assert!(
                (pred - truth).abs() < 0.5,
                "{model:?}: predicted {pred}, truth {truth}"
            );
        }
    }

    #[test]
    fn extrapolation_from_a_third_of_a_noisy_curve() {
        // A power-law curve with noise, as an accuracy curve looks: fit 20 of 60 epochs.
        let truth = |x: f64| 91.0 - 75.0 * (1.0 + x).powf(-0.9);
        let mut s = 12345u64;
        let noisy: Vec<(u32, f64)> = (1..=20)
            .map(|e| {
                let u = nascent_core::rng::splitmix64(&mut s) >> 11;
                let n = 0.4 * (2.0 * (u as f64 / (1u64 << 53) as f64) - 1.0);
                (e, truth(e as f64) + n)
            })
            .collect();
        let x = extrapolate(&noisy, 60, &CurveModel::ALL, Some(100.0)).unwrap();
        let t = truth(60.0);
        assert!((x.mean - t).abs() < 2.0, "mean {} vs {t}", x.mean);
        assert!(x.low <= x.mean && x.mean <= x.high);
        assert!(x.high < 100.0);
        assert!(!x.fits.is_empty());
    }

    #[test]
    fn too_few_points_predict_nothing() {
        assert!(extrapolate(&[(1, 10.0), (2, 20.0)], 10, &CurveModel::ALL, None).is_none());
        assert!(
            fit(
                CurveModel::Weibull,
                &[1.0, 2.0, 3.0, 4.0],
                &[1.0, 2.0, 3.0, 3.5]
            )
            .is_none()
        );
    }
}
