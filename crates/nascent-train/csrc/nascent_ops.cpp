// libtorch operations that tch 0.24 does not expose, behind a small C interface:
// multi-tensor ("foreach") optimizer steps and gradient clipping, and autocast for any device
// and dtype (tch's `autocast` only knows float16 on CUDA).
//
// A `tensor` is tch's `C_tensor`, which torch-sys defines as a pointer to an `at::Tensor`.
// Every function returns NULL on success or an error message that the caller frees with
// `nascent_free_error`; no C++ exception crosses the C boundary.

#include <ATen/core/Tensor.h>
#include <ATen/ops/_amp_foreach_non_finite_check_and_unscale.h>
#include <ATen/ops/_foreach_add.h>
#include <ATen/ops/_foreach_addcdiv.h>
#include <ATen/ops/_foreach_addcmul.h>
#include <ATen/ops/_foreach_copy.h>
#include <ATen/ops/_foreach_div.h>
#include <ATen/ops/_foreach_lerp.h>
#include <ATen/ops/_foreach_mul.h>
#include <ATen/ops/_foreach_norm.h>
#include <ATen/ops/_foreach_sqrt.h>
#include <ATen/ops/full.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/zeros.h>
#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

// The autocast state (ATen/autocast_mode.h, whose includes cost a minute of compilation:
// the declarations are all this file needs, and libtorch_cpu exports them).
namespace at::autocast {
TORCH_API bool is_autocast_enabled(at::DeviceType device_type);
TORCH_API void set_autocast_enabled(at::DeviceType device_type, bool enabled);
TORCH_API at::ScalarType get_autocast_dtype(at::DeviceType device_type);
TORCH_API void set_autocast_dtype(at::DeviceType device_type, at::ScalarType dtype);
TORCH_API void clear_cache();
TORCH_API int increment_nesting();
TORCH_API int decrement_nesting();
}  // namespace at::autocast

typedef at::Tensor *tensor;

namespace {

char *error_copy(const char *what) {
  size_t n = std::strlen(what);
  char *s = static_cast<char *>(std::malloc(n + 1));
  if (s != nullptr) std::memcpy(s, what, n + 1);
  return s;
}

std::vector<at::Tensor> list(const tensor *ts, size_t n) {
  std::vector<at::Tensor> v;
  v.reserve(n);
  for (size_t i = 0; i < n; ++i) v.push_back(*ts[i]);
  return v;
}

}  // namespace

#define NASCENT_GUARD(body)                                 \
  try {                                                     \
    body;                                                   \
    return nullptr;                                         \
  } catch (const std::exception &e) {                       \
    return error_copy(e.what());                            \
  } catch (...) {                                           \
    return error_copy("unknown C++ exception in libtorch"); \
  }

