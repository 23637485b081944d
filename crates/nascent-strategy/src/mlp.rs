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

/// A trained multilayer perceptron with one output (single precision inside).
#[derive(Clone, Debug)]
pub struct Mlp {
    /// Layer sizes, input first, 1 last.
    sizes: Vec<usize>,
    /// Per layer: weights `in x out` (input-major), then `out` biases, all in one vector.
    params: Vec<f32>,
    /// Offset of each layer's weights in `params`.
    offsets: Vec<usize>,
}

/// One Adam step's constants (bias corrections `c1`, `c2` for the current step).
struct Adam {
    lr: f32,
    b1: f32,
    b2: f32,
    c1: f32,
    c2: f32,
    eps: f32,
}

impl Adam {
    /// Updates `params` from gradients `g` (plus `wd * params`) and the moments `m`, `v`.
    fn step(&self, params: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], wd: f32) {
        let Adam {
            lr,
            b1,
            b2,
            c1,
            c2,
            eps,
        } = *self;
        for (((p, &gj), mj), vj) in params.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            let gj = gj + wd * *p;
            *mj = b1 * *mj + (1.0 - b1) * gj;
            *vj = b2 * *vj + (1.0 - b2) * gj * gj;
            *p -= lr * (*mj / c1) / ((*vj / c2).sqrt() + eps);
        }
    }
}

fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (yv, xv) in y.iter_mut().zip(x) {
        *yv += a * xv;
    }
}

fn dot32(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
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
                params.push((rng.normal() * sd) as f32);
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

    /// Buffers for the activations (or gradients) of every layer.
    fn buffers(&self) -> Vec<Vec<f32>> {
        self.sizes[1..].iter().map(|&s| vec![0.0; s]).collect()
    }

    /// Forward pass into `acts` (one buffer per layer, after ReLU for hidden layers).
    fn forward(&self, x: &SparseInput, acts: &mut [Vec<f32>]) {
        let l = self.layers();
        for k in 0..l {
            let (nin, nout) = (self.sizes[k], self.sizes[k + 1]);
            let off = self.offsets[k];
            let w = &self.params[off..off + nin * nout];
            let b = &self.params[off + nin * nout..off + nin * nout + nout];
            let (done, rest) = acts.split_at_mut(k);
            let out = &mut rest[0];
            out.copy_from_slice(b);
            if k == 0 {
                for &(i, v) in x {
                    axpy(out, v as f32, &w[i * nout..(i + 1) * nout]);
                }
            } else {
                for (i, &v) in done[k - 1].iter().enumerate() {
                    if v != 0.0 {
                        axpy(out, v, &w[i * nout..(i + 1) * nout]);
                    }
                }
            }
            if k + 1 < l {
                for o in out.iter_mut() {
                    *o = o.max(0.0);
                }
            }
        }
    }

    /// The prediction for one input.
    pub fn predict(&self, x: &SparseInput) -> f64 {
        let mut acts = self.buffers();
        self.forward(x, &mut acts);
        acts[self.layers() - 1][0] as f64
    }

    /// Trains a fresh network on `(x, y)` with Adam on the mean squared error.
    pub fn train(spec: &MlpSpec, x: &[SparseInput], y: &[f64], rng: &mut Rng) -> Self {
        let mut net = Mlp::new(spec.inputs, &spec.hidden, rng);
        let n = x.len();
        if n == 0 {
            return net;
        }
        let p = net.params.len();
        let (mut m, mut v, mut g) = (vec![0.0f32; p], vec![0.0f32; p], vec![0.0f32; p]);
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let (lr, wd) = (spec.learning_rate as f32, spec.weight_decay as f32);
        let mut step = 0i32;
        let mut order: Vec<usize> = (0..n).collect();
        let l = net.layers();
        let mut acts = net.buffers();
        let mut deltas = net.buffers();
        let batch = spec.batch_size.max(1);
        for _ in 0..spec.epochs {
            rng.shuffle(&mut order);
            for chunk in order.chunks(batch) {
                g.fill(0.0);
                for &s in chunk {
                    net.forward(&x[s], &mut acts);
                    let err = acts[l - 1][0] - y[s] as f32;
                    deltas[l - 1][0] = 2.0 * err / chunk.len() as f32;
                    for k in (0..l).rev() {
                        let (nin, nout) = (net.sizes[k], net.sizes[k + 1]);
                        let off = net.offsets[k];
                        let (gw, gb) = g[off..off + nin * nout + nout].split_at_mut(nin * nout);
                        axpy(gb, 1.0, &deltas[k]);
                        if k == 0 {
                            for &(i, xv) in &x[s] {
                                axpy(&mut gw[i * nout..(i + 1) * nout], xv as f32, &deltas[0]);
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
                                axpy(&mut gw[i * nout..(i + 1) * nout], a[i], d);
                                prev[i] = dot32(&w[i * nout..(i + 1) * nout], d);
                            }
                        }
                    }
                }
                step += 1;
                let (c1, c2) = (1.0 - b1.powi(step), 1.0 - b2.powi(step));
                for k in 0..l {
                    let (nin, nout) = (net.sizes[k], net.sizes[k + 1]);
                    let off = net.offsets[k];
                    let (w_end, end) = (off + nin * nout, off + nin * nout + nout);
                    let hyper = Adam {
                        lr,
                        b1,
                        b2,
                        c1,
                        c2,
                        eps,
                    };
                    hyper.step(
                        &mut net.params[off..w_end],
                        &g[off..w_end],
                        &mut m[off..w_end],
                        &mut v[off..w_end],
                        wd,
                    );
                    hyper.step(
                        &mut net.params[w_end..end],
                        &g[w_end..end],
                        &mut m[w_end..end],
                        &mut v[w_end..end],
                        0.0,
                    );
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
