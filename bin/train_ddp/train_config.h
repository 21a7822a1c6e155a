#pragma once

#include <cstdint>
#include <string>

#include "common/app/tool.h"
#include "common/config/config.h"

namespace simscale::train {

struct TrainConfig {
  app::RunOptions run;
  std::string dataset;
  std::string model = "bc";  // bc | vla
  int64_t steps = 1000;
  int64_t batch_size = 256;  // global batch over all ranks
  double lr = 1e-3;
  double weight_decay = 1e-4;
  int64_t warmup_steps = 100;
  double grad_clip = 1.0;
};

void DeclareOptions(config::Schema* schema, TrainConfig* config);

}  // namespace simscale::train