extern "C" {

void nascent_free_error(char *e) { std::free(e); }

// SGD on `n` parameters with their gradients and momentum buffers (same device and dtype),
// as PyTorch's `_multi_tensor_sgd` without dampening: d = g + wd p; b = momentum b + d;
// d = d + momentum b (Nesterov) or d = b; p = p - lr d. A momentum of 0 ignores `bufs`.
char *nascent_sgd_step(const tensor *params, const tensor *grads, const tensor *bufs, size_t n,
                       double lr, double momentum, double weight_decay, int nesterov) {
  NASCENT_GUARD({
    if (n == 0) return nullptr;
    auto p = list(params, n);
    auto g = list(grads, n);
    std::vector<at::Tensor> d =
        weight_decay != 0.0 ? at::_foreach_add(g, p, weight_decay) : g;
    if (momentum != 0.0) {
      auto b = list(bufs, n);
      at::_foreach_mul_(b, momentum);
      at::_foreach_add_(b, d);
      if (nesterov) {
        if (weight_decay == 0.0) d = at::_foreach_add(g, b, momentum);
        else at::_foreach_add_(d, b, momentum);
      } else {
        d = b;
      }
    }
    at::_foreach_add_(p, d, -lr);
  })
}

// Adam (AdamW when `decoupled`) on `n` parameters, with first and second moments `m` and `v`
// and the step count `step` (from 1), as PyTorch's `_multi_tensor_adam`.
char *nascent_adam_step(const tensor *params, const tensor *grads, const tensor *ms,
                        const tensor *vs, size_t n, double lr, double beta1, double beta2,
                        double eps, double weight_decay, int decoupled, long long step) {
  NASCENT_GUARD({
    if (n == 0) return nullptr;
    auto p = list(params, n);
    auto g = list(grads, n);
    auto m = list(ms, n);
    auto v = list(vs, n);
    if (weight_decay != 0.0) {
      if (decoupled) at::_foreach_mul_(p, 1.0 - lr * weight_decay);
      else g = at::_foreach_add(g, p, weight_decay);
    }
    at::_foreach_lerp_(m, g, 1.0 - beta1);
    at::_foreach_mul_(v, beta2);
    at::_foreach_addcmul_(v, g, g, 1.0 - beta2);
    double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
    double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
    auto denom = at::_foreach_sqrt(v);
    at::_foreach_div_(denom, std::sqrt(bc2));
    at::_foreach_add_(denom, eps);
    at::_foreach_addcdiv_(p, m, denom, -lr / bc1);
  })
}

// Scales `n` gradients (same device) so that their global L2 norm is at most `max_norm`, as
// `torch.nn.utils.clip_grad_norm_` (no host synchronisation).
char *nascent_clip_grad_norm(const tensor *grads, size_t n, double max_norm) {
  NASCENT_GUARD({
    if (n == 0) return nullptr;
    auto g = list(grads, n);
    auto norms = at::_foreach_norm(g, 2);
    auto total = at::stack(norms, 0).norm();
    auto coef = total.add(1e-6).reciprocal().mul(max_norm).clamp_max(1.0);
    at::_foreach_mul_(g, coef);
  })
}

// Multiplies `n` gradients (same device, float32) by `inv_scale` in place and writes to
// `found_inf` whether any of them holds an infinity or a NaN (mixed precision's loss scaling,
// as `GradScaler.unscale_`: one kernel for all, then one host synchronisation).
char *nascent_unscale_grads(const tensor *grads, size_t n, double inv_scale, int *found_inf) {
  NASCENT_GUARD({
    *found_inf = 0;
    if (n == 0) return nullptr;
    auto g = list(grads, n);
    auto opts = g[0].options().dtype(at::kFloat);
    auto found = at::zeros({1}, opts);
    auto inv = at::full({1}, inv_scale, opts);
    at::_amp_foreach_non_finite_check_and_unscale_(g, found, inv);
    *found_inf = found.item<float>() != 0.0f ? 1 : 0;
  })
}

// dst = dst_scale * dst + src_scale * src over `n` pairs of tensors (same shapes and device), in
// place: the weighted mean of data-parallel replicas' gradients, a pair of lists at a time.
char *nascent_scale_add(const tensor *dst, const tensor *src, size_t n, double dst_scale,
                        double src_scale) {
  NASCENT_GUARD({
    if (n == 0) return nullptr;
    auto d = list(dst, n);
    if (dst_scale != 1.0) at::_foreach_mul_(d, dst_scale);
    at::_foreach_add_(d, list(src, n), src_scale);
  })
}

// Copies `n` tensors into `n` others of the same shapes (a data-parallel replica's weights
// from the model's), in place, whatever their strides. Call without gradient recording.
char *nascent_copy_into(const tensor *dst, const tensor *src, size_t n) {
  NASCENT_GUARD({
    if (n == 0) return nullptr;
    auto d = list(dst, n);
    at::_foreach_copy_(d, list(src, n));
  })
}

// Makes the gradients of `n` parameters undefined, as PyTorch's `zero_grad()` (set_to_none):
// the next backward pass stores its gradients instead of adding them to zeros.
char *nascent_grads_to_none(const tensor *params, size_t n) {
  NASCENT_GUARD({
    for (size_t i = 0; i < n; ++i) params[i]->mutable_grad().reset();
  })
}

// Autocast on `device_type` (c10::DeviceType: 0 CPU, 1 CUDA) to `dtype` (c10::ScalarType:
// 5 Half, 15 BFloat16) on or off; writes the previous state to `prev_enabled` and
// `prev_dtype` for `nascent_autocast_restore`.
char *nascent_autocast_enter(int device_type, int enabled, int dtype, int *prev_enabled,
                             int *prev_dtype) {
  NASCENT_GUARD({
    auto dev = static_cast<at::DeviceType>(device_type);
    *prev_enabled = at::autocast::is_autocast_enabled(dev) ? 1 : 0;
    *prev_dtype = static_cast<int>(at::autocast::get_autocast_dtype(dev));
    at::autocast::set_autocast_dtype(dev, static_cast<at::ScalarType>(dtype));
    at::autocast::set_autocast_enabled(dev, enabled != 0);
    at::autocast::increment_nesting();
  })
}

// Leaves an autocast region: restores the state `nascent_autocast_enter` reported, and clears
// the cache of casted weights when the outermost region ends.
char *nascent_autocast_exit(int device_type, int prev_enabled, int prev_dtype) {
  NASCENT_GUARD({
    auto dev = static_cast<at::DeviceType>(device_type);
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(dev, prev_enabled != 0);
    at::autocast::set_autocast_dtype(dev, static_cast<at::ScalarType>(prev_dtype));
  })
}

}  // extern "C"
