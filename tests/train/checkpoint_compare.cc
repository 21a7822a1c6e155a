#include "tests/train/checkpoint_compare.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/models/checkpoint.h"

namespace simscale::train::testing {
namespace fs = std::filesystem;

namespace {

std::map<std::string, torch::Tensor> ModelTensors(const models::Policy& model) {
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& item : model.named_parameters()) tensors[item.key()] = item.value();
  for (const auto& item : model.named_buffers()) tensors[item.key()] = item.value();
  return tensors;
}

// Compares the model tensors (names too); returns how many were compared.
int ExpectModelsEqual(const models::Policy& a, const models::Policy& b, const std::string& what) {
  const auto ta = ModelTensors(a), tb = ModelTensors(b);
  std::vector<std::string> names_a, names_b;
  for (const auto& [name, t] : ta) names_a.push_back(name);
  for (const auto& [name, t] : tb) names_b.push_back(name);
  EXPECT_EQ(names_a, names_b) << what << ": tensor names differ";
  int compared = 0;
  for (const auto& [name, t] : ta) {
    const auto other = tb.find(name);
    if (other == tb.end()) continue;
    EXPECT_TRUE(torch::equal(t, other->second))
        << what << ": tensor '" << name << "' differs (max abs difference "
        << (t - other->second).abs().max().item<double>() << ")";
    ++compared;
  }
  return compared;
}

// The AdamW state of each trainable parameter of `model` (loaded from `dir`), in order.
std::vector<torch::optim::AdamWParamState> OptimizerState(const fs::path& dir,
                                                          models::Policy& model) {
  std::vector<torch::Tensor> params;
  for (const auto& p : model.parameters()) {
    if (p.requires_grad()) params.push_back(p);
  }
  torch::optim::AdamW optimizer(params);
  models::LoadOptimizerState(dir, &optimizer);
  std::vector<torch::optim::AdamWParamState> states;
  for (const auto& p : params) {
    const auto key = c10::guts::to_string(p.unsafeGetTensorImpl());
    const auto found = optimizer.state().find(key);
    EXPECT_NE(found, optimizer.state().end()) << dir << ": no optimizer state for a parameter";
    if (found == optimizer.state().end()) continue;
    states.push_back(static_cast<const torch::optim::AdamWParamState&>(*found->second));
  }
  return states;
}

int ExpectOptimizersEqual(const fs::path& a, models::Policy& model_a, const fs::path& b,
                          models::Policy& model_b) {
  const auto sa = OptimizerState(a, model_a), sb = OptimizerState(b, model_b);
  EXPECT_EQ(sa.size(), sb.size()) << "optimizer states of " << a << " and " << b;
  int compared = 0;
  for (size_t i = 0; i < std::min(sa.size(), sb.size()); ++i) {
    EXPECT_EQ(sa[i].step(), sb[i].step()) << "optimizer step count, parameter " << i;
    EXPECT_TRUE(torch::equal(sa[i].exp_avg(), sb[i].exp_avg())) << "exp_avg, parameter " << i;
    EXPECT_TRUE(torch::equal(sa[i].exp_avg_sq(), sb[i].exp_avg_sq()))
        << "exp_avg_sq, parameter " << i;
    compared += 2;
  }
  return compared;
}

}  // namespace

int ExpectCheckpointsEqual(const fs::path& a, const fs::path& b) {
  models::CheckpointMetadata meta_a, meta_b;
  const auto model_a = models::LoadCheckpoint(a, &meta_a);
  const auto model_b = models::LoadCheckpoint(b, &meta_b);
  EXPECT_EQ(meta_a.step, meta_b.step) << a << " vs " << b;
  int compared = ExpectModelsEqual(*model_a, *model_b, "model of " + a.string());
  compared += ExpectOptimizersEqual(a, *model_a, b, *model_b);
  const fs::path ema_a = models::EmaCheckpointDirectory(a),
                 ema_b = models::EmaCheckpointDirectory(b);
  EXPECT_EQ(fs::exists(ema_a), fs::exists(ema_b)) << "EMA checkpoints beside " << a << ", " << b;
  if (fs::exists(ema_a) && fs::exists(ema_b)) {
    compared += ExpectModelsEqual(*models::LoadCheckpoint(ema_a), *models::LoadCheckpoint(ema_b),
                                  "EMA of " + a.string());
  }
  return compared;
}

}  // namespace simscale::train::testing
