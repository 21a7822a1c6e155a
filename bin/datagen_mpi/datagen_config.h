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
  std::string policy = "scripted";    // scripted | random | CHECKPOINT_DIR
  int64_t episodes = 100;             // episodes generated over all ranks
  int64_t max_steps = 0;              // 0: the env's own limit
  std::string dr = "clean";           // randomization condition (preset or single switch)
  double action_noise = 0.0;          // std of Gaussian noise on the policy's ee actions
  bool record_noisy_actions = false;  // label with the executed (noisy) action, not the policy's
  bool only_successful = false;       // store only successful episodes
  std::vector<std::string> cameras;   // empty: no images
  int64_t image_size = 128;
  bool depth = false;
  std::string gl_backend = "auto";
  int64_t episodes_per_round = 4;  // per rank; one collective append per column per round
  int64_t lowdim_gzip = 0;  // deflate level of low-dimensional columns (0 = none; see RESULTS.md)
  int64_t image_gzip = 0;   // deflate level of image columns (0 = none)
  bool build_views = true;  // robomimic data/demo_<i> views (skip for huge runs)
  double valid_fraction = 0.1;      // share of demos in mask/valid
  double progress_interval = 10.0;  // seconds between progress lines in batch logs
  std::string validate;             // if set: validate this dataset file and exit
  std::string stats;                // if set: print statistics of this dataset file and exit
};

// Declares every datagen_mpi option on `schema`, writing into `config`.
void DeclareOptions(config::Schema* schema, DatagenConfig* config);

}  // namespace simscale::datagen
