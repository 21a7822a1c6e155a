#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "common/models/optimizer.h"
#include "common/mpi/mpi.h"
#include "common/rl/actor_critic.h"
#include "common/rl/ppo_gradient.h"
#include "common/rl/ppo_options.h"
#include "common/rl/rollout_buffer.h"
#include "common/train/grad_sync.h"
#include "common/train/nonfinite_guard.h"

namespace simscale::rl {

// What one update reports, means over every rank's samples (CleanRL's charts). The losses, KL and
// clip fraction are means over all minibatches of all epochs.
struct UpdateMetrics {
  double policy_loss = 0, value_loss = 0, entropy = 0, approx_kl = 0, clip_fraction = 0;
  double explained_variance = 0, grad_norm = 0;
  int64_t nonfinite_skipped = 0;  // minibatch steps skipped (non-finite loss or gradients)
  int64_t epochs = 0;             // epochs run (fewer than configured after a target-KL stop)
  double allreduce_seconds = 0;   // this rank's time in the gradient all-reduces of the update
};

// Fault injection for tests: corrupt_loss(update, minibatch step within the update, rank) true
// makes that rank's loss NaN before its backward pass.
struct LearnerHooks {
  std::function<bool(int64_t, int64_t, int)> corrupt_loss;
};

// The PPO update, DD-PPO style: every rank holds the rollout of its own envs (global indices
// [first_env_index, first_env_index + N)); each epoch permutes the GLOBAL sample indices
// (t * total_envs + global env) with a permutation drawn from (seed, update, epoch) — the same on
// every rank — and each minibatch is a slice of it. A rank computes the loss over its own
// samples of the minibatch, divided by the global minibatch size, and the gradients are summed
// over ranks: R ranks x N/R envs take the steps of 1 rank x N envs (up to float regrouping).
// With the tanh-MLP actor the gradients are computed without autograd (PpoGradient) straight into
// the all-reduced buckets (the model must be float32 on the CPU); a policy actor (a fine-tuned
// train_ddp model) takes the autograd path.
class PpoLearner {
 public:
  PpoLearner(ActorCritic model, const PpoOptions& options, const mpi::Communicator& comm,
             int64_t first_env_index, int64_t local_envs, int64_t total_envs,
             LearnerHooks hooks = {});

  // Collective. Computes the advantages of `buffer` (GAE) and runs the epochs at learning rate lr.
  UpdateMetrics Update(RolloutBuffer* buffer, int64_t update, double lr);

  models::FusedAdamW& optimizer() { return *optimizer_; }
  // The guard that skips non-finite minibatch steps (on every rank alike: it sees all-reduced
  // numbers); its error names the last checkpoint written.
  train::NonFiniteGuard& nonfinite() { return nonfinite_; }
  void set_last_checkpoint(std::filesystem::path path) { last_checkpoint_ = std::move(path); }

 private:
  struct MinibatchSums;
  // This rank's rows of one minibatch, gathered from the rollout into buffers kept between calls.
  struct Minibatch {
    std::vector<float> observations, raw_observations, actions, log_probs, values, advantages,
        returns;
    MinibatchRows View(int64_t rows) const;
  };
  // This rank's rows (t * N + k) of each minibatch of one epoch.
  std::vector<std::vector<int64_t>> LocalMinibatches(int64_t steps, int64_t update,
                                                     int64_t epoch) const;
  void Gather(const RolloutBuffer& buffer, const std::vector<int64_t>& rows);
  // Collective: normalises the gathered advantages with the global minibatch's mean and std.
  void NormalizeAdvantages(int64_t rows);
  void MinibatchStep(const RolloutBuffer& buffer, const std::vector<int64_t>& rows,
                     int64_t global_size, int64_t update, int64_t step_in_update,
                     MinibatchSums* sums);
  // The loss's gradients of this rank's `rows` gathered rows into the parameters' .grad (the
  // buckets), by autograd (policy actors); returns the loss sums.
  PpoLossSums AutogradGradient(int64_t rows, double weight, double share);
  // Collective: sums the gradients over ranks; returns the norm of the sum.
  double ReduceGradients(MinibatchSums* sums);
  // Clips the gradients to max_grad_norm given their norm, and takes the optimizer step.
  void ClipAndStep(double norm);
  double ExplainedVariance(const RolloutBuffer& buffer) const;
  // Collective: the mean approx KL of one epoch's `applied` minibatch steps.
  double EpochKl(double local_kl_sum, int64_t applied) const;

  ActorCritic model_;
  PpoOptions options_;
  const mpi::Communicator& comm_;
  int64_t first_env_index_, local_envs_, total_envs_;
  std::unique_ptr<models::FusedAdamW> optimizer_;
  std::unique_ptr<train::GradientBuckets> grads_;
  std::unique_ptr<train::GradientSync> sync_;
  std::unique_ptr<PpoGradient> gradient_;  // null with a policy actor
  Minibatch minibatch_;
  LearnerHooks hooks_;
  train::NonFiniteGuard nonfinite_;
  std::filesystem::path last_checkpoint_;
};

}  // namespace simscale::rl
