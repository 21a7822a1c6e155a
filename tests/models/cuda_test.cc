// Models on a CUDA device, when one is available (skipped otherwise).
#include <filesystem>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/models/checkpoint.h"
#include "common/models/optimizer.h"
#include "tests/models/test_batches.h"

namespace simscale::models {
namespace {

TEST(Cuda, ModelsTrainPredictAndCheckpointOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Device cuda(torch::kCUDA);
  for (const char* head : {"mlp", "diffusion"}) {
    ModelOptions o;
    o.spec.state_dim = 6;
    o.spec.action_dim = 3;
    o.spec.policy.action_horizon = 2;
    o.spec.policy.cameras = {"front"};
    o.spec.policy.image_size = 64;
    o.spec.policy.uses_language = true;
    o.head.type = head;
    for (const char* name : {"bc", "vla"}) {
      ModelOptions options = o;
      options.spec.policy.uses_language = std::string(name) == "vla";
      torch::manual_seed(0);
      auto model = MakeModel(name, options);
      NormalizationStats stats;
      stats.state_mean = std::vector<double>(6, 1.0);
      stats.state_std = std::vector<double>(6, 2.0);
      model->SetNormalization(stats);
      model->to(cuda);
      torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-3));
      const Batch batch = testing::RandomBatch(model->spec(), 8, true).To(cuda);
      double first = 0, last = 0;
      for (int step = 0; step < 20; ++step) {
        optimizer.zero_grad();
        auto out = model->Forward(batch);
        out.loss.backward();
        optimizer.step();
        (step == 0 ? first : last) = out.loss.item<double>();
      }
      EXPECT_TRUE(std::isfinite(last)) << name << head;
      if (std::string(head) == "mlp") {
        EXPECT_LT(last, first) << name;
      }
      // Predict takes a CPU batch and answers on the CPU.
      const Batch cpu_batch = testing::RandomBatch(model->spec(), 2, false);
      const auto actions = model->Predict(cpu_batch);
      EXPECT_TRUE(actions.device().is_cpu());
      EXPECT_EQ(actions.sizes(), (std::vector<int64_t>{2, 2, 3}));
      // A GPU checkpoint loads on the CPU with identical predictions (MLP head: deterministic).
      const auto dir = std::filesystem::temp_directory_path() / "simscale_cuda_ckpt";
      SaveCheckpoint(dir, *model, &optimizer, {});
      auto loaded = LoadCheckpoint(dir);
      torch::manual_seed(1);
      const auto on_cpu = loaded->Predict(cpu_batch);
      torch::manual_seed(1);
      const auto on_gpu = model->Predict(cpu_batch);
      if (std::string(head) == "mlp") {
        EXPECT_LT((on_cpu - on_gpu).abs().max().item<double>(), 1e-3) << name;
      }
      auto reloaded = LoadCheckpoint(dir, nullptr, cuda);
      torch::optim::AdamW restored(reloaded->parameters(), torch::optim::AdamWOptions(1.0));
      LoadOptimizerState(dir, &restored);
      EXPECT_DOUBLE_EQ(restored.param_groups()[0].options().get_lr(), 1e-3);
      std::filesystem::remove_all(dir);
    }
  }
}

}  // namespace
}  // namespace simscale::models
