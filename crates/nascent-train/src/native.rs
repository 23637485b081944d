//! Safe wrappers of `csrc/nascent_ops.cpp`: the libtorch operations tch 0.24 does not expose.
//!
//! - Multi-tensor ("foreach") optimizer steps, gradient clipping and zeroing: one call into
//!   libtorch for all the parameters instead of several per parameter (on CUDA, a few fused
//!   kernels instead of thousands of small ones).
//! - Autocast to any dtype on any device: tch's `autocast` only turns float16 on for CUDA;
//!   bfloat16 autocast (CPU or CUDA) needs libtorch's per-device API.
//! - Setting gradients to "none" (undefined), as PyTorch's `zero_grad()` does by default:
//!   the next backward pass then writes fresh gradients instead of adding to zeroed ones.

use std::ffi::{CStr, c_char, c_int};
use tch::{Device, Kind, TchError, Tensor};
use torch_sys::C_tensor;

type TensorPtr = *const C_tensor;

unsafe extern "C" {
    fn nascent_free_error(e: *mut c_char);
    fn nascent_sgd_step(
        params: *const TensorPtr,
        grads: *const TensorPtr,
        bufs: *const TensorPtr,
        n: usize,
        lr: f64,
        momentum: f64,
        weight_decay: f64,
        nesterov: c_int,
    ) -> *mut c_char;
    fn nascent_adam_step(
        params: *const TensorPtr,
        grads: *const TensorPtr,
        ms: *const TensorPtr,
        vs: *const TensorPtr,
        n: usize,
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        decoupled: c_int,
        step: i64,
    ) -> *mut c_char;
    fn nascent_clip_grad_norm(grads: *const TensorPtr, n: usize, max_norm: f64) -> *mut c_char;
    fn nascent_grads_to_none(params: *const TensorPtr, n: usize) -> *mut c_char;
    fn nascent_scale_add(
        dst: *const TensorPtr,
        src: *const TensorPtr,
        n: usize,
        dst_scale: f64,
        src_scale: f64,
    ) -> *mut c_char;
    fn nascent_copy_into(dst: *const TensorPtr, src: *const TensorPtr, n: usize) -> *mut c_char;
    fn nascent_unscale_grads(
        grads: *const TensorPtr,
        n: usize,
        inv_scale: f64,
        found_inf: *mut c_int,
    ) -> *mut c_char;
    fn nascent_autocast_enter(
        device_type: c_int,
        enabled: c_int,
        dtype: c_int,
        prev_enabled: *mut c_int,
        prev_dtype: *mut c_int,
    ) -> *mut c_char;
    fn nascent_autocast_exit(
        device_type: c_int,
        prev_enabled: c_int,
        prev_dtype: c_int,
    ) -> *mut c_char;
}

/// Turns the C side's error string (or null) into a result, freeing the string.
fn check(e: *mut c_char) -> Result<(), TchError> {
    if e.is_null() {
        return Ok(());
    }
    // SAFETY: a non-null result is a NUL-terminated string malloc'd by the C side, which we own.
    let msg = unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned();
    // SAFETY: as above; freed once, by the allocator that made it.
    unsafe { nascent_free_error(e) };
    Err(TchError::Torch(msg))
}

fn ptrs<T: std::borrow::Borrow<Tensor>>(ts: &[T]) -> Vec<TensorPtr> {
    ts.iter().map(|t| t.borrow().as_ptr()).collect()
}

fn same_len(what: &str, a: usize, b: usize) -> Result<(), TchError> {
    if a == b {
        Ok(())
    } else {
        Err(TchError::Shape(format!(
            "{what}: {a} parameters but {b} tensors"
        )))
    }
}

