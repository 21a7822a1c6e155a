#pragma once

#include <string>
#include <string_view>

namespace simscale {

// Where a model runs. kAuto: CUDA when LibTorch sees a device, else the CPU.
enum class Device { kAuto, kCpu, kCuda };

// "auto" | "cpu" | "cuda"; anything else is an InvalidArgumentError naming `what`.
Device ParseDevice(std::string_view name, std::string_view what = "device");
const char* ToString(Device device);

}  // namespace simscale
