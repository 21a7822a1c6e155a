// Bad inputs to the four tools, one row each: a missing, foreign, damaged or mismatched file, a
// wrong value, an output that exists or cannot be written. Every row checks the exit code (2 for
// bad input, 1 for a file damaged after it was written or an output that cannot be created), a
// fragment of the one-sentence message naming the key, file or value and what was expected, and
// that every file the row names as precious has the same bytes afterwards.
//
// Shared inputs (a 4-episode reach dataset, a 20-step BC run, a finished evaluation, a one-update
// PPO run) are made once into <build>/bad_input_fixtures and reused by every row (each row is its
// own ctest process); rows that could damage them work on copies in their own directory.
// `bad_input_test --gtest_filter=BadInputTable.*` prints the table as markdown.
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "common/core/atomic_file.h"
#include "tests/support/process.h"

namespace simscale {
namespace {
namespace fs = std::filesystem;
using testing_support::MpiRun;
using testing_support::RunProcess;
using testing_support::ToolPath;

// One bad input. In `args`, `message` and `unchanged`, {F} is the fixture directory, {D} the row's
// own directory and {C} the repository's configs/.
struct Case {
  std::string name;
  std::string tool;
  std::string args;
  int exit_code = 2;
  std::string message;
  std::vector<std::string> unchanged = {};
  std::function<void(const fs::path& fixtures, const fs::path& dir)> setup = nullptr;
  int ranks = 1;
  bool needs_non_root = false;
};

const fs::path& FixtureDir() {
  static const fs::path dir = fs::path(SIMSCALE_BINARY_DIR) / "bad_input_fixtures";
  return dir;
}

std::string Fill(std::string text, const fs::path& dir) {
  const std::pair<std::string, std::string> tokens[] = {
      {"{F}", FixtureDir().string()},
      {"{D}", dir.string()},
      {"{C}", (fs::path(SIMSCALE_SOURCE_DIR) / "configs").string()}};
  for (const auto& [token, value] : tokens) {
    for (size_t at = text.find(token); at != std::string::npos; at = text.find(token, at)) {
      text.replace(at, token.size(), value);
      at += value.size();
    }
  }
  return text;
}

void Write(const fs::path& path, const std::string& text) { WriteFileAtomic(path, text); }

void Truncate(const fs::path& path, uintmax_t bytes) { fs::resize_file(path, bytes); }

void CopyTree(const fs::path& from, const fs::path& to) {
  fs::copy(from, to, fs::copy_options::recursive);
}

// Every regular file under `path` (or `path` itself) with its bytes; empty if it does not exist.
std::map<std::string, std::string> Snapshot(const fs::path& path) {
  std::map<std::string, std::string> files;
  if (fs::is_regular_file(path)) files[path.string()] = ReadFile(path);
  if (!fs::is_directory(path)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(path)) {
    if (entry.is_regular_file()) files[entry.path().string()] = ReadFile(entry.path());
  }
  return files;
}

// The files added, removed or changed between two snapshots, one a line.
std::string Differences(const std::map<std::string, std::string>& before,
                        const std::map<std::string, std::string>& after) {
  std::string lines;
  for (const auto& [path, bytes] : before) {
    const auto now = after.find(path);
    if (now == after.end()) lines += "lost " + path + "\n";
    if (now != after.end() && now->second != bytes) lines += "changed " + path + "\n";
  }
  for (const auto& [path, bytes] : after) {
    if (!before.count(path)) lines += "added " + path + "\n";
  }
  return lines;
}

// Rows print as their names.
void PrintTo(const Case& c, std::ostream* out) { *out << c.name; }

// The h5py edits that make the damaged and foreign datasets from the valid one.
const char* const kDatasetEdits = R"(import shutil, sys
import h5py, numpy as np
d = sys.argv[1]
for name in ("nan.h5", "schema.h5", "unfinished.h5.partial"):
    shutil.copy(d + "/reach.h5", d + "/" + name)
with h5py.File(d + "/nan.h5", "r+") as f:
    for start in f["episodes/index/start_step"][:]:
        f["episodes/actions"][start + 1, 0] = np.nan
with h5py.File(d + "/schema.h5", "r+") as f:
    f["episodes"].attrs["schema_version"] = 99
with h5py.File(d + "/unfinished.h5.partial", "r+") as f:
    f["episodes"].attrs["complete"] = 0
)";

// The shared inputs, made by the tools themselves. Returns an empty string or what failed.
std::string MakeFixtures(const fs::path& f) {
  fs::remove_all(f);
  fs::create_directories(f);
  const std::string c = Fill("{C}", f);
  const std::string quiet = " --plots false --log.level warn";
  const std::vector<std::string> commands = {
      ToolPath("datagen_mpi") + " --config " + c +
          "/datagen_reach_debug.yaml --episodes 4 --output " + (f / "reach.h5").string() + quiet,
      ToolPath("train_ddp") + " --config " + c + "/bc_reach_debug.yaml --steps 20 --dataset " +
          (f / "reach.h5").string() + " --output " + (f / "bc").string() + quiet,
      ToolPath("evaluate") + " --config " + c + "/eval_reach_debug.yaml --policy scripted " +
          "--episodes 2 --set eval.max_steps=20 --output " + (f / "ev").string() + quiet,
      ToolPath("ppo_vec") + " --config " + c + "/ppo_reach_debug.yaml --set ppo.total_steps=256 " +
          "--set ppo.num_envs=4 --set ppo.rollout_steps=64 --output " + (f / "ppo").string() +
          quiet,
      "/usr/bin/python3 " + (f / "edit.py").string() + " " + f.string()};
  Write(f / "edit.py", kDatasetEdits);
  for (const std::string& command : commands) {
    const auto result = RunProcess(command, 300);
    if (result.exit_code != 0) return command + "\n" + result.output;
  }
  Write(f / "READY", "");
  return "";
}

// Made once for all rows (each row runs in its own process, perhaps in parallel): under a lock,
// again only when a tool was rebuilt since.
const std::string& Fixtures() {
  static const std::string error = [] {
    const fs::path lock_path = fs::path(SIMSCALE_BINARY_DIR) / "bad_input_fixtures.lock";
    std::ofstream(lock_path, std::ios::app).close();
    const int fd = ::open(lock_path.c_str(), O_RDWR);
    ::flock(fd, LOCK_EX);
    const fs::path ready = FixtureDir() / "READY";
    bool fresh = fs::exists(ready);
    for (const char* tool : {"datagen_mpi", "train_ddp", "evaluate", "ppo_vec"}) {
      fresh = fresh && fs::last_write_time(ToolPath(tool)) < fs::last_write_time(ready);
    }
    std::string failure = fresh ? "" : MakeFixtures(FixtureDir());
    ::flock(fd, LOCK_UN);
    ::close(fd);
    return failure;
  }();
  return error;
}

std::vector<Case> ConfigCases() {
  return {
      {"ConfigFileMissing", "datagen_mpi", "--config {D}/nope.yaml", 2,
       "--config: cannot open '{D}/nope.yaml' for reading: No such file or directory"},
      {"ConfigNotYaml",
       "train_ddp",
       "--config {D}/bad.yaml --dataset {F}/reach.h5",
       2,
       "file '{D}/bad.yaml': invalid YAML at line 2",
       {},
       [](const fs::path&, const fs::path& d) {
         Write(d / "bad.yaml", "train: [1, 2\n  lr: }\n");
       }},
      {"UnknownKeyInFile",
       "evaluate",
       "--config {D}/typo.yaml",
       2,
       "unknown config key 'eval.episodez'",
       {},
       [](const fs::path&, const fs::path& d) {
         Write(d / "typo.yaml", "eval:\n  episodez: 3\n");
       }},
      {"UnknownKeyOnCommandLine", "ppo_vec", "--set ppo.no_such_key=1", 2,
       "unknown config key 'ppo.no_such_key'"},
      {"StringForIntegerInFile",
       "datagen_mpi",
       "--config {D}/type.yaml",
       2,
       "config key 'datagen.episodes' (from file '{D}/type.yaml'): expected an integer >= 1, got "
       "'many'",
       {},
       [](const fs::path&, const fs::path& d) {
         Write(d / "type.yaml", "datagen:\n  episodes: many\n");
       }},
      {"StringForInteger", "train_ddp", "--dataset {F}/reach.h5 --set train.batch_size=big", 2,
       "config key 'train.batch_size' (from --set): expected an integer"},
      {"EpisodesZero", "datagen_mpi", "--episodes 0", 2,
       "config key 'datagen.episodes' (from command line --episodes): expected an integer >= 1, "
       "got '0'"},
      {"LearningRateNegative", "train_ddp", "--dataset {F}/reach.h5 --set train.lr=-0.1", 2,
       "config key 'train.lr' (from --set)"},
      {"PpoRolloutLongerThanRun", "ppo_vec", "--set ppo.total_steps=10 --output {D}/ppo", 2,
       "ppo.total_steps"},
      {"EnvUnknown", "ppo_vec", "--env moon", 2,
       "config key 'ppo.env' (from command line --env): expected one of {pick_place, "
       "pick_place_multi, reach}, got 'moon'"},
      {"ModelUnknown", "train_ddp", "--dataset {F}/reach.h5 --model gpt", 2,
       "config key 'train.model' (from command line --model): expected one of {bc, vla}, got "
       "'gpt'"},
      {"ConditionUnknown", "evaluate", "--set eval.conditions=[snowy]", 2,
       "config key 'eval.conditions' (from --set): expected a non-empty list"},
      {"ResumeWithOverwrite", "datagen_mpi", "--resume --overwrite", 2,
       "config key 'run.resume': expected not to be combined with run.overwrite"},
      {"SeedNegativeTwoRanks", "evaluate", "--seed -4", 2, "config key 'run.seed'", {}, nullptr, 2},
  };
}

std::vector<Case> DatasetCases() {
  const std::string train = "--config {C}/bc_reach_debug.yaml --steps 2 --output {D}/run ";
  return {
      {"DatasetMissing", "train_ddp", train + "--dataset {D}/missing.h5", 2,
       "'{D}/missing.h5' does not exist; check the path"},
      {"DatasetMissingTwoRanks",
       "train_ddp",
       train + "--dataset {D}/missing.h5",
       2,
       "'{D}/missing.h5' does not exist",
       {},
       nullptr,
       2},
      {"DatasetIsADirectory", "train_ddp", train + "--dataset {D}", 2,
       "'{D}' is not a regular file; pass the .h5 file datagen_mpi wrote"},
      {"DatasetIsText",
       "train_ddp",
       train + "--dataset {D}/notes.h5",
       2,
       "'{D}/notes.h5' is not an HDF5 file (no HDF5 signature in its 6 bytes)",
       {},
       [](const fs::path&, const fs::path& d) { Write(d / "notes.h5", "hello\n"); }},
      {"DatasetEmpty",
       "train_ddp",
       train + "--dataset {D}/empty.h5",
       2,
       "'{D}/empty.h5' is empty (0 bytes)",
       {},
       [](const fs::path&, const fs::path& d) { Write(d / "empty.h5", ""); }},
      {"DatasetTruncated",
       "train_ddp",
       train + "--dataset {D}/cut.h5",
       2,
       "'{D}/cut.h5' is truncated: it has 20000 bytes",
       {},
       [](const fs::path& f, const fs::path& d) {
         fs::copy_file(f / "reach.h5", d / "cut.h5");
         Truncate(d / "cut.h5", 20000);
       }},
      {"DatasetRandomBytes",
       "train_ddp",
       train + "--dataset {D}/noise.h5",
       2,
       "'{D}/noise.h5' is not an HDF5 file (no HDF5 signature in its 4096 bytes)",
       {},
       [](const fs::path&, const fs::path& d) {
         std::string bytes(4096, '\0');
         for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 7919) >> 3);
         Write(d / "noise.h5", bytes);
       }},
      {"DatasetOnlyPartialLeftByCrash",
       "train_ddp",
       train + "--dataset {D}/crashed.h5",
       2,
       "'{D}/crashed.h5' does not exist, but '{D}/crashed.h5.partial' does: the datagen run "
       "writing it did not finish",
       {},
       [](const fs::path& f, const fs::path& d) {
         fs::copy_file(f / "unfinished.h5.partial", d / "crashed.h5.partial");
       }},
      {"DatasetUnfinishedValidate", "datagen_mpi", "--validate {F}/unfinished.h5.partial", 1,
       "/episodes@complete: is 0: the run writing this store did not finish"},
  };
}

