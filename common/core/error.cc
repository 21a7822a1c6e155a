#include "common/core/error.h"

#include <cstring>

namespace simscale::internal {

void ThrowCheckFailure(const char* file, int line, const char* condition,
                       const std::string& message) {
  const char* slash = std::strrchr(file, '/');
  const char* base = slash != nullptr ? slash + 1 : file;
  throw Error(fmt::format("{} (check '{}' failed at {}:{})", message, condition, base, line));
}

}  // namespace simscale::internal
