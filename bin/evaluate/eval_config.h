#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/app/tool.h"
#include "common/config/config.h"

namespace simscale::eval {

struct EvalConfig {
  app::RunOptions run;
  std::string env;  // "": a checkpoint policy's own env, reach for scripted and random
  std::string policy = "scripted";  // scripted | random | CHECKPOINT_DIR | RUN_DIR
  int64_t episodes = 100;
  int64_t max_steps = 0;
  std::vector<std::string> conditions = {"clean"};
  bool prefer_ema = true;
  std::string device = "auto";
  std::string gl_backend = "auto";
  int64_t frame_episodes = 0;
  bool video = false;
  int64_t threads = 1;
  // Ablations of a checkpoint policy's inputs (policies::InputAblation).
  // -2: ensembling (decay 0.1) for chunk policies; -1: the first action of each chunk; >= 0: decay.
  double temporal_ensemble = -2.0;
  bool blank_instruction = false;
  bool swap_instruction = false;
  std::vector<std::string> blackout_cameras;
};

void DeclareOptions(config::Schema* schema, EvalConfig* config);

}  // namespace simscale::eval