std::vector<Case> DamagedDatasetCases() {
  const std::string train = "--config {C}/bc_reach_debug.yaml --steps 2 --output {D}/run ";
  return {
      {"DatasetSchemaVersion", "train_ddp", train + "--dataset {F}/schema.h5", 2,
       "'{F}/schema.h5' is a SimScale store of schema version 99, but this build reads version 2"},
      {"DatasetNanFailsItsChecksum", "train_ddp", train + "--dataset {F}/nan.h5", 1,
       "'{F}/nan.h5': column 'actions' of episode 0 (rows [0, "},
      {"DatasetNanUnverified", "train_ddp",
       train + "--dataset {F}/nan.h5 --set data.verify_checksums=false", 2,
       "has a non-finite value (nan) in its actions at step 1"},
      {"DatasetNanUnverifiedTwoRanks",
       "train_ddp",
       train + "--dataset {F}/nan.h5 --set data.verify_checksums=false",
       2,
       "has a non-finite value (nan) in its actions at step 1",
       {},
       nullptr,
       2},
      {"DatasetNanValidate", "datagen_mpi", "--validate {F}/nan.h5", 1,
       "/episodes/actions: episode 0 (rows [0, "},
  };
}

std::vector<Case> MismatchCases() {
  const std::string train = "--config {C}/bc_reach_debug.yaml --steps 2 --output {D}/run ";
  return {
      {"StateKeyAbsent", "train_ddp",
       train + "--dataset {F}/reach.h5 --set data.state_keys=[ee_pos,object_pos]", 2,
       "train.state_keys: 'object_pos' is not a low-dimensional observation of '{F}/reach.h5'; it "
       "has: ee_pos, joint_pos"},
      {"VlaCameraAbsent", "train_ddp",
       train + "--dataset {F}/reach.h5 --model vla --set model.cameras=[agentview]", 2,
       "train.cameras: '{F}/reach.h5' has no obs/agentview_image"},
      {"VisionConfigOnReachDataset", "train_ddp",
       "--config {C}/vla_pick_place_vision_debug.yaml --steps 2 --output {D}/run --dataset "
       "{F}/reach.h5",
       2, "'gripper_state' is not a low-dimensional observation of '{F}/reach.h5'"},
      {"BatchLargerThanDataset", "train_ddp",
       train + "--dataset {F}/reach.h5 --set train.batch_size=100000", 2,
       "train.batch_size: expected at most the number of training samples"},
      {"DatagenResumeOtherEnv",
       "datagen_mpi",
       "--config {C}/datagen_reach_debug.yaml --episodes 4 --output {D}/r.h5 --resume --env "
       "pick_place",
       2,
       "env_name: the file has 'reach', requested 'pick_place'",
       {"{D}/r.h5.partial"},
       [](const fs::path& f, const fs::path& d) {
         fs::copy_file(f / "unfinished.h5.partial", d / "r.h5.partial");
       }},
      {"PolicyOfOtherEnv", "evaluate",
       "--policy {F}/bc --env pick_place --episodes 1 --output {D}/ev", 2,
       "was trained on env 'reach', not 'pick_place'"},
      {"InitActorMissing", "ppo_vec", "--set ppo.init_actor={D}/nothing --output {D}/ppo", 2,
       "ppo.init_actor '{D}/nothing'"},
  };
}

