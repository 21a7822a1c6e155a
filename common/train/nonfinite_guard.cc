#include "common/train/nonfinite_guard.h"

#include <cmath>
#include <string>

#include <fmt/format.h>

#include "common/core/error.h"
#include "common/core/log.h"

namespace simscale::train {

bool NonFiniteGuard::Admit(int64_t step, double loss, double grad_norm,
                           const std::filesystem::path& last_checkpoint) {
  if (std::isfinite(grad_norm) && std::isfinite(loss)) {
    counts_.in_a_row = 0;
    return true;
  }
  ++counts_.skipped;
  ++counts_.in_a_row;
  log::Warn(
      "{} {}: non-finite {} (loss {}, gradient norm {}); skipped on every rank "
      "({} in a row, {} in total)",
      unit_, step, std::isfinite(loss) ? "gradients" : "loss", loss, grad_norm, counts_.in_a_row,
      counts_.skipped);
  if (counts_.in_a_row >= max_in_a_row_) {
    throw Error(
        fmt::format("{} non-finite steps in a row ({}); stopping. The last good checkpoint is {}",
                    counts_.in_a_row, config_key_,
                    last_checkpoint.empty() ? std::string("none (no checkpoint written yet)")
                                            : last_checkpoint.string()));
  }
  return false;
}

}  // namespace simscale::train
