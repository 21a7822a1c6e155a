#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/rollout/episode.h"
#include "common/rollout/thread_pool.h"
#include "common/sim/robot_env.h"

namespace simscale::rollout {

struct VectorEnvOptions {
  std::string env = "reach";
  sim::EnvOptions env_options;  // max episode steps, randomization, noise: shared by every env
  // Optional DR condition per env: env k (global index) runs conditions[k % size] instead of
  // env_options.randomization.
  std::vector<std::string> conditions;
  int64_t num_envs = 1;         // on this rank
  int64_t first_env_index = 0;  // global index of this rank's first env
  uint64_t seed = 0;            // run seed (episodes are keyed by VectorEnvEpisode)
  int threads = 1;
};

// An episode that ended during the last Step.
struct EndedEpisode {
  int64_t env = 0;  // local index
  int64_t length = 0;
  double episode_return = 0.0;
  bool success = false;
  bool terminated = false;  // false: truncated (time limit or divergence)
  bool diverged = false;
};

// Where one env stands between two steps, for a checkpoint: enough to put it back exactly. The
// current episode is replayed from its reset with the actions it was given (MuJoCo is
// deterministic), so no simulator state is serialised; the observation is kept to verify that the
// replay came out the same.
struct EnvProgress {
  int64_t env = 0;                  // global index
  int64_t episodes_started = 0;     // the current episode is VectorEnvEpisode(.., this - 1)
  std::vector<double> actions;      // of the current episode so far, action_size() each
  std::vector<double> observation;  // the observation the env acts on next
};

// N envs of one task stepped together by a thread pool (EnvPool-style). An env whose episode ends
// is reset at once (auto-reset): observations() then holds the new episode's first observation
// while final_observations() keeps the ended episode's last one (what a value function bootstraps
// from on truncation). terminated() and truncated() tell the two endings apart. Env k's n-th
// episode is VectorEnvEpisode(seed, first_env_index + k, n): the data of an env depend neither on
// the number of ranks nor on the thread count.
class VectorEnv {
 public:
  explicit VectorEnv(VectorEnvOptions options);
  ~VectorEnv();

  int64_t size() const { return static_cast<int64_t>(envs_.size()); }
  int observation_size() const { return observation_size_; }
  int action_size() const { return action_size_; }
  const sim::RobotEnv& env(int64_t k) const { return *envs_[static_cast<size_t>(k)]; }
  int threads() const { return pool_.size(); }

  // Starts every env's first episode.
  void Reset();
  // Steps every env with its row of `actions` (size() x action_size()), resetting those whose
  // episode ended.
  void Step(const double* actions);

  // size() x observation_size(), row k: the observation env k acts on next.
  const std::vector<double>& observations() const { return observations_; }
  // Row k: the last observation of the episode env k ended in the last Step (where done()).
  const std::vector<double>& final_observations() const { return final_observations_; }
  const std::vector<double>& rewards() const { return rewards_; }
  const std::vector<uint8_t>& terminated() const { return terminated_; }
  const std::vector<uint8_t>& truncated() const { return truncated_; }
  // Episodes that ended in the last Step, in env order.
  const std::vector<EndedEpisode>& ended() const { return ended_; }

  // Every env's progress, in local order.
  std::vector<EnvProgress> Progress() const;
  // Puts the envs back where `progress` (one entry per local env, in order, as Progress() gave
  // them, possibly from another rank split) says: each env's current episode is reset and
  // replayed. Throws InvalidArgumentError if an entry does not fit this vector env, Error if a
  // replay does not reproduce the saved observation bit for bit (another simulator build).
  void Restore(const std::vector<EnvProgress>& progress);

 private:
  void ResetEnv(size_t k);
  void StepEnv(size_t k, const double* action);
  void Replay(size_t k, const EnvProgress& progress);

  VectorEnvOptions options_;
  std::vector<std::unique_ptr<sim::RobotEnv>> envs_;
  std::vector<int64_t> counters_;
  std::vector<double> returns_;
  std::vector<std::vector<double>> episode_actions_;  // per env, of its current episode
  int observation_size_ = 0, action_size_ = 0;
  std::vector<double> observations_, final_observations_, rewards_;
  std::vector<uint8_t> terminated_, truncated_;
  std::vector<EndedEpisode> per_env_ended_;
  std::vector<uint8_t> per_env_done_;
  std::vector<EndedEpisode> ended_;
  ThreadPool pool_;
};

}  // namespace simscale::rollout
