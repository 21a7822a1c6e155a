#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/envs/policy.h"
#include "common/sim/robot_env.h"

namespace simscale::envs {

// Registered env names, sorted.
std::vector<std::string> ListEnvs();
// Builds an env by name; an unknown name is an InvalidArgumentError listing the valid ones.
std::unique_ptr<sim::RobotEnv> MakeEnv(const std::string& name, const sim::EnvOptions& options);
// The scripted expert of an env.
std::unique_ptr<Policy> MakeScriptedExpert(const std::string& env_name);

}  // namespace simscale::envs