/// SGD on `params` in place, as PyTorch's multi-tensor SGD without dampening: `d = g + wd p`;
/// `b = momentum b + d`; `d = d + momentum b` (Nesterov) or `d = b`; `p -= lr d`. With a
/// momentum of 0 `bufs` is ignored (pass an empty slice). Momentum buffers start at zero
/// (which gives `b = d` on the first step, as PyTorch's copy does).
pub(crate) fn sgd_step<P, G, B>(
    params: &[P],
    grads: &[G],
    bufs: &[B],
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    nesterov: bool,
) -> Result<(), TchError>
where
    P: std::borrow::Borrow<Tensor>,
    G: std::borrow::Borrow<Tensor>,
    B: std::borrow::Borrow<Tensor>,
{
    same_len("sgd gradients", params.len(), grads.len())?;
    if momentum != 0.0 {
        same_len("sgd momentum buffers", params.len(), bufs.len())?;
    }
    let (p, g) = (ptrs(params), ptrs(grads));
    let b = if momentum != 0.0 {
        ptrs(bufs)
    } else {
        p.clone()
    };
    // SAFETY: every pointer is a live tch tensor (an `at::Tensor*`) borrowed for the call; the
    // lengths were checked; the C side copies the handles and catches every exception.
    check(unsafe {
        nascent_sgd_step(
            p.as_ptr(),
            g.as_ptr(),
            b.as_ptr(),
            p.len(),
            lr,
            momentum,
            weight_decay,
            c_int::from(nesterov),
        )
    })
}

/// Hyper-parameters of [`adam_step`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdamStep {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub decoupled: bool,
    /// The step number, from 1 (bias correction).
    pub step: i64,
}

/// Adam (AdamW when decoupled) on `params` in place with moments `ms` and `vs` (zero at the
/// start), as PyTorch's multi-tensor Adam.
pub(crate) fn adam_step<P, G, M>(
    params: &[P],
    grads: &[G],
    ms: &[M],
    vs: &[M],
    h: AdamStep,
) -> Result<(), TchError>
where
    P: std::borrow::Borrow<Tensor>,
    G: std::borrow::Borrow<Tensor>,
    M: std::borrow::Borrow<Tensor>,
{
    same_len("adam gradients", params.len(), grads.len())?;
    same_len("adam first moments", params.len(), ms.len())?;
    same_len("adam second moments", params.len(), vs.len())?;
    let (p, g, m, v) = (ptrs(params), ptrs(grads), ptrs(ms), ptrs(vs));
    // SAFETY: as in `sgd_step`.
    check(unsafe {
        nascent_adam_step(
            p.as_ptr(),
            g.as_ptr(),
            m.as_ptr(),
            v.as_ptr(),
            p.len(),
            h.lr,
            h.beta1,
            h.beta2,
            h.eps,
            h.weight_decay,
            c_int::from(h.decoupled),
            h.step,
        )
    })
}

/// Scales `grads` in place so that their global L2 norm is at most `max_norm`, as
/// `torch.nn.utils.clip_grad_norm_`, without a host synchronisation.
pub(crate) fn clip_grad_norm<G: std::borrow::Borrow<Tensor>>(
    grads: &[G],
    max_norm: f64,
) -> Result<(), TchError> {
    let g = ptrs(grads);
    // SAFETY: as in `sgd_step`.
    check(unsafe { nascent_clip_grad_norm(g.as_ptr(), g.len(), max_norm) })
}

/// Makes the gradients of `params` undefined (PyTorch's `zero_grad(set_to_none=True)`).
pub(crate) fn grads_to_none<P: std::borrow::Borrow<Tensor>>(params: &[P]) -> Result<(), TchError> {
    let p = ptrs(params);
    // SAFETY: as in `sgd_step`; the C side resets each tensor's gradient slot.
    check(unsafe { nascent_grads_to_none(p.as_ptr(), p.len()) })
}

