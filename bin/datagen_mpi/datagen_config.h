#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/app/tool.h"
#include "common/config/config.h"

namespace simscale::datagen {

struct DatagenConfig {
  app::RunOptions run;
  std::string env = "reach";
  std::string policy = "scripted";  // scripted | random | CHECKPOINT_DIR
  int64_t episodes = 100;
  int64_t max_steps = 0;             // 0: the env's own limit
  std::vector<std::string> cameras;  // empty: no images
  int64_t image_size = 128;
  bool depth = false;
  std::string dr = "clean";  // clean | light | default | heavy
  std::string validate;      // if set: validate this file and exit
  std::string stats;         // if set: print statistics of this file and exit
};

// Declares every datagen_mpi option on `schema`, writing into `config`.
void DeclareOptions(config::Schema* schema, DatagenConfig* config);

}  // namespace simscale::datagen