std::vector<Case> OutputCases() {
  return {
      {"DatagenOutputExists",
       "datagen_mpi",
       "--config {C}/datagen_reach_debug.yaml --episodes 4 --output {D}/reach.h5",
       2,
       "output '{D}/reach.h5' exists; pass --overwrite to replace it",
       {"{D}/reach.h5"},
       [](const fs::path& f, const fs::path& d) { fs::copy_file(f / "reach.h5", d / "reach.h5"); }},
      {"DatagenPartialExists",
       "datagen_mpi",
       "--config {C}/datagen_reach_debug.yaml --episodes 4 --output {D}/r.h5",
       2,
       "'{D}/r.h5.partial' is left from an interrupted run; pass --resume",
       {"{D}/r.h5.partial"},
       [](const fs::path& f, const fs::path& d) {
         fs::copy_file(f / "unfinished.h5.partial", d / "r.h5.partial");
       }},
      {"TrainRunExists",
       "train_ddp",
       "--config {C}/bc_reach_debug.yaml --steps 40 --dataset {F}/reach.h5 --output {D}/bc",
       2,
       "run directory '{D}/bc' already has checkpoints (step_000000020); pass --resume",
       {"{D}/bc"},
       [](const fs::path& f, const fs::path& d) { CopyTree(f / "bc", d / "bc"); }},
      {"TrainRunExistsTwoRanks",
       "train_ddp",
       "--config {C}/bc_reach_debug.yaml --steps 40 --dataset {F}/reach.h5 --output {D}/bc",
       2,
       "run directory '{D}/bc' already has checkpoints",
       {"{D}/bc"},
       [](const fs::path& f, const fs::path& d) { CopyTree(f / "bc", d / "bc"); },
       2},
      {"EvaluateResultsExist",
       "evaluate",
       "--policy scripted --episodes 2 --output {D}/ev",
       2,
       "'{D}/ev' already holds results.json; pass --overwrite",
       {"{D}/ev"},
       [](const fs::path& f, const fs::path& d) { CopyTree(f / "ev", d / "ev"); }},
      {"EvaluateInterruptedExists",
       "evaluate",
       "--config {C}/eval_reach_debug.yaml --episodes 2 --output {D}/ev",
       2,
       "'{D}/ev' holds an interrupted evaluation (episodes/); pass --resume",
       {"{D}/ev"},
       [](const fs::path& f, const fs::path& d) {
         fs::create_directories(d / "ev/episodes");
         fs::copy_file(f / "ev/config.yaml", d / "ev/config.yaml");
       }},
      {"PpoRunExists",
       "ppo_vec",
       "--config {C}/ppo_reach_debug.yaml --output {D}/ppo",
       2,
       "run directory '{D}/ppo' already holds a PPO run; pass --resume",
       {"{D}/ppo"},
       [](const fs::path& f, const fs::path& d) { CopyTree(f / "ppo", d / "ppo"); }},
  };
}