/// `dst = dst_scale dst + src_scale src`, tensor by tensor, in place (one multi-tensor call).
pub(crate) fn scale_add<D: std::borrow::Borrow<Tensor>, S: std::borrow::Borrow<Tensor>>(
    dst: &[D],
    src: &[S],
    dst_scale: f64,
    src_scale: f64,
) -> Result<(), TchError> {
    same_len("scale_add", dst.len(), src.len())?;
    let (d, s) = (ptrs(dst), ptrs(src));
    // SAFETY: as in `sgd_step`; both arrays hold `d.len()` live tensors.
    check(unsafe { nascent_scale_add(d.as_ptr(), s.as_ptr(), d.len(), dst_scale, src_scale) })
}

/// Copies each of `src` into the tensor of `dst` at its place (same shapes), in place,
/// without recording gradients.
pub(crate) fn copy_into<D: std::borrow::Borrow<Tensor>, S: std::borrow::Borrow<Tensor>>(
    dst: &[D],
    src: &[S],
) -> Result<(), TchError> {
    same_len("copy_into", dst.len(), src.len())?;
    let (d, s) = (ptrs(dst), ptrs(src));
    // SAFETY: as in `sgd_step`; both arrays hold `d.len()` live tensors.
    tch::no_grad(|| check(unsafe { nascent_copy_into(d.as_ptr(), s.as_ptr(), d.len()) }))
}

/// Multiplies `grads` (float32, one device) by `inv_scale` in place, as
/// `GradScaler.unscale_` in one multi-tensor call; whether any holds an infinity or a NaN.
pub(crate) fn unscale_grads<G: std::borrow::Borrow<Tensor>>(
    grads: &[G],
    inv_scale: f64,
) -> Result<bool, TchError> {
    let g = ptrs(grads);
    let mut found: c_int = 0;
    // SAFETY: as in `sgd_step`; `found` is a valid local.
    check(unsafe { nascent_unscale_grads(g.as_ptr(), g.len(), inv_scale, &mut found) })?;
    Ok(found != 0)
}

/// c10::DeviceType of a device.
fn device_type(device: Device) -> c_int {
    match device {
        Device::Cpu => 0,
        Device::Cuda(_) => 1,
        Device::Mps => 13,
        Device::Vulkan => 10,
    }
}

/// c10::ScalarType of the autocast dtypes.
fn scalar_type(kind: Kind) -> Result<c_int, TchError> {
    match kind {
        Kind::Half => Ok(5),
        Kind::BFloat16 => Ok(15),
        k => Err(TchError::Kind(format!(
            "autocast to {k:?}: only Half and BFloat16 are mixed-precision dtypes"
        ))),
    }
}

