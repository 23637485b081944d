//! Architecture parameters and their optimizer.

use nascent_core::Rng;
use tch::{Device, Kind, Tensor};

/// Adam (Kingma and Ba) with L2 weight decay added to the gradient, as `torch.optim.Adam`
/// does, for small tensors whose gradients the caller computes (alpha, the controller).
#[derive(Debug)]
pub struct Adam {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    state: Vec<(Tensor, Tensor)>,
    t: i32,
}

impl Adam {
    /// An optimizer of `params` (its state is created lazily).
    pub fn new(lr: f64, betas: (f64, f64), weight_decay: f64) -> Self {
        Adam {
            lr,
            beta1: betas.0,
            beta2: betas.1,
            eps: 1e-8,
            weight_decay,
            state: Vec::new(),
            t: 0,
        }
    }

    /// One step of every parameter along its gradient (`grads[i]` for `params[i]`;
    /// an undefined gradient leaves its parameter alone).
    pub fn step(&mut self, params: &[Tensor], grads: &[Tensor]) {
        tch::no_grad(|| {
            if self.state.is_empty() {
                self.state = params
                    .iter()
                    .map(|p| (p.zeros_like(), p.zeros_like()))
                    .collect();
            }
            self.t += 1;
            let bc1 = 1.0 - self.beta1.powi(self.t);
            let bc2 = 1.0 - self.beta2.powi(self.t);
            for ((p, g), (m, v)) in params.iter().zip(grads).zip(&mut self.state) {
                if !g.defined() {
                    continue;
                }
                let g = if self.weight_decay > 0.0 {
                    g + p * self.weight_decay
                } else {
                    g.shallow_clone()
                };
                *m = &*m * self.beta1 + &g * (1.0 - self.beta1);
                *v = &*v * self.beta2 + (&g * &g) * (1.0 - self.beta2);
                let denom = (&*v / bc2).sqrt() + self.eps;
                let delta = (&*m / bc1) / denom * self.lr;
                let mut p = p.shallow_clone();
                let _ = p.g_sub_(&delta);
            }
        })
    }
}

/// A `[rows, cols]` leaf tensor requiring gradients, initialised `scale * N(0, 1)` from
/// `rng` (DARTS initialises alpha with `1e-3 * randn`).
pub fn init_logits(rows: usize, cols: usize, scale: f64, rng: &mut Rng, device: Device) -> Tensor {
    let v: Vec<f32> = (0..rows * cols)
        .map(|_| (scale * rng.normal()) as f32)
        .collect();
    Tensor::from_slice(&v)
        .view([rows as i64, cols as i64])
        .to_device(device)
        .set_requires_grad(true)
}

/// Gumbel(0, 1) noise of `shape`, from `rng`.
pub fn gumbel(shape: [i64; 2], rng: &mut Rng, device: Device) -> Tensor {
    let n = (shape[0] * shape[1]) as usize;
    let v: Vec<f32> = (0..n)
        .map(|_| {
            let u = rng.uniform().clamp(1e-12, 1.0 - 1e-12);
            (-(-u.ln()).ln()) as f32
        })
        .collect();
    Tensor::from_slice(&v).view(shape).to_device(device)
}

/// Plain numbers of a small 2-D tensor.
pub fn rows_of(t: &Tensor) -> Vec<Vec<f64>> {
    let t = t.detach().to_device(Device::Cpu).to_kind(Kind::Double);
    let rows = t.size()[0];
    (0..rows)
        .map(|r| Vec::<f64>::try_from(t.get(r)).unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_minimises_a_quadratic() {
        let p = Tensor::from_slice(&[3.0f32, -2.0]).set_requires_grad(true);
        let mut adam = Adam::new(0.1, (0.9, 0.999), 0.0);
        for _ in 0..300 {
            let loss = (&p * &p).sum(Kind::Float);
            let g = Tensor::run_backward(&[&loss], &[&p], false, false);
            adam.step(std::slice::from_ref(&p), &g);
        }
        let v = Vec::<f64>::try_from(p.detach().to_kind(Kind::Double)).unwrap();
        assert!(v.iter().all(|x| x.abs() < 0.05), "{v:?}");
    }

    #[test]
    fn gumbel_noise_has_the_gumbel_mean() {
        let g = gumbel([100, 100], &mut Rng::new(1), Device::Cpu);
        let mean = g.mean(Kind::Double).double_value(&[]);
        // Euler-Mascheroni constant.
        assert!((mean - 0.5772).abs() < 0.03, "{mean}");
    }
}
