#include "common/app/tool.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/core/error.h"
#include "common/core/log.h"

namespace simscale::app {

void AddRunOptions(config::Schema* schema, RunOptions* options) {
  schema->Add("run.seed", &options->seed, "base seed of every random stream of the run")
      .Min(0)
      .Flag("seed");
  schema->Add("run.output", &options->output, "output file or directory of the run")
      .NonEmpty()
      .Flag("output");
  schema->Add("run.overwrite", &options->overwrite, "replace an existing output").Flag("overwrite");
  schema->Add("run.resume", &options->resume, "continue an interrupted run from its output")
      .Flag("resume");
  schema
      ->Add("run.plots", &options->plots,
            "draw figures of the outputs at the end with simscale-plot, when it is available")
      .Flag("plots");
  AddLogOptions(schema, options);
  schema->AddCheck([options] {
    if (options->overwrite && options->resume) {
      config::Fail("run.resume", "not to be combined with run.overwrite",
                   "both run.resume and run.overwrite set");
    }
  });
}

bool RunKeyMayChangeOnResume(const std::string& key) {
  static const char* const kKeys[] = {"run.output", "run.overwrite", "run.resume",
                                      "run.plots",  "log.level",     "log.all_ranks"};
  return std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys);
}

void CheckResumedConfig(const config::Schema& now, const config::Schema& declared,
                        const std::string& saved_yaml, const std::string& saved_name,
                        const std::function<bool(const std::string&)>& may_change) {
  const auto saved = config::ResolvedValues(saved_yaml, saved_name);
  for (const config::Option* option : declared.options()) {
    if (RunKeyMayChangeOnResume(option->key()) || may_change(option->key())) continue;
    const auto before = saved.find(option->key());
    const config::Option* current = now.Find(option->key());
    if (before == saved.end() || current == nullptr) continue;
    const std::vector<std::string> value = current->CurrentItems();
    if (before->second == value) continue;
    throw InvalidArgumentError(fmt::format(
        "--resume: config key '{}' is {} here but {} has {}; resume with the run's own "
        "configuration",
        option->key(), fmt::join(value, ","), saved_name, fmt::join(before->second, ",")));
  }
}

void AddLogOptions(config::Schema* schema, RunOptions* options) {
  schema->Add("log.level", &options->log_level, "log level of rank 0 (other ranks: warn)")
      .OneOf({"debug", "info", "warn", "error", "off"});
  schema->Add("log.all_ranks", &options->log_all_ranks, "every rank logs at log.level");
}

bool ParseConfig(config::Schema* schema, const RunOptions& run, const mpi::Communicator& comm,
                 int argc, const char* const* argv) {
  config::ParseResult result;
  mpi::RunAgreed(comm, [&] { result = schema->Parse(argc, argv); });
  if (result.help) {
    if (comm.is_root()) std::cout << schema->HelpText() << std::flush;
    return false;
  }
  log::SetLevel(log::ParseLevel(run.log_level));
  log::SetAllRanksVerbose(run.log_all_ranks);
  if (result.print_config) {
    if (comm.is_root()) std::cout << schema->ToYaml() << std::flush;
    return false;
  }
  return true;
}

void WriteResolvedConfig(const config::Schema& schema, const mpi::Communicator& comm,
                         const std::filesystem::path& path) {
  if (comm.is_root()) schema.WriteResolved(path);
}

}  // namespace simscale::app