/// Runs `f` with autocast to `dtype` on `device`'s type when `enabled` (as
/// `torch.autocast(device_type, dtype)`), restoring the previous state afterwards, also
/// when `f` panics. With `enabled` false `f` runs as is.
pub(crate) fn autocast<T>(
    device: Device,
    dtype: Kind,
    enabled: bool,
    f: impl FnOnce() -> T,
) -> Result<T, TchError> {
    if !enabled {
        return Ok(f());
    }
    struct Restore {
        dev: c_int,
        enabled: c_int,
        dtype: c_int,
    }
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: plain values; the C side catches every exception.
            let e = unsafe { nascent_autocast_exit(self.dev, self.enabled, self.dtype) };
            if let Err(e) = check(e) {
                log::warn!("cannot restore the autocast state: {e}");
            }
        }
    }
    let dev = device_type(device);
    let st = scalar_type(dtype)?;
    let (mut prev_enabled, mut prev_dtype) = (0, 0);
    // SAFETY: the out-pointers are valid locals; the C side catches every exception.
    check(unsafe { nascent_autocast_enter(dev, 1, st, &mut prev_enabled, &mut prev_dtype) })?;
    let _restore = Restore {
        dev,
        enabled: prev_enabled,
        dtype: prev_dtype,
    };
    Ok(f())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_come_back_as_messages() {
        let p = Tensor::zeros([3], (Kind::Float, Device::Cpu));
        let g = Tensor::zeros([4], (Kind::Float, Device::Cpu));
        // Shapes that do not broadcast: libtorch's error, not a crash.
        let e = sgd_step(&[&p], &[&g], &[&p], 0.1, 0.0, 0.0, false).unwrap_err();
        assert!(e.to_string().contains("size"), "{e}");
        let e = sgd_step(&[&p], &[] as &[Tensor], &[&p], 0.1, 0.9, 0.0, false).unwrap_err();
        assert!(e.to_string().contains("1 parameters but 0"), "{e}");
        assert!(autocast(Device::Cpu, Kind::Float, true, || ()).is_err());
    }

    #[test]
    fn sgd_matches_the_formula() {
        let p = Tensor::from_slice(&[1.0f32, -2.0]);
        let g = Tensor::from_slice(&[0.5f32, 0.25]);
        let b = Tensor::zeros([2], (Kind::Float, Device::Cpu));
        for _ in 0..2 {
            sgd_step(&[&p], &[&g], &[&b], 0.1, 0.9, 0.01, true).unwrap();
        }
        // By hand: d = g + 0.01 p; b = 0.9 b + d; p -= 0.1 (d + 0.9 b), twice.
        let (mut pv, gv, mut bv) = ([1.0f64, -2.0], [0.5f64, 0.25], [0.0f64; 2]);
        for _ in 0..2 {
            for i in 0..2 {
                let d = gv[i] + 0.01 * pv[i];
                bv[i] = 0.9 * bv[i] + d;
                pv[i] -= 0.1 * (d + 0.9 * bv[i]);
            }
        }
        let got = Vec::<f32>::try_from(&p).unwrap();
        for i in 0..2 {
            assert!((got[i] as f64 - pv[i]).abs() < 1e-6, "{got:?} {pv:?}");
        }
        let gotb = Vec::<f32>::try_from(&b).unwrap();
        assert!((gotb[0] as f64 - bv[0]).abs() < 1e-6);
    }

    #[test]
    fn clipping_scales_to_the_norm_and_grads_become_undefined() {
        let w = Tensor::from_slice(&[3.0f32, 4.0]).set_requires_grad(true);
        (&w * &w).sum(Kind::Float).backward();
        let g = w.grad();
        clip_grad_norm(&[&g], 1.0).unwrap();
        let n = g.norm().double_value(&[]);
        assert!((n - 1.0).abs() < 1e-4, "{n}");
        grads_to_none(&[&w]).unwrap();
        assert!(!w.grad().defined());
    }

    #[test]
    fn unscaling_divides_and_finds_infinities() {
        let a = Tensor::from_slice(&[2.0f32, 4.0]);
        let b = Tensor::from_slice(&[8.0f32]);
        assert!(!unscale_grads(&[&a, &b], 0.5).unwrap());
        assert_eq!(Vec::<f32>::try_from(&a).unwrap(), [1.0, 2.0]);
        assert_eq!(Vec::<f32>::try_from(&b).unwrap(), [4.0]);
        let c = Tensor::from_slice(&[1.0f32, f32::INFINITY]);
        assert!(unscale_grads(&[&a, &c], 1.0).unwrap());
        let d = Tensor::from_slice(&[f32::NAN]);
        assert!(unscale_grads(&[&d], 1.0).unwrap());
        assert!(!unscale_grads(&[] as &[Tensor], 1.0).unwrap());
    }

    #[test]
    fn bf16_autocast_on_the_cpu() {
        let a = Tensor::ones([4, 4], (Kind::Float, Device::Cpu));
        let y = autocast(Device::Cpu, Kind::BFloat16, true, || a.matmul(&a)).unwrap();
        assert_eq!(y.kind(), Kind::BFloat16);
        // Restored afterwards.
        assert_eq!(a.matmul(&a).kind(), Kind::Float);
        let y = autocast(Device::Cpu, Kind::BFloat16, false, || a.matmul(&a)).unwrap();
        assert_eq!(y.kind(), Kind::Float);
    }
}
