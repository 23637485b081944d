//! A small multilayer perceptron (ReLU hidden layers, linear output, Adam, squared error) and
//! an ensemble of them: the predictor of BANANAS, written for the sparse encodings of
//! architectures (a path or one-hot encoding has a handful of non-zero features, so the first
//! layer only touches their weights).

use nascent_core::Rng;

/// A sparse input vector: (feature index, value) for the non-zero features.
pub type SparseInput = Vec<(usize, f64)>;

/// The non-zero features of a dense vector.
pub fn sparse(x: &[f64]) -> SparseInput {
    x.iter()
        .enumerate()
        .filter(|(_, v)| **v != 0.0)
        .map(|(i, v)| (i, *v))
        .collect()
}

/// How an MLP is shaped and trained.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpSpec {
    /// Input features.
    pub inputs: usize,
    /// Widths of the hidden layers.
    pub hidden: Vec<usize>,
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per gradient step.
    pub batch_size: usize,
    /// Adam step size.
    pub learning_rate: f64,
    /// L2 penalty on the weights (not the biases).
    pub weight_decay: f64,
}

/// A trained multilayer perceptron with one output.
#[derive(Clone, Debug)]
pub struct Mlp {
    /// Layer sizes, input first, 1 last.
    sizes: Vec<usize>,
    /// Per layer: weights `in x out` (input-major), then `out` biases, all in one vector.
    params: Vec<f64>,
    /// Offset of each layer's weights in `params`.
    offsets: Vec<usize>,
}

impl Mlp {
    /// A network with He-initialised weights and zero biases.
    pub fn new(inputs: usize, hidden: &[usize], rng: &mut Rng) -> Self {
        let mut sizes = vec![inputs];
        sizes.extend_from_slice(hidden);
        sizes.push(1);
        let mut params = Vec::new();
        let mut offsets = Vec::new();
        for w in sizes.windows(2) {
            let (fan_in, fan_out) = (w[0], w[1]);
            offsets.push(params.len());
            let sd = (2.0 / fan_in.max(1) as f64).sqrt();
            for _ in 0..fan_in * fan_out {
                params.push(rng.normal() * sd);
            }
            params.extend(std::iter::repeat_n(0.0, fan_out));
        }
        Mlp {
            sizes,
            params,
            offsets,
        }
    }

    fn layers(&self) -> usize {
        self.sizes.len() - 1
    }

    /// Forward pass keeping every layer's activations (after ReLU for hidden layers).
    fn forward_all(&self, x: &SparseInput, acts: &mut Vec<Vec<f64>>) {
        acts.clear();
        let l = self.layers();
        for k in 0..l {
            let (nin, nout) = (self.sizes[k], self.sizes[k + 1]);
            let w = &self.params[self.offsets[k]..self.offsets[k] + nin * nout];
            let b = &self.params[self.offsets[k] + nin * nout..self.offsets[k] + nin * nout + nout];
            let mut out = b.to_vec();
            if k == 0 {
                for &(i, v) in x {
                    for (o, wv) in out.iter_mut().zip(&w[i * nout..(i + 1) * nout]) {
                        *o += v * wv;
                    }
                }
            } else {
                let prev = &acts[k - 1];
                for (i, &v) in prev.iter().enumerate() {
                    if v != 0.0 {
                        for (o, wv) in out.iter_mut().zip(&w[i * nout..(i + 1) * nout]) {
                            *o += v * wv;
                        }
                    }
                }
            }
            if k + 1 < l {
                for o in &mut out {
                    *o = o.max(0.0);
                }
            }
            acts.push(out);
        }
    }

    /// The prediction for one input.
    pub fn predict(&self, x: &SparseInput) -> f64 {
        let mut acts = Vec::new();
        self.forward_all(x, &mut acts);
        acts[self.layers() - 1][0]
    }