std::vector<Case> UnwritableOutputCases() {
  const auto make_file = [](const fs::path&, const fs::path& d) { Write(d / "file", "x\n"); };
  return {
      {"DatagenOutputUnderAFile",
       "datagen_mpi",
       "--config {C}/datagen_reach_debug.yaml --output {D}/file/x.h5",
       1,
       "cannot create directory '{D}/file': Not a directory",
       {"{D}/file"},
       make_file},
      {"TrainOutputUnderAFile",
       "train_ddp",
       "--config {C}/bc_reach_debug.yaml --dataset {F}/reach.h5 --output {D}/file/run",
       1,
       "cannot create directory '{D}/file/run': Not a directory",
       {"{D}/file"},
       make_file},
      {"EvaluateOutputUnderAFile",
       "evaluate",
       "--policy scripted --env reach --episodes 1 --output {D}/file/ev",
       1,
       "cannot create directory '{D}/file/ev/episodes': Not a directory",
       {"{D}/file"},
       make_file},
      {"PpoOutputUnderAFile",
       "ppo_vec",
       "--output {D}/file/ppo",
       1,
       "cannot create directory '{D}/file/ppo': Not a directory",
       {"{D}/file"},
       make_file},
      {"DatagenOutputDirReadOnly",
       "datagen_mpi",
       "--config {C}/datagen_reach_debug.yaml --episodes 4 --output {D}/ro/x.h5",
       1,
       "cannot write the output '{D}/ro/x.h5' in directory '{D}/ro': Permission denied",
       {},
       [](const fs::path&, const fs::path& d) {
         fs::create_directories(d / "ro");
         fs::permissions(d / "ro", fs::perms::owner_read | fs::perms::owner_exec);
       },
       1,
       true},
  };
}

