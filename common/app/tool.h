#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "common/config/config.h"
#include "common/mpi/mpi.h"

// What every executable's main() shares: the options of DESIGN.md §6 that all tools take, and the
// parse-agree-print sequence that runs before any real collective.
namespace simscale::app {

// The options every tool takes; each is also a short flag (--seed, --output, --overwrite,
// --resume, --plots).
struct RunOptions {
  int64_t seed = 0;
  std::string output;
  bool overwrite = false;
  bool resume = false;
  std::string log_level = "info";
  bool log_all_ranks = false;
  bool plots = true;  // figures of the outputs at the end (app::DrawFigures)
};

void AddRunOptions(config::Schema* schema, RunOptions* options);
// Only the log options (log.level, log.all_ranks), for helper programs that have no run output
// to seed, overwrite or resume; they declare their own keys and parse with ParseConfig too.
void AddLogOptions(config::Schema* schema, RunOptions* options);

// Parses argv on every rank and agrees collectively on the outcome, so a bad key fails every rank
// with the same message (logged once) before any other collective. Handles --help and
// --print-config (rank 0 prints to stdout). Applies the log options. Returns false when the tool
// should exit 0 without running.
bool ParseConfig(config::Schema* schema, const RunOptions& run, const mpi::Communicator& comm,
                 int argc, const char* const* argv);

// Keys every resumed run may change: where its output goes, whether it resumes, what it logs.
bool RunKeyMayChangeOnResume(const std::string& key);

// For --resume: the options of `declared` (the tool's own keys; not those a wrapping tool adds)
// that `may_change` does not accept must have in `now` the values they have in `saved_yaml`, the
// resolved configuration the interrupted run was started with (`saved_name` says which, e.g. "the
// checkpoint runs/x/update_5"). The first difference is an InvalidArgumentError naming the key and
// both values. Keys absent from the saved configuration (added since) are not compared.
void CheckResumedConfig(const config::Schema& now, const config::Schema& declared,
                        const std::string& saved_yaml, const std::string& saved_name,
                        const std::function<bool(const std::string&)>& may_change);

// Writes the resolved configuration to `path` (rank 0 only), atomically.
void WriteResolvedConfig(const config::Schema& schema, const mpi::Communicator& comm,
                         const std::filesystem::path& path);

}  // namespace simscale::app
