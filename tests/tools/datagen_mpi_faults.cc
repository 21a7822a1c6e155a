// datagen_mpi with crash injection, for the crash/resume tests only (built with the tests, never
// installed): --fault.kill_at <stage>:<round>:<rank> makes that rank SIGKILL itself at that stage
// of the store writer's round (stages: after_extend, after_data_write, after_data_flush,
// after_commit). The production tool reads no fault setting at all.
#include <csignal>
#include <string>

#include <fmt/format.h>

#include "bin/datagen_mpi/datagen.h"
#include "common/core/error.h"

namespace {

std::function<void(std::string_view, int64_t)> KillHook(const std::string& spec, int rank) {
  if (spec.empty()) return {};
  const auto first = spec.find(':');
  const auto second = spec.find(':', first + 1);
  if (first == std::string::npos || second == std::string::npos) {
    throw simscale::InvalidArgumentError(
        fmt::format("fault.kill_at: expected <stage>:<round>:<rank>, got '{}'", spec));
  }
  const std::string stage = spec.substr(0, first);
  const int64_t round = std::stoll(spec.substr(first + 1, second - first - 1));
  const int kill_rank = std::stoi(spec.substr(second + 1));
  return [stage, round, kill_rank, rank](std::string_view at, int64_t at_round) {
    if (rank == kill_rank && at == stage && at_round == round) std::raise(SIGKILL);
  };
}

}  // namespace

int main(int argc, char** argv) {
  return simscale::mpi::RunMain(argc, argv, [&](simscale::mpi::Context& context) {
    simscale::datagen::DatagenConfig config;
    std::string kill_at;
    simscale::config::Schema schema("datagen_mpi_faults",
                                    "datagen_mpi with crash injection (tests only)");
    simscale::datagen::DeclareOptions(&schema, &config);
    schema.Add("fault.kill_at", &kill_at,
               "<stage>:<round>:<rank>: that rank SIGKILLs itself at that point of the round");
    if (!simscale::app::ParseConfig(&schema, config.run, context.world(), argc, argv)) return 0;
    simscale::datagen::DatagenHooks hooks;
    hooks.store_fault = KillHook(kill_at, context.world().rank());
    return simscale::datagen::Run(config, schema, context.world(), hooks);
  });
}