std::vector<Case> CheckpointCases() {
  const std::string eval = "--config {C}/eval_reach_debug.yaml --episodes 1 --output {D}/ev ";
  const std::string step = "bc/checkpoints/step_000000020";
  return {
      {"PolicyMissing", "evaluate", eval + "--policy {D}/nothing", 2,
       "policy '{D}/nothing': expected scripted, random, a complete checkpoint directory or a run "
       "directory holding checkpoints/step_* (train_ddp) or checkpoints/update_* (ppo_vec); it "
       "does not exist"},
      {"PolicyIsADataset", "evaluate", eval + "--policy {F}/reach.h5", 2,
       "policy '{F}/reach.h5': expected scripted, random, a complete checkpoint directory or a "
       "run directory holding checkpoints/step_* (train_ddp) or checkpoints/update_* (ppo_vec); "
       "it is a file, not a directory"},
      {"PolicyRunIncomplete",
       "evaluate",
       eval + "--policy {D}/bc",
       2,
       "its checkpoints have no COMPLETE marker (e.g. 'step_000000020'): their write never "
       "finished",
       {"{D}/bc"},
       [step](const fs::path& f, const fs::path& d) {
         CopyTree(f / "bc", d / "bc");
         fs::remove(d / step / "COMPLETE");
       }},
      {"PolicyCheckpointIncomplete",
       "datagen_mpi",
       "--env reach --episodes 1 --output {D}/x.h5 --policy {D}/" + step,
       2,
       "it has no COMPLETE marker: its write never finished",
       {},
       [step](const fs::path& f, const fs::path& d) {
         CopyTree(f / "bc", d / "bc");
         fs::remove(d / step / "COMPLETE");
       }},
      {"PolicyMetaCorrupted",
       "evaluate",
       eval + "--policy {D}/bc",
       2,
       "meta.yaml: invalid YAML at line 2",
       {},
       [step](const fs::path& f, const fs::path& d) {
         CopyTree(f / "bc", d / "bc");
         Write(d / step / "meta.yaml", "format_version: [\n");
       }},
      {"PolicyModelTruncated",
       "evaluate",
       eval + "--policy {D}/bc",
       2,
       "model.pt is not a readable tensor dictionary",
       {},
       [step](const fs::path& f, const fs::path& d) {
         CopyTree(f / "bc", d / "bc");
         Truncate(d / step / "model.pt", 1000);
       }},
      {"PolicyFormatVersionUnsupported",
       "evaluate",
       eval + "--policy {D}/bc",
       2,
       "format version 99 is not supported (this build reads versions 1 to 2",
       {},
       [step](const fs::path& f, const fs::path& d) {
         CopyTree(f / "bc", d / "bc");
         std::string meta = ReadFile(d / step / "meta.yaml");
         meta.replace(meta.find("format_version: 2"), 17, "format_version: 99");
         Write(d / step / "meta.yaml", meta);
       }},
      {"TrainResumeCheckpointTruncated",
       "train_ddp",
       "--config {C}/bc_reach_debug.yaml --steps 40 --dataset {F}/reach.h5 --output {D}/bc "
       "--resume",
       2,
       "checkpoint '{D}/bc/checkpoints/step_000000020': model.pt is not a readable tensor "
       "dictionary",
       {"{D}/bc"},
       [step](const fs::path& f, const fs::path& d) {
         CopyTree(f / "bc", d / "bc");
         Truncate(d / step / "model.pt", 1000);
       }},
  };
}

