#pragma once

#include <cstdint>
#include <string>

#include "common/app/tool.h"
#include "common/config/config.h"

namespace simscale::ppo {

struct PpoConfig {
  app::RunOptions run;
  std::string env = "reach";
  int64_t num_envs = 16;  // per rank
  int64_t total_steps = 1000000;
  int64_t rollout_steps = 128;  // per env per update
  double lr = 3e-4;
  double gamma = 0.99;
  double gae_lambda = 0.95;
  double clip_epsilon = 0.2;
};

void DeclareOptions(config::Schema* schema, PpoConfig* config);

}  // namespace simscale::ppo
