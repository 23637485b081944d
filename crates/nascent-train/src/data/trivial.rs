//! A TrivialAugment-style policy (Müller and Hutter, 2021): each training image gets one
//! operation, drawn uniformly, at a strength drawn uniformly from its range. No policy is
//! searched or tuned; that is the point of the method.
//!
//! The operations work on one normalised sample `[c, h, w]` in place. They see raw pixel
//! values through `black` and `scale` per channel (a raw value `r` in `[0, 1]` is stored as
//! `black + r * scale`), so photometric operations (brightness, contrast, solarize, ...) act on
//! what the pixels were; geometric ones (rotate, shear, translate) fill uncovered pixels with
//! black, like the crop's padding.

use nascent_core::Rng;

/// The operations, in the order they are drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrivialOp {
    /// No change.
    Identity,
    /// Shear along x by up to 0.3.
    ShearX,
    /// Shear along y by up to 0.3.
    ShearY,
    /// Shift along x by up to a third of the width.
    TranslateX,
    /// Shift along y by up to a third of the height.
    TranslateY,
    /// Rotate by up to 30 degrees.
    Rotate,
    /// Scale the intensity by 1 +- up to 0.9.
    Brightness,
    /// Scale the distance from the mean grey by 1 +- up to 0.9.
    Contrast,
    /// Move towards or away from the grey image by up to 0.9 (colour images; grey: identity).
    Color,
    /// Blend with a smoothed copy by 1 +- up to 0.9.
    Sharpness,
    /// Keep 4 to 8 bits of each pixel.
    Posterize,
    /// Invert pixels above a threshold in [0, 1].
    Solarize,
    /// Stretch each channel to the full range.
    AutoContrast,
    /// Equalize each channel's histogram.
    Equalize,
}

impl TrivialOp {
    /// Every operation.
    pub const ALL: [TrivialOp; 14] = [
        TrivialOp::Identity,
        TrivialOp::ShearX,
        TrivialOp::ShearY,
        TrivialOp::TranslateX,
        TrivialOp::TranslateY,
        TrivialOp::Rotate,
        TrivialOp::Brightness,
        TrivialOp::Contrast,
        TrivialOp::Color,
        TrivialOp::Sharpness,
        TrivialOp::Posterize,
        TrivialOp::Solarize,
        TrivialOp::AutoContrast,
        TrivialOp::Equalize,
    ];
}

/// Applies one random operation at a random strength to `img` (`[c, h, w]`, normalised).
pub fn trivial_augment(
    img: &mut [f32],
    shape: [usize; 3],
    black: &[f32],
    scale: &[f32],
    rng: &mut Rng,
) {
    let op = TrivialOp::ALL[rng.below(TrivialOp::ALL.len())];
    let m = rng.uniform() as f32; // strength in [0, 1)
    let sign = if rng.bernoulli(0.5) { 1.0 } else { -1.0 };
    apply_op(op, m, sign, img, shape, black, scale);
}

