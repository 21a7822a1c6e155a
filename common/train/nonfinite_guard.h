#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

namespace simscale::train {

// What a checkpoint keeps of the guard.
struct NonFiniteCounts {
  int64_t skipped = 0;   // non-finite steps in the whole run
  int64_t in_a_row = 0;  // up to the last step
};

// Decides whether a step's update is applied: a step whose loss or gradient norm is not finite is
// skipped (both are all-reduced, so every rank skips together), counted and logged; too many in a
// row stop the run, because by then the model itself is likely broken.
class NonFiniteGuard {
 public:
  // `config_key` names the setting of max_in_a_row in the error; `unit` what a step is called in
  // the logs ("step", "PPO minibatch step").
  explicit NonFiniteGuard(int64_t max_in_a_row, std::string config_key = "train.max_nonfinite",
                          std::string unit = "step")
      : max_in_a_row_(max_in_a_row), config_key_(std::move(config_key)), unit_(std::move(unit)) {}

  // Whether step `step` (as numbered in logs and metrics) may be applied. The max_in_a_row-th
  // non-finite step in a row throws Error naming `last_checkpoint`, the one to go back to (empty:
  // none written yet).
  bool Admit(int64_t step, double loss, double grad_norm,
             const std::filesystem::path& last_checkpoint);

  const NonFiniteCounts& counts() const { return counts_; }
  void Restore(const NonFiniteCounts& counts) { counts_ = counts; }

 private:
  int64_t max_in_a_row_;
  std::string config_key_, unit_;
  NonFiniteCounts counts_;
};

}  // namespace simscale::train