std::vector<Case> ResumeCases() {
  const auto copy_bc = [](const fs::path& f, const fs::path& d) { CopyTree(f / "bc", d / "bc"); };
  const auto copy_ppo = [](const fs::path& f, const fs::path& d) {
    CopyTree(f / "ppo", d / "ppo");
  };
  const std::string ppo =
      "--config {C}/ppo_reach_debug.yaml --set ppo.total_steps=256 "
      "--set ppo.num_envs=4 --set ppo.rollout_steps=64 ";
  const std::string bc = "--config {C}/bc_reach_debug.yaml --steps 40 --dataset {F}/reach.h5 ";
  return {
      {"PpoResumeChangedLearningRate",
       "ppo_vec",
       ppo + "--output {D}/ppo --resume --set ppo.lr=0.01",
       2,
       "--resume: config key 'ppo.lr' is 0.01 here but the checkpoint {D}/ppo/checkpoints/"
       "update_000000001 has 0.001",
       {"{D}/ppo"},
       copy_ppo},
      {"PpoResumeOfATrainRun",
       "ppo_vec",
       ppo + "--output {D}/bc --resume",
       2,
       "run directory '{D}/bc' holds a train_ddp run (step_000000020), not a PPO run",
       {"{D}/bc"},
       copy_bc},
      {"TrainResumeOfAPpoRun",
       "train_ddp",
       bc + "--output {D}/ppo --resume",
       2,
       "run directory '{D}/ppo' holds a ppo_vec run (update_000000001), not a train_ddp run",
       {"{D}/ppo"},
       copy_ppo},
      {"TrainResumeOtherHead",
       "train_ddp",
       bc + "--output {D}/bc --resume --set model.head.type=diffusion",
       2,
       "does not match model 'bc'",
       {"{D}/bc"},
       copy_bc},
      {"TrainResumeOtherWidth",
       "train_ddp",
       bc + "--output {D}/bc --resume --set model.bc.hidden_dim=64",
       2,
       "option model.bc.hidden_dim: checkpoint 256, model 64",
       {"{D}/bc"},
       copy_bc},
      {"EvaluateResumeChangedEpisodes",
       "evaluate",
       "--config {C}/eval_reach_debug.yaml --policy scripted --episodes 3 --set eval.max_steps=20 "
       "--output {D}/ev --resume",
       2,
       "--resume: config key 'eval.episodes' is 3 here but the interrupted evaluation's "
       "{D}/ev/config.yaml has 2",
       {"{D}/ev"},
       [](const fs::path& f, const fs::path& d) {
         fs::create_directories(d / "ev/episodes");
         fs::copy_file(f / "ev/config.yaml", d / "ev/config.yaml");
       }},
      {"EvaluateResumeFinishedWithOtherEpisodes",
       "evaluate",
       "--config {C}/eval_reach_debug.yaml --policy scripted --episodes 3 --set eval.max_steps=20 "
       "--output {D}/ev --resume",
       2,
       "--resume: config key 'eval.episodes' is 3 here but the finished evaluation's "
       "{D}/ev/config.yaml has 2",
       {"{D}/ev"},
       [](const fs::path& f, const fs::path& d) { CopyTree(f / "ev", d / "ev"); }},
  };
}

