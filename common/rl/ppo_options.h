#pragma once

#include <cstdint>

// Torch-free, so configs can hold them without LibTorch.
namespace simscale::rl {

struct PpoOptions {
  double lr = 3e-4;
  double gamma = 0.99;
  double gae_lambda = 0.95;
  int64_t epochs = 10;
  int64_t minibatches = 32;  // per epoch, over the global batch (all ranks' samples)
  double clip_epsilon = 0.2;
  bool clip_value_loss = true;
  bool normalize_advantages = true;
  double ent_coef = 0.0;
  double vf_coef = 0.5;
  double max_grad_norm = 0.5;  // 0: no clipping
  double target_kl = 0.0;      // > 0: an update stops after the epoch whose mean KL exceeds it
  // Updates at the start that train the critic only (the actor's loss is left out): a critic
  // fitted to a pre-trained actor before the actor follows its advantages.
  int64_t actor_frozen_updates = 0;
  int64_t max_nonfinite = 20;  // non-finite minibatch steps in a row that stop the run
  uint64_t seed = 0;
};

}  // namespace simscale::rl
