// libFuzzer target: the configuration parser (common/config) on arbitrary text, as a YAML config
// file and as --set assignments. Contract: any input either applies or is a ConfigError naming
// the key (no other exception, no crash); what applied prints to YAML that applies to a fresh
// schema and prints identically (the resolved config a run saves reads back to the same run).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/config/config.h"

namespace {

enum class Mode { kFast, kExact };

// One option of each type and constraint the tools declare.
struct Options {
  int64_t episodes = 10;
  int count = 3;
  double lr = 3e-4;
  double fraction = 0.1;
  bool flag = false;
  std::string env = "reach";
  std::string name = "run";
  std::vector<std::string> cameras = {"agentview"};
  std::vector<int64_t> sizes = {64, 64};
  std::vector<double> weights = {1.0};
  Mode mode = Mode::kFast;
};

void Declare(simscale::config::Schema* s, Options* o) {
  s->Add("run.episodes", &o->episodes, "episodes").Min(1).Flag("episodes");
  s->Add("run.count", &o->count, "count").Min(0).Max(100);
  s->Add("train.lr", &o->lr, "learning rate").GreaterThan(0).Flag("lr");
  s->Add("train.fraction", &o->fraction, "fraction").Min(0).Max(1);
  s->Add("train.flag", &o->flag, "a switch").Flag("flag");
  s->Add("env.name", &o->env, "env").OneOf({"reach", "pick_place"});
  s->Add("run.name", &o->name, "name").NonEmpty();
  s->Add("model.cameras", &o->cameras, "cameras").OneOf({"agentview", "wrist"});
  s->Add("model.sizes", &o->sizes, "sizes").Min(1).Max(4096);
  s->Add("model.weights", &o->weights, "weights")
      .Satisfies([](const std::vector<double>& w) { return w.size() <= 8; }, "at most 8 weights");
  s->AddChoice("train.mode", &o->mode, {{"fast", Mode::kFast}, {"exact", Mode::kExact}}, "mode");
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    const size_t end = std::min(text.find('\n', begin), text.size());
    lines.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte chooses the source; the rest is the text.
  const bool as_set = (data[0] & 1) != 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  Options options;
  simscale::config::Schema schema("fuzz", "fuzzed configuration");
  Declare(&schema, &options);
  try {
    if (as_set) {
      for (const std::string& line : Lines(text)) schema.ApplySet(line);
    } else {
      schema.ApplyYaml(text, "fuzz.yaml");
    }
  } catch (const simscale::config::ConfigError&) {
    return 0;
  }
  const std::string printed = schema.ToYaml();
  Options again;
  simscale::config::Schema reread("fuzz", "fuzzed configuration");
  Declare(&reread, &again);
  try {
    reread.ApplyYaml(printed, "resolved");
  } catch (const simscale::config::ConfigError&) {
    std::abort();  // a configuration the tool accepted does not read back
  }
  if (reread.ToYaml() != printed) std::abort();
  try {
    simscale::config::ResolvedValues(printed, "resolved");
  } catch (const simscale::config::ConfigError&) {
    std::abort();
  }
  return 0;
}