std::vector<Case> AllCases() {
  std::vector<Case> all;
  for (auto group : {ConfigCases, DatasetCases, DamagedDatasetCases, MismatchCases, OutputCases,
                     UnwritableOutputCases, CheckpointCases, ResumeCases}) {
    for (Case& c : group()) all.push_back(std::move(c));
  }
  return all;
}

class BadInputTest : public ::testing::TestWithParam<Case> {};

TEST_P(BadInputTest, ExitsWithItsCodeAndMessageAndKeepsEarlierOutputs) {
  const Case& c = GetParam();
  if (c.needs_non_root && ::geteuid() == 0) {
    GTEST_SKIP() << "root writes into a read-only directory; this row needs a non-root user";
  }
  ASSERT_EQ(Fixtures(), "") << "the shared inputs could not be made";
  const fs::path dir = FixtureDir() / "rows" / c.name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  if (c.setup) c.setup(FixtureDir(), dir);
  std::map<std::string, std::map<std::string, std::string>> before;
  for (const std::string& path : c.unchanged) before[Fill(path, dir)] = Snapshot(Fill(path, dir));

  const std::string command = (c.ranks > 1 ? MpiRun(c.ranks) : "") + ToolPath(c.tool) + " " +
                              Fill(c.args, dir) + " --plots false";
  const auto result = RunProcess(command, 120);
  EXPECT_EQ(result.exit_code, c.exit_code) << command << "\n" << result.output;
  const std::string message = Fill(c.message, dir);
  EXPECT_NE(result.output.find(message), std::string::npos)
      << "expected the message to contain: " << message << "\n"
      << command << "\n"
      << result.output;
  for (const auto& [path, files] : before) {
    EXPECT_FALSE(files.empty()) << path << " was not set up";
    EXPECT_EQ(Differences(files, Snapshot(path)), "") << "under " << path;
  }
  if (!HasFailure()) fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Rows, BadInputTest, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

// The table for benchmarks/RESULTS.md: what each row feeds, to which tool, and what it expects.
TEST(BadInputTable, PrintsTheRowsAsMarkdown) {
  const std::vector<Case> cases = AllCases();
  std::map<std::string, int> per_tool;
  std::cout << "| case | tool | ranks | exit | message contains |\n|---|---|---|---|---|\n";
  for (const Case& c : cases) {
    std::string message = c.message;
    std::replace(message.begin(), message.end(), '|', '/');
    std::cout << "| " << c.name << " | " << c.tool << " | " << c.ranks << " | " << c.exit_code
              << " | `" << message << "` |\n";
    ++per_tool[c.tool];
  }
  std::cout << "\n" << cases.size() << " rows:";
  for (const auto& [tool, count] : per_tool) std::cout << " " << tool << " " << count << ";";
  std::cout << "\n";
  EXPECT_GE(cases.size(), 40u);
}

}  // namespace
}  // namespace simscale
