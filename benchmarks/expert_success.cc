// Measures a scripted expert's success rate over seeded episodes:
//   expert_success --env pick_place --episodes 500 [--seed 0] [--condition clean] [--verbose]
// Prints the success rate with a 95% Wilson interval, episode lengths and the failures.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "common/app/tool.h"
#include "common/envs/registry.h"
#include "common/sim/randomization.h"

namespace simscale {
namespace {

struct ExpertSuccessOptions {
  app::RunOptions run;  // only its log options
  std::string env = "reach";
  int64_t episodes = 100;
  int64_t seed = 0;
  std::string condition = "clean";
  bool verbose = false;
};

void DeclareOptions(config::Schema* schema, ExpertSuccessOptions* o) {
  app::AddLogOptions(schema, &o->run);
  schema->Add("expert.env", &o->env, "environment whose scripted expert runs")
      .OneOf(envs::ListEnvs())
      .Flag("env");
  schema->Add("expert.episodes", &o->episodes, "seeded episodes (indices 0 .. N-1)")
      .Min(1)
      .Flag("episodes");
  schema->Add("expert.seed", &o->seed, "base seed").Min(0).Flag("seed");
  schema->Add("expert.condition", &o->condition, "domain randomization condition")
      .OneOf(sim::RandomizationConditionNames())
      .Flag("condition");
  schema->Add("expert.verbose", &o->verbose, "print every episode, not only the failures")
      .Flag("verbose");
}

void MeasureExpert(const ExpertSuccessOptions& o) {
  const int episodes = static_cast<int>(o.episodes);
  const auto seed = static_cast<uint64_t>(o.seed);
  sim::EnvOptions env_options;
  env_options.randomization = sim::RandomizationCondition(o.condition);
  auto env = envs::MakeEnv(o.env, env_options);
  auto expert = envs::MakeScriptedExpert(o.env);
  int successes = 0, diverged = 0;
  double total_length = 0, total_return = 0;
  std::vector<double> action(static_cast<size_t>(env->action_spec().size()));
  for (int episode = 0; episode < episodes; ++episode) {
    env->Reset(seed, static_cast<uint64_t>(episode));
    expert->Reset(*env, seed, static_cast<uint64_t>(episode));
    double episode_return = 0;
    const sim::StepResult* result = nullptr;
    do {
      expert->Act(*env, action.data());
      result = &env->Step(action.data());
      episode_return += result->reward;
    } while (!result->done());
    successes += result->success ? 1 : 0;
    diverged += result->diverged ? 1 : 0;
    total_length += static_cast<double>(result->step);
    total_return += episode_return;
    if (o.verbose || !result->success) {
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
      o.env.c_str(), o.condition.c_str(), static_cast<unsigned long long>(seed), successes,
      episodes, 100 * p, 100 * (center - half), 100 * (center + half), total_length / n,
      total_return / n, diverged);
}

}  // namespace
}  // namespace simscale

int main(int argc, char** argv) {
  return simscale::mpi::RunMain(argc, argv, [&](simscale::mpi::Context& context) {
    simscale::ExpertSuccessOptions options;
    simscale::config::Schema schema(
        "expert_success", "measures a scripted expert's success rate over seeded episodes");
    simscale::DeclareOptions(&schema, &options);
    if (!simscale::app::ParseConfig(&schema, options.run, context.world(), argc, argv)) return 0;
    simscale::MeasureExpert(options);
    return 0;
  });
}