    /// Trains a fresh network on `(x, y)` with Adam on the mean squared error.
    pub fn train(spec: &MlpSpec, x: &[SparseInput], y: &[f64], rng: &mut Rng) -> Self {
        let mut net = Mlp::new(spec.inputs, &spec.hidden, rng);
        let n = x.len();
        if n == 0 {
            return net;
        }
        let p = net.params.len();
        let (mut m, mut v, mut g) = (vec![0.0; p], vec![0.0; p], vec![0.0; p]);
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
        let mut step = 0i32;
        let mut order: Vec<usize> = (0..n).collect();
        let mut acts = Vec::new();
        let l = net.layers();
        let mut deltas: Vec<Vec<f64>> = net.sizes[1..].iter().map(|&s| vec![0.0; s]).collect();
        let batch = spec.batch_size.max(1);
        for _ in 0..spec.epochs {
            rng.shuffle(&mut order);
            for chunk in order.chunks(batch) {
                g.iter_mut().for_each(|x| *x = 0.0);
                for &s in chunk {
                    net.forward_all(&x[s], &mut acts);
                    let err = acts[l - 1][0] - y[s];
                    deltas[l - 1][0] = 2.0 * err / chunk.len() as f64;
                    for k in (0..l).rev() {
                        let (nin, nout) = (net.sizes[k], net.sizes[k + 1]);
                        let off = net.offsets[k];
                        let (gw, gb) = g[off..off + nin * nout + nout].split_at_mut(nin * nout);
                        for (gbo, d) in gb.iter_mut().zip(&deltas[k]) {
                            *gbo += d;
                        }
                        if k == 0 {
                            for &(i, xv) in &x[s] {
                                let grow = &mut gw[i * nout..(i + 1) * nout];
                                for (gv, d) in grow.iter_mut().zip(&deltas[0]) {
                                    *gv += xv * d;
                                }
                            }
                        } else {
                            let (lo, hi) = deltas.split_at_mut(k);
                            let d = &hi[0];
                            let prev = &mut lo[k - 1];
                            let a = &acts[k - 1];
                            let w = &net.params[off..off + nin * nout];
                            for i in 0..nin {
                                // ReLU: an inactive unit passes no gradient either way.
                                if a[i] <= 0.0 {
                                    prev[i] = 0.0;
                                    continue;
                                }
                                let grow = &mut gw[i * nout..(i + 1) * nout];
                                for (gv, dv) in grow.iter_mut().zip(d) {
                                    *gv += a[i] * dv;
                                }
                                prev[i] = crate::linalg::dot(&w[i * nout..(i + 1) * nout], d);
                            }
                        }
                    }
                }
                step += 1;
                let (c1, c2) = (1.0 - b1.powi(step), 1.0 - b2.powi(step));
                for k in 0..l {
                    let (nin, nout) = (net.sizes[k], net.sizes[k + 1]);
                    let off = net.offsets[k];
                    for j in off..off + nin * nout + nout {
                        let mut gj = g[j];
                        if j < off + nin * nout {
                            gj += spec.weight_decay * net.params[j];
                        }
                        m[j] = b1 * m[j] + (1.0 - b1) * gj;
                        v[j] = b2 * v[j] + (1.0 - b2) * gj * gj;
                        net.params[j] -=
                            spec.learning_rate * (m[j] / c1) / ((v[j] / c2).sqrt() + eps);
                    }
                }
            }
        }
        net
    }
}

/// Independently initialised and trained MLPs; their spread is the uncertainty.
#[derive(Clone, Debug)]
pub struct MlpEnsemble {
    members: Vec<Mlp>,
}

impl MlpEnsemble {
    /// Trains `size` networks on `(x, y)`, each from its own initialisation and batch order.
    pub fn train(size: usize, spec: &MlpSpec, x: &[SparseInput], y: &[f64], rng: &mut Rng) -> Self {
        let members = (0..size)
            .map(|_| {
                let mut r = rng.fork();
                Mlp::train(spec, x, y, &mut r)
            })
            .collect();
        MlpEnsemble { members }
    }

    /// Mean and standard deviation of the members' predictions.
    pub fn predict(&self, x: &SparseInput) -> (f64, f64) {
        let p: Vec<f64> = self.members.iter().map(|m| m.predict(x)).collect();
        let n = p.len().max(1) as f64;
        let mean = p.iter().sum::<f64>() / n;
        let var = p.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlp_learns_a_nonlinear_function_of_sparse_inputs() {
        // y = 1 if features 0 and 3 are both on, else 0: not linear in the inputs.
        let mut rng = Rng::new(4);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for a in 0..2 {
            for b in 0..2 {
                for c in 0..2 {
                    let dense = [a as f64, c as f64, 0.0, b as f64];
                    x.push(sparse(&dense));
                    y.push(if a == 1 && b == 1 { 1.0 } else { 0.0 });
                }
            }
        }
        let spec = MlpSpec {
            inputs: 4,
            hidden: vec![16, 16],
            epochs: 400,
            batch_size: 4,
            learning_rate: 0.01,
            weight_decay: 0.0,
        };
        let net = Mlp::train(&spec, &x, &y, &mut rng);
        for (xi, yi) in x.iter().zip(&y) {
            assert!((net.predict(xi) - yi).abs() < 0.1, "{xi:?}");
        }
        let ens = MlpEnsemble::train(3, &spec, &x, &y, &mut rng);
        let (m, s) = ens.predict(&x[7]);
        assert!((m - 1.0).abs() < 0.1 && s < 0.1, "{m} {s}");
    }
}
