#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/app/tool.h"
#include "common/config/config.h"
#include "common/models/model_options.h"
#include "common/train/trainer_options.h"

namespace simscale::train {

struct TrainConfig {
  app::RunOptions run;
  std::string dataset;
  std::string model = "bc";  // bc | vla
  TrainerOptions trainer;
  models::ModelOptions model_options;
  std::vector<std::string> state_keys;  // empty: every low-dimensional observation
  int64_t history = 1;
  bool verify_checksums = true;  // check the store's per-episode checksums while reading
  std::string action_normalization = "std";  // std | minmax
  int64_t threads = 1;                       // LibTorch intra-op threads per rank
};

void DeclareOptions(config::Schema* schema, TrainConfig* config);

}  // namespace simscale::train