/// Applies `op` at strength `m` in `[0, 1]` with direction `sign` (+-1).
pub fn apply_op(
    op: TrivialOp,
    m: f32,
    sign: f32,
    img: &mut [f32],
    shape: [usize; 3],
    black: &[f32],
    scale: &[f32],
) {
    let [c, h, w] = shape;
    let plane = h * w;
    // Raw values in [0, 1] of channel `ch`, and back.
    let to_raw = |ch: usize, v: f32| (v - black[ch]) / scale[ch];
    let from_raw = |ch: usize, r: f32| black[ch] + r.clamp(0.0, 1.0) * scale[ch];
    let (hc, wc) = ((h as f32 - 1.0) / 2.0, (w as f32 - 1.0) / 2.0);
    // Geometric: output pixel (x, y) takes the source pixel `src(x - wc, y - hc)` (centred).
    let warp = |img: &mut [f32], src: &dyn Fn(f32, f32) -> (f32, f32)| {
        let copy = img.to_vec();
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    let (sx, sy) = src(x as f32 - wc, y as f32 - hc);
                    let (sx, sy) = ((sx + wc).round(), (sy + hc).round());
                    img[ch * plane + y * w + x] =
                        if sx >= 0.0 && sy >= 0.0 && (sx as usize) < w && (sy as usize) < h {
                            copy[ch * plane + sy as usize * w + sx as usize]
                        } else {
                            black[ch]
                        };
                }
            }
        }
    };
    let map = |img: &mut [f32], f: &dyn Fn(usize, f32) -> f32| {
        for ch in 0..c {
            for v in &mut img[ch * plane..(ch + 1) * plane] {
                *v = from_raw(ch, f(ch, to_raw(ch, *v)));
            }
        }
    };
    match op {
        TrivialOp::Identity => {}
        TrivialOp::ShearX => {
            let s = sign * 0.3 * m;
            warp(img, &|x, y| (x - s * y, y));
        }
        TrivialOp::ShearY => {
            let s = sign * 0.3 * m;
            warp(img, &|x, y| (x, y - s * x));
        }
        TrivialOp::TranslateX => {
            let d = sign * m * w as f32 / 3.0;
            warp(img, &|x, y| (x - d, y));
        }
        TrivialOp::TranslateY => {
            let d = sign * m * h as f32 / 3.0;
            warp(img, &|x, y| (x, y - d));
        }
        TrivialOp::Rotate => {
            let a = (sign * 30.0 * m).to_radians();
            let (sn, cs) = a.sin_cos();
            warp(img, &|x, y| (cs * x + sn * y, -sn * x + cs * y));
        }
        TrivialOp::Brightness => {
            let f = 1.0 + sign * 0.9 * m;
            map(img, &|_, r| r * f);
        }
        TrivialOp::Contrast => {
            let f = 1.0 + sign * 0.9 * m;
            let mean: f32 = (0..c)
                .map(|ch| {
                    img[ch * plane..(ch + 1) * plane]
                        .iter()
                        .map(|&v| to_raw(ch, v))
                        .sum::<f32>()
                })
                .sum::<f32>()
                / (c * plane) as f32;
            map(img, &|_, r| mean + f * (r - mean));
        }
        TrivialOp::Color => {
            if c == 3 {
                let f = 1.0 + sign * 0.9 * m;
                let grey: Vec<f32> = (0..plane)
                    .map(|i| {
                        0.299 * to_raw(0, img[i])
                            + 0.587 * to_raw(1, img[plane + i])
                            + 0.114 * to_raw(2, img[2 * plane + i])
                    })
                    .collect();
                for ch in 0..3 {
                    for (i, g) in grey.iter().enumerate() {
                        let v = &mut img[ch * plane + i];
                        *v = from_raw(ch, g + f * (to_raw(ch, *v) - g));
                    }
                }
            }
        }
        TrivialOp::Sharpness => {
            let f = 1.0 + sign * 0.9 * m;
            let copy = img.to_vec();
            for ch in 0..c {
                // Border pixels stay as they are (as PIL does).
                for y in 1..h.saturating_sub(1) {
                    for x in 1..w.saturating_sub(1) {
                        let at = |dy: isize, dx: isize| {
                            to_raw(
                                ch,
                                copy[ch * plane
                                    + (y as isize + dy) as usize * w
                                    + (x as isize + dx) as usize],
                            )
                        };
                        let mut s = 5.0 * at(0, 0);
                        for (dy, dx) in [
                            (-1, -1),
                            (-1, 0),
                            (-1, 1),
                            (0, -1),
                            (0, 1),
                            (1, -1),
                            (1, 0),
                            (1, 1),
                        ] {
                            s += at(dy, dx);
                        }
                        let smooth = s / 13.0;
                        img[ch * plane + y * w + x] =
                            from_raw(ch, smooth + f * (at(0, 0) - smooth));
                    }
                }
            }
        }
        TrivialOp::Posterize => {
            let bits = 8 - (m * 4.0).round() as u32; // 8 (none) to 4
            if bits == 8 {
                // Keeping all 8 bits changes nothing on 8-bit images.
                return;
            }
            let levels = (1u32 << bits) as f32;
            map(img, &|_, r| {
                let q = (r.clamp(0.0, 1.0) * 255.0).round() as u32 >> (8 - bits);
                q as f32 / (levels - 1.0)
            });
        }
        TrivialOp::Solarize => {
            // Pixels at or above the threshold 1 - m are inverted; m = 0 changes nothing.
            let t = 1.0 - m;
            map(img, &|_, r| if m > 0.0 && r >= t { 1.0 - r } else { r });
        }
        TrivialOp::AutoContrast => {
            for ch in 0..c {
                let px = &img[ch * plane..(ch + 1) * plane];
                let (lo, hi) = px.iter().fold((f32::MAX, f32::MIN), |(a, b), &v| {
                    let r = to_raw(ch, v);
                    (a.min(r), b.max(r))
                });
                if hi > lo {
                    for v in &mut img[ch * plane..(ch + 1) * plane] {
                        *v = from_raw(ch, (to_raw(ch, *v) - lo) / (hi - lo));
                    }
                }
            }
        }
        TrivialOp::Equalize => {
            for ch in 0..c {
                let mut hist = [0usize; 256];
                let level = |v: f32| (to_raw(ch, v).clamp(0.0, 1.0) * 255.0).round() as usize;
                for &v in &img[ch * plane..(ch + 1) * plane] {
                    hist[level(v)] += 1;
                }
                let mut cdf = [0usize; 256];
                let mut acc = 0;
                for (i, n) in hist.iter().enumerate() {
                    acc += n;
                    cdf[i] = acc;
                }
                let first = cdf.iter().copied().find(|&n| n > 0).unwrap_or(0);
                if plane > first {
                    for v in &mut img[ch * plane..(ch + 1) * plane] {
                        let r = (cdf[level(*v)] - first) as f32 / (plane - first) as f32;
                        *v = from_raw(ch, r);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grey ramp, normalised with mean 0.5 and std 0.25 (black -2, scale 4).
    fn ramp(c: usize, h: usize, w: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let img = (0..c * h * w)
            .map(|i| ((i % (h * w)) as f32 / (h * w - 1) as f32 - 0.5) / 0.25)
            .collect();
        (img, vec![-2.0; c], vec![4.0; c])
    }

    #[test]
    fn every_op_keeps_pixels_in_the_raw_range() {
        let (img, black, scale) = ramp(3, 8, 8);
        for op in TrivialOp::ALL {
            for m in [0.0, 0.5, 1.0] {
                for sign in [-1.0, 1.0] {
                    let mut x = img.clone();
                    apply_op(op, m, sign, &mut x, [3, 8, 8], &black, &scale);
                    assert!(
                        x.iter().all(|v| (-2.0 - 1e-5..=2.0 + 1e-5).contains(v)),
                        "{op:?} {m} {sign}"
                    );
                }
            }
        }
    }

    #[test]
    fn strength_zero_changes_nothing_but_the_histogram_ops() {
        let (img, black, scale) = ramp(1, 6, 6);
        for op in TrivialOp::ALL {
            if matches!(op, TrivialOp::AutoContrast | TrivialOp::Equalize) {
                continue;
            }
            let mut x = img.clone();
            apply_op(op, 0.0, 1.0, &mut x, [1, 6, 6], &black, &scale);
            for (a, b) in x.iter().zip(&img) {
                assert!((a - b).abs() < 1e-4, "{op:?}");
            }
        }
    }

    #[test]
    fn ops_do_what_they_say() {
        let (img, black, scale) = ramp(1, 6, 6);
        let run = |op, m, sign| {
            let mut x = img.clone();
            apply_op(op, m, sign, &mut x, [1, 6, 6], &black, &scale);
            x
        };
        // Translate right by 2 pixels: the first two columns are black.
        let t = run(TrivialOp::TranslateX, 1.0, 1.0);
        assert_eq!(t[0], -2.0);
        assert_eq!(t[1], -2.0);
        assert_eq!(t[2], img[0]);
        // Solarize at full strength inverts everything.
        let s = run(TrivialOp::Solarize, 1.0, 1.0);
        assert!((s[0] - 2.0).abs() < 1e-5 && (s[35] + 2.0).abs() < 1e-5);
        // Darker.
        let b = run(TrivialOp::Brightness, 1.0, -1.0);
        assert!(b.iter().sum::<f32>() < img.iter().sum::<f32>());
        // Rotating by 30 degrees moves pixels but keeps the centre's neighbourhood.
        assert_ne!(run(TrivialOp::Rotate, 1.0, 1.0), img);
        // Every op is drawn.
        let mut rng = Rng::new(0);
        let mut changed = 0;
        for _ in 0..200 {
            let mut x = img.clone();
            trivial_augment(&mut x, [1, 6, 6], &black, &scale, &mut rng);
            changed += (x != img) as usize;
        }
        assert!(changed > 100, "{changed}");
    }
}
