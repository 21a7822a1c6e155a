#include "common/envs/registry.h"

#include <functional>
#include <map>

#include <fmt/format.h>

#include "common/envs/pick_place.h"
#include "common/envs/pick_place_multi.h"
#include "common/envs/reach.h"

namespace simscale::envs {
namespace {

struct Entry {
  std::function<std::unique_ptr<sim::RobotEnv>(const sim::EnvOptions&)> make_env;
  std::function<std::unique_ptr<Policy>()> make_expert;
};

// Explicit table: adding an env is one line here (no static-initialiser self-registration, which
// static libraries silently drop).
const std::map<std::string, Entry>& Registry() {
  static const std::map<std::string, Entry> registry = {
      {ReachEnv::kName,
       {[](const sim::EnvOptions& o) { return std::make_unique<ReachEnv>(o); },
        [] { return std::make_unique<ReachExpert>(); }}},
      {PickPlaceEnv::kName,
       {[](const sim::EnvOptions& o) { return std::make_unique<PickPlaceEnv>(o); },
        [] { return std::make_unique<PickPlaceExpert>(); }}},
      // The same expert: the observation's object_pos and target_pos are the named cube and pad.
      {PickPlaceMultiEnv::kName,
       {[](const sim::EnvOptions& o) { return std::make_unique<PickPlaceMultiEnv>(o); },
        [] { return std::make_unique<PickPlaceExpert>(); }}},
  };
  return registry;
}

const Entry& Find(const std::string& name) {
  const auto& registry = Registry();
  const auto it = registry.find(name);
  if (it == registry.end()) {
    std::string valid;
    for (const auto& [key, entry] : registry) valid += (valid.empty() ? "" : ", ") + key;
    throw InvalidArgumentError(fmt::format("unknown env '{}'; available: {}", name, valid));
  }
  return it->second;
}

}  // namespace

std::vector<std::string> ListEnvs() {
  std::vector<std::string> names;
  for (const auto& [name, entry] : Registry()) names.push_back(name);
  return names;
}

std::unique_ptr<sim::RobotEnv> MakeEnv(const std::string& name, const sim::EnvOptions& options) {
  return Find(name).make_env(options);
}

std::unique_ptr<Policy> MakeScriptedExpert(const std::string& env_name) {
  return Find(env_name).make_expert();
}

}  // namespace simscale::envs
