//! Data augmentation for image training batches: random crop with zero padding, horizontal
//! flip, a TrivialAugment-style policy ([`super::trivial`]), cutout (in that order). Each sample draws from a [`Rng`] that the loader seeds from the run's seed, the
//! epoch and the sample's place, so augmentation is reproducible.

use nascent_core::Rng;

/// Which augmentations to apply to training images (never to validation or test images).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Augment {
    /// Pad each side by this many (black) pixels, then crop back to the original size at a
    /// random place; 0 turns it off.
    pub crop_padding: usize,
    /// Mirror left-right with probability 1/2.
    pub hflip: bool,
    /// Zero a square of this side at a random centre (cutout, DeVries and Taylor 2017); 0 turns
    /// it off.
    pub cutout: usize,
    /// One random operation at a random strength per image ([`super::trivial`]).
    pub trivial: bool,
}

impl Augment {
    /// No augmentation.
    pub fn none() -> Self {
        Augment::default()
    }

    /// The standard CIFAR recipe: pad 4 and crop, and flip.
    pub fn cifar() -> Self {
        Augment {
            crop_padding: 4,
            hflip: true,
            cutout: 0,
            trivial: false,
        }
    }

    /// Whether it changes nothing.
    pub fn is_identity(&self) -> bool {
        self.crop_padding == 0 && !self.hflip && self.cutout == 0 && !self.trivial
    }

    /// Writes an augmented copy of `src` (one normalised sample `[c, h, w]`) to `out`. Pixels
    /// that the crop brings in from the padding take `pad[c]`, the normalised value of a black
    /// pixel of channel `c`; `scale[c]` is the normalised distance from black to white (the
    /// TrivialAugment policy's photometric operations work on raw values).
    pub fn apply(
        &self,
        src: &[f32],
        shape: [usize; 3],
        pad: &[f32],
        scale: &[f32],
        rng: &mut Rng,
        out: &mut [f32],
    ) {
        let [c, h, w] = shape;
        let p = self.crop_padding as isize;
        let (dy, dx) = if p > 0 {
            (
                rng.below(2 * p as usize + 1) as isize - p,
                rng.below(2 * p as usize + 1) as isize - p,
            )
        } else {
            (0, 0)
        };
        let flip = self.hflip && rng.bernoulli(0.5);
        let (hi, wi) = (h as isize, w as isize);
        for ch in 0..c {
            let s = &src[ch * h * w..(ch + 1) * h * w];
            let o = &mut out[ch * h * w..(ch + 1) * h * w];
            for y in 0..hi {
                let sy = y + dy;
                let row = &mut o[(y * wi) as usize..((y + 1) * wi) as usize];
                if !(0..hi).contains(&sy) {
                    row.fill(pad[ch]);
                    continue;
                }
                let srow = &s[(sy * wi) as usize..((sy + 1) * wi) as usize];
                for (x, v) in row.iter_mut().enumerate() {
                    let xf = if flip {
                        wi - 1 - x as isize
                    } else {
                        x as isize
                    };
                    let sx = xf + dx;
                    *v = if (0..wi).contains(&sx) {
                        srow[sx as usize]
                    } else {
                        pad[ch]
                    };
                }
            }
        }
        if self.trivial {
            super::trivial::trivial_augment(out, shape, pad, scale, rng);
        }
        if self.cutout > 0 {
            let cy = rng.below(h) as isize;
            let cx = rng.below(w) as isize;
            let half = self.cutout as isize / 2;
            let (y0, y1) = (
                (cy - half).max(0),
                (cy + self.cutout as isize - half).min(hi),
            );
            let (x0, x1) = (
                (cx - half).max(0),
                (cx + self.cutout as isize - half).min(wi),
            );
            for ch in 0..c {
                for y in y0..y1 {
                    let start = ch * h * w + (y * wi) as usize;
                    out[start + x0 as usize..start + x1 as usize].fill(0.0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_copies() {
        let src: Vec<f32> = (0..12).map(|x| x as f32).collect();
        let mut out = vec![0.0; 12];
        Augment::none().apply(&src, [1, 3, 4], &[-1.0], &[1.0], &mut Rng::new(0), &mut out);
        assert_eq!(src, out);
    }

    #[test]
    fn flip_mirrors_rows_and_crop_shifts_in_padding() {
        let src: Vec<f32> = (0..12).map(|x| x as f32).collect();
        let flip = Augment {
            hflip: true,
            ..Augment::none()
        };
        let mut seen_flip = false;
        let mut rng = Rng::new(1);
        for _ in 0..20 {
            let mut out = vec![0.0; 12];
            flip.apply(&src, [1, 3, 4], &[-1.0], &[1.0], &mut rng, &mut out);
            if out != src {
                assert_eq!(&out[..4], &[3.0, 2.0, 1.0, 0.0]);
                seen_flip = true;
            }
        }
        assert!(seen_flip);
        let crop = Augment {
            crop_padding: 2,
            ..Augment::none()
        };
        let mut shifted = 0;
        for _ in 0..50 {
            let mut out = vec![0.0; 12];
            crop.apply(&src, [1, 3, 4], &[-1.0], &[1.0], &mut rng, &mut out);
            // Every value is either the padding or a source pixel, and the source pixels keep
            // their relative order along a row.
            assert!(out.iter().all(|v| *v == -1.0 || src.contains(v)));
            if out.contains(&-1.0) {
                shifted += 1;
            }
        }
        assert!(shifted > 10);
    }

    #[test]
    fn cutout_zeroes_a_square() {
        let src = vec![1.0f32; 2 * 8 * 8];
        let mut out = vec![0.0; src.len()];
        let cut = Augment {
            cutout: 4,
            ..Augment::none()
        };
        cut.apply(
            &src,
            [2, 8, 8],
            &[0.0, 0.0],
            &[1.0, 1.0],
            &mut Rng::new(3),
            &mut out,
        );
        let zeros = out.iter().filter(|v| **v == 0.0).count();
        assert!(zeros > 0 && zeros <= 2 * 16, "{zeros}");
        assert_eq!(zeros % 2, 0);
    }

    #[test]
    fn trivial_policy_changes_most_images() {
        let src: Vec<f32> = (0..64).map(|x| x as f32 / 63.0).collect();
        let t = Augment {
            trivial: true,
            ..Augment::none()
        };
        assert!(!t.is_identity());
        let mut rng = Rng::new(4);
        let mut changed = 0;
        for _ in 0..100 {
            let mut out = vec![0.0; 64];
            t.apply(&src, [1, 8, 8], &[0.0], &[1.0], &mut rng, &mut out);
            assert!(out.iter().all(|v| (-1e-5..=1.0 + 1e-5).contains(v)));
            changed += (out != src) as usize;
        }
        assert!(changed > 50, "{changed}");
    }
}
