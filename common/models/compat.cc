#include "common/models/compat.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace simscale::models {
namespace {

// LibTorch 2.4 replaced the per-device autocast functions (set_cpu_enabled, ...) by ones taking a
// device type; the old names are deprecated there and gone later.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool GetEnabled(c10::DeviceType type) { return at::autocast::is_autocast_enabled(type); }
void SetEnabled(c10::DeviceType type, bool on) { at::autocast::set_autocast_enabled(type, on); }
at::ScalarType GetDtype(c10::DeviceType type) { return at::autocast::get_autocast_dtype(type); }
void SetDtype(c10::DeviceType type, at::ScalarType dtype) {
  at::autocast::set_autocast_dtype(type, dtype);
}
#else
bool GetEnabled(c10::DeviceType type) {
  return type == c10::DeviceType::CPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
}
void SetEnabled(c10::DeviceType type, bool on) {
  if (type == c10::DeviceType::CPU) {
    at::autocast::set_cpu_enabled(on);
  } else {
    at::autocast::set_enabled(on);
  }
}
at::ScalarType GetDtype(c10::DeviceType type) {
  return type == c10::DeviceType::CPU ? at::autocast::get_autocast_cpu_dtype()
                                      : at::autocast::get_autocast_gpu_dtype();
}
void SetDtype(c10::DeviceType type, at::ScalarType dtype) {
  if (type == c10::DeviceType::CPU) {
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else {
    at::autocast::set_autocast_gpu_dtype(dtype);
  }
}
#endif

}  // namespace

AutocastGuard::AutocastGuard(c10::DeviceType device_type, bool enabled, at::ScalarType dtype)
    : device_type_(device_type), enabled_(enabled) {
  if (!enabled_) return;
  previous_enabled_ = GetEnabled(device_type_);
  previous_dtype_ = GetDtype(device_type_);
  SetEnabled(device_type_, true);
  SetDtype(device_type_, dtype);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!enabled_) return;
  // The cast cache (weights cast once per autocast region) is dropped when the outermost region
  // ends, as torch.autocast does.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  SetEnabled(device_type_, previous_enabled_);
  SetDtype(device_type_, previous_dtype_);
}

bool AutocastEnabled(c10::DeviceType device_type) { return GetEnabled(device_type); }

const char* TorchVersion() { return TORCH_VERSION; }

}  // namespace simscale::models
