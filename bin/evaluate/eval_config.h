#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/app/tool.h"
#include "common/config/config.h"

namespace simscale::eval {

struct EvalConfig {
  app::RunOptions run;
  std::string env = "reach";
  std::string policy = "scripted";  // scripted | random | CHECKPOINT_DIR
  int64_t episodes = 100;
  int64_t max_steps = 0;
  std::vector<std::string> conditions = {"clean"};
};

void DeclareOptions(config::Schema* schema, EvalConfig* config);

}  // namespace simscale::eval
