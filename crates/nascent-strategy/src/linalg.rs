//! The little dense linear algebra the surrogates need (row-major square matrices).

/// Cholesky factorisation in place: on success the lower triangle of `a` (n x n, row-major)
/// holds `L` with `L L^T = A` and the upper triangle is zeroed. `false` when `A` is not
/// (numerically) positive definite.
pub fn cholesky(a: &mut [f64], n: usize) -> bool {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if !(d > 0.0 && d.is_finite()) {
            return false;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let (row_i, row_j) = (i * n, j * n);
            let mut s = a[row_i + j];
            for k in 0..j {
                s -= a[row_i + k] * a[row_j + k];
            }
            a[row_i + j] = s / d;
        }
        for k in j + 1..n {
            a[j * n + k] = 0.0;
        }
    }
    true
}

/// Solves `L x = b` in place for lower-triangular `L`.
pub fn solve_lower(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let row = &l[i * n..i * n + i];
        let s: f64 = row.iter().zip(&b[..i]).map(|(x, y)| x * y).sum();
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
