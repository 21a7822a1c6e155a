#include "common/core/device.h"

#include <fmt/format.h>

#include "common/core/error.h"

namespace simscale {

Device ParseDevice(std::string_view name, std::string_view what) {
  if (name == "auto") return Device::kAuto;
  if (name == "cpu") return Device::kCpu;
  if (name == "cuda") return Device::kCuda;
  throw InvalidArgumentError(
      fmt::format("{}: expected one of auto, cpu, cuda, got '{}'", what, name));
}

const char* ToString(Device device) {
  switch (device) {
    case Device::kAuto:
      return "auto";
    case Device::kCpu:
      return "cpu";
    case Device::kCuda:
      return "cuda";
  }
  return "?";
}

}  // namespace simscale
