//! The little dense linear algebra the surrogates need (row-major square matrices).

/// Cholesky factorisation in place: on success the lower triangle of `a` (n x n, row-major)
/// holds `L` with `L L^T = A` and the upper triangle is zeroed. `false` when `A` is not
/// (numerically) positive definite.
pub fn cholesky(a: &mut [f64], n: usize) -> bool {
    for j in 0..n {
        let row_j = j * n;
        let d = a[row_j + j] - dot(&a[row_j..row_j + j], &a[row_j..row_j + j]);
        if !(d > 0.0 && d.is_finite()) {
            return false;
        }
        let d = d.sqrt();
        a[row_j + j] = d;
        for i in j + 1..n {
            let row_i = i * n;
            let s = a[row_i + j] - dot(&a[row_i..row_i + j], &a[row_j..row_j + j]);
            a[row_i + j] = s / d;
        }
        a[row_j + j + 1..row_j + n].fill(0.0);
    }
    true
}

/// The dot product of two equally long slices (four accumulators, so it vectorises).
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc[0] + acc[1] + acc[2] + acc[3] + tail
}

/// Solves `L x = b` in place for lower-triangular `L`.
pub fn solve_lower(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let s = dot(&l[i * n..i * n + i], &b[..i]);
        b[i] = (b[i] - s) / l[i * n + i];
    }
}

/// Solves `L^T x = b` in place for lower-triangular `L`.
pub fn solve_lower_transposed(l: &[f64], n: usize, b: &mut [f64]) {
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= l[k * n + i] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_system() {
        // A = M M^T + I for a fixed M.
        let m = [1.0, 2.0, 0.5, -1.0, 0.0, 3.0, 2.0, 1.0, 1.0];
        let n = 3;
        let mut a = vec![0.0; 9];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| m[i * n + k] * m[j * n + k]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        let orig = a.clone();
        assert!(cholesky(&mut a, n));
        let x_true = [1.0, -2.0, 0.5];
        let mut b: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| orig[i * n + j] * x_true[j]).sum())
            .collect();
        solve_lower(&a, n, &mut b);
        solve_lower_transposed(&a, n, &mut b);
        for (x, t) in b.iter().zip(x_true) {
            assert!((x - t).abs() < 1e-10, "{b:?}");
        }
        let mut not_pd = vec![1.0, 2.0, 2.0, 1.0];
        assert!(!cholesky(&mut not_pd, 2));
    }
}
