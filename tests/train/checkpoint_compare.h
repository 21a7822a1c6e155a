#pragma once

#include <filesystem>

// Bit-for-bit comparison of two training checkpoints, tensor by tensor (never printed numbers).
namespace simscale::train::testing {

// Adds a gtest failure for every difference between the checkpoints `a` and `b`: their steps, the
// names of their model tensors, every model tensor (torch::equal), the AdamW state of every
// trainable parameter (step, exp_avg, exp_avg_sq) and, when either has one, the EMA checkpoint
// beside it. Returns the number of tensors compared.
int ExpectCheckpointsEqual(const std::filesystem::path& a, const std::filesystem::path& b);

}  // namespace simscale::train::testing
