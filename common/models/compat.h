#pragma once

#include <torch/torch.h>

// The one place where LibTorch 1.13 (Debian, CPU) and LibTorch 2.x (CUDA builds) differ in API we
// use. Everything else in common/models compiles unchanged against both.
namespace simscale::models {

// Mixed precision for the scope of the guard: autocast on `device_type` with `dtype` (bfloat16 on
// CPU; bfloat16 or float16 on CUDA). Disabled guards do nothing. Restores the previous state.
class AutocastGuard {
 public:
  AutocastGuard(c10::DeviceType device_type, bool enabled, at::ScalarType dtype = at::kBFloat16);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  c10::DeviceType device_type_;
  bool enabled_;
  bool previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

// Whether autocast is on for `device_type` in this thread.
bool AutocastEnabled(c10::DeviceType device_type);

// "major.minor.patch" of the LibTorch headers compiled against.
const char* TorchVersion();

}  // namespace simscale::models
