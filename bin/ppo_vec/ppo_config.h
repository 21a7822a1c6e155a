#pragma once

#include <cstdint>
#include <string>

#include "common/app/tool.h"
#include "common/config/config.h"
#include "common/rl/ppo_options.h"

namespace simscale::ppo {

struct PpoConfig {
  app::RunOptions run;
  std::string env = "reach";
  std::string reward = "default";  // the env's reward variant (pick_place: "staged")
  int64_t num_envs = 16;           // per rank
  int64_t total_steps = 1000000;
  int64_t rollout_steps = 128;  // per env per update
  int64_t max_steps = 0;        // episode step limit, 0: the env's default
  int threads = 1;              // env-stepping threads per rank
  int64_t hidden_size = 64;
  int64_t hidden_layers = 2;
  double initial_log_std = 0.0;
  bool norm_obs = true;
  bool norm_reward = true;
  bool anneal_lr = true;
  int64_t checkpoint_every = 0;  // updates; 0: only the final checkpoint
  int64_t keep_checkpoints = 3;  // the newest ones kept
  // A train_ddp run or checkpoint whose policy becomes the actor (fine-tuning); empty: a new
  // tanh MLP. Its exploration std starts at init_std_scale x the demonstrations' action std.
  std::string init_actor;
  double init_std_scale = 0.2;
  rl::PpoOptions ppo;  // lr, gamma, gae_lambda, clip_epsilon, epochs, ... (ppo.*)
};

void DeclareOptions(config::Schema* schema, PpoConfig* config);

}  // namespace simscale::ppo
