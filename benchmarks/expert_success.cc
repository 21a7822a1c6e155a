// Measures a scripted expert's success rate over seeded episodes:
//   expert_success --env pick_place --episodes 500 [--seed 0] [--condition clean] [--verbose]
// Prints the success rate with a 95% Wilson interval, episode lengths and the failures.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/envs/registry.h"
#include "common/sim/randomization.h"

int main(int argc, char** argv) {
  std::string env_name = "reach", condition = "clean";
  int episodes = 100;
  uint64_t seed = 0;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&] { return std::string(i + 1 < argc ? argv[++i] : ""); };
    if (arg == "--env")
      env_name = next();
    else if (arg == "--episodes")
      episodes = std::stoi(next());
    else if (arg == "--seed")
      seed = std::stoull(next());
    else if (arg == "--condition")
      condition = next();
    else if (arg == "--verbose")
      verbose = true;
    else {
      std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  simscale::sim::EnvOptions options;
  options.randomization = simscale::sim::RandomizationCondition(condition);
  auto env = simscale::envs::MakeEnv(env_name, options);
  auto expert = simscale::envs::MakeScriptedExpert(env_name);
  int successes = 0, diverged = 0;
  double total_length = 0, total_return = 0;
  std::vector<double> action(static_cast<size_t>(env->action_spec().size()));
  for (int episode = 0; episode < episodes; ++episode) {
    env->Reset(seed, static_cast<uint64_t>(episode));
    expert->Reset(*env, seed, static_cast<uint64_t>(episode));
    double episode_return = 0;
    const simscale::sim::StepResult* result = nullptr;
    do {
      expert->Act(*env, action.data());
      result = &env->Step(action.data());
      episode_return += result->reward;
    } while (!result->done());
    successes += result->success ? 1 : 0;
    diverged += result->diverged ? 1 : 0;
    total_length += static_cast<double>(result->step);
    total_return += episode_return;
    if (verbose || !result->success) {
      std::printf("episode %d: %s after %lld steps, return %.2f", episode,
                  result->success ? "success" : "FAILED", static_cast<long long>(result->step),
                  episode_return);
      for (size_t m = 0; m < env->metric_names().size(); ++m) {
        std::printf(" %s=%.4f", env->metric_names()[m].c_str(), result->metrics[m]);
      }
      std::printf("\n");
    }
  }
  const double n = episodes, p = successes / n, z = 1.96;
  const double center = (p + z * z / (2 * n)) / (1 + z * z / n);
  const double half = z * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n);
  std::printf(
      "%s expert, condition %s, seed %llu: %d/%d successes (%.1f%%, 95%% CI %.1f-%.1f%%), "
      "mean length %.1f steps, mean return %.2f, diverged %d\n",
      env_name.c_str(), condition.c_str(), static_cast<unsigned long long>(seed), successes,
      episodes, 100 * p, 100 * (center - half), 100 * (center + half), total_length / n,
      total_return / n, diverged);
  return 0;
}
