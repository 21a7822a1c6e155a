#include "common/models/checkpoint.h"

#include <algorithm>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <yaml-cpp/yaml.h>

#include "common/core/atomic_file.h"
#include "common/core/error.h"
#include "common/models/compat.h"
#include "common/models/layers.h"

namespace simscale::models {
namespace fs = std::filesystem;
namespace {

constexpr const char* kModelFile = "model.pt";
constexpr const char* kOptimizerFile = "optimizer.pt";
constexpr const char* kMetadataFile = kCheckpointMetadataFile;

[[noreturn]] void Fail(const fs::path& dir, const std::string& what) {
  throw InvalidArgumentError(fmt::format("checkpoint '{}': {}", dir.string(), what));
}

std::string Number(double value) { return fmt::format("{}", value); }

// --- Optimizer hyper-parameters
// --------------------------------------------------------------------- LibTorch 1.13 restores the
// optimizer's per-parameter state but not the param-group options, so they are written to meta.yaml
// and set again on load.

using Hyper = std::map<std::string, double>;

std::string DescribeOptions(const torch::optim::OptimizerOptions& options, Hyper* hyper) {
  namespace optim = torch::optim;
  if (const auto* o = dynamic_cast<const optim::AdamWOptions*>(&options)) {
    *hyper = {{"lr", o->lr()},
              {"beta1", std::get<0>(o->betas())},
              {"beta2", std::get<1>(o->betas())},
              {"eps", o->eps()},
              {"weight_decay", o->weight_decay()},
              {"amsgrad", o->amsgrad() ? 1.0 : 0.0}};
    return "AdamW";
  }
  if (const auto* o = dynamic_cast<const optim::AdamOptions*>(&options)) {
    *hyper = {{"lr", o->lr()},
              {"beta1", std::get<0>(o->betas())},
              {"beta2", std::get<1>(o->betas())},
              {"eps", o->eps()},
              {"weight_decay", o->weight_decay()},
              {"amsgrad", o->amsgrad() ? 1.0 : 0.0}};
    return "Adam";
  }
  if (const auto* o = dynamic_cast<const optim::SGDOptions*>(&options)) {
    *hyper = {{"lr", o->lr()},
              {"momentum", o->momentum()},
              {"dampening", o->dampening()},
              {"weight_decay", o->weight_decay()},
              {"nesterov", o->nesterov() ? 1.0 : 0.0}};
    return "SGD";
  }
  if (const auto* o = dynamic_cast<const optim::RMSpropOptions*>(&options)) {
    *hyper = {{"lr", o->lr()},
              {"alpha", o->alpha()},
              {"eps", o->eps()},
              {"weight_decay", o->weight_decay()},
              {"momentum", o->momentum()},
              {"centered", o->centered() ? 1.0 : 0.0}};
    return "RMSprop";
  }
  if (const auto* o = dynamic_cast<const optim::AdagradOptions*>(&options)) {
    *hyper = {{"lr", o->lr()},
              {"lr_decay", o->lr_decay()},
              {"weight_decay", o->weight_decay()},
              {"initial_accumulator_value", o->initial_accumulator_value()},
              {"eps", o->eps()}};
    return "Adagrad";
  }
  *hyper = {{"lr", options.get_lr()}};
  return "other";
}

void ApplyOptions(torch::optim::OptimizerOptions& options, const Hyper& h) {
  namespace optim = torch::optim;
  if (auto* o = dynamic_cast<optim::AdamWOptions*>(&options)) {
    o->lr(h.at("lr")).betas({h.at("beta1"), h.at("beta2")}).eps(h.at("eps"));
    o->weight_decay(h.at("weight_decay")).amsgrad(h.at("amsgrad") != 0.0);
  } else if (auto* o = dynamic_cast<optim::AdamOptions*>(&options)) {
    o->lr(h.at("lr")).betas({h.at("beta1"), h.at("beta2")}).eps(h.at("eps"));
    o->weight_decay(h.at("weight_decay")).amsgrad(h.at("amsgrad") != 0.0);
  } else if (auto* o = dynamic_cast<optim::SGDOptions*>(&options)) {
    o->lr(h.at("lr")).momentum(h.at("momentum")).dampening(h.at("dampening"));
    o->weight_decay(h.at("weight_decay")).nesterov(h.at("nesterov") != 0.0);
  } else if (auto* o = dynamic_cast<optim::RMSpropOptions*>(&options)) {
    o->lr(h.at("lr")).alpha(h.at("alpha")).eps(h.at("eps")).weight_decay(h.at("weight_decay"));
    o->momentum(h.at("momentum")).centered(h.at("centered") != 0.0);
  } else if (auto* o = dynamic_cast<optim::AdagradOptions*>(&options)) {
    o->lr(h.at("lr")).lr_decay(h.at("lr_decay")).weight_decay(h.at("weight_decay"));
    o->initial_accumulator_value(h.at("initial_accumulator_value")).eps(h.at("eps"));
  } else {
    options.set_lr(h.at("lr"));
  }
}

std::string ShapeText(const torch::Tensor& t) { return ShapeString(t); }

// --- YAML helpers
// -----------------------------------------------------------------------------------

void EmitVector(YAML::Emitter& out, const std::vector<double>& values) {
  out << YAML::Flow << YAML::BeginSeq;
  for (const double v : values) out << Number(v);
  out << YAML::EndSeq;
}

// Flattens a YAML map into dotted keys -> scalar text (sequences joined), for comparisons.
void Flatten(const YAML::Node& node, const std::string& prefix,
             std::map<std::string, std::string>* out) {
  if (node.IsMap()) {
    for (const auto& item : node) {
      const auto key = item.first.as<std::string>();
      Flatten(item.second, prefix.empty() ? key : prefix + "." + key, out);
    }
  } else if (node.IsSequence()) {
    std::vector<std::string> items;
    for (const auto& item : node) items.push_back(item.as<std::string>());
    (*out)[prefix] = fmt::format("[{}]", fmt::join(items, ", "));
  } else if (node.IsScalar()) {
    (*out)[prefix] = node.as<std::string>();
  } else {
    (*out)[prefix] = "";
  }
}

// The model options and the policy contract as dotted keys (policy.cameras, model.bc.hidden_dim).
std::map<std::string, std::string> FlatOptions(const ModelOptions& options) {
  std::map<std::string, std::string> flat;
  Flatten(YAML::Load(ModelOptionsToYaml(options)), "", &flat);
  Flatten(policies::PolicySpecToYaml(options.spec.policy), "policy", &flat);
  return flat;
}

// Parameters and buffers by their dotted names.
std::vector<std::pair<std::string, torch::Tensor>> NamedTensors(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& item : module.named_parameters()) tensors.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers()) tensors.emplace_back(item.key(), item.value());
  return tensors;
}

std::vector<const torch::Tensor*> GroupParams(const torch::optim::OptimizerParamGroup& group) {
  std::vector<const torch::Tensor*> params;
  for (const auto& p : group.params()) params.push_back(&p);
  return params;
}

std::string MetadataText(const Policy& model, const torch::optim::Optimizer* optimizer,
                         const CheckpointMetadata& metadata) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "format_version" << YAML::Value << kCheckpointFormatVersion;
  out << YAML::Key << "model_name" << YAML::Value << model.name();
  out << YAML::Key << "step" << YAML::Value << metadata.step;
  out << YAML::Key << "world_size" << YAML::Value << metadata.world_size;
  out << YAML::Key << "torch_version" << YAML::Value << TorchVersion();
  out << YAML::Key << "model" << YAML::Value
      << YAML::Load(ModelOptionsToYaml(model.options()))["model"];
  out << YAML::Key << "policy" << YAML::Value
      << policies::PolicySpecToYaml(model.options().spec.policy);

  const NormalizationStats stats = model.normalization();
  out << YAML::Key << "normalization" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "state_mean" << YAML::Value;
  EmitVector(out, stats.state_mean);
  out << YAML::Key << "state_std" << YAML::Value;
  EmitVector(out, stats.state_std);
  out << YAML::Key << "action_mean" << YAML::Value;
  EmitVector(out, stats.action_mean);
  out << YAML::Key << "action_std" << YAML::Value;
  EmitVector(out, stats.action_std);
  if (!stats.target_mean.empty()) {
    out << YAML::Key << "target_mean" << YAML::Value;
    EmitVector(out, stats.target_mean);
    out << YAML::Key << "target_std" << YAML::Value;
    EmitVector(out, stats.target_std);
  }
  out << YAML::EndMap;

  if (optimizer != nullptr) {
    out << YAML::Key << "optimizer" << YAML::Value << YAML::BeginMap;
    std::string type;
    out << YAML::Key << "groups" << YAML::Value << YAML::BeginSeq;
    for (const auto& group : optimizer->param_groups()) {
      Hyper hyper;
      type = DescribeOptions(group.options(), &hyper);
      out << YAML::BeginMap;
      for (const auto& [key, value] : hyper)
        out << YAML::Key << key << YAML::Value << Number(value);
      out << YAML::Key << "shapes" << YAML::Value << YAML::Flow << YAML::BeginSeq;
      for (const auto* p : GroupParams(group)) out << ShapeText(*p);
      out << YAML::EndSeq << YAML::EndMap;
    }
    out << YAML::EndSeq;
    out << YAML::Key << "type" << YAML::Value << type;
    out << YAML::EndMap;
  }
  // Texts are stored as quoted scalars, which round-trip exactly (trailing newlines included).
  out << YAML::Key << "config" << YAML::Value << YAML::DoubleQuoted << metadata.resolved_config;
  out << YAML::Key << "extra" << YAML::Value << YAML::DoubleQuoted << metadata.extra;
  out << YAML::EndMap;
  SIMSCALE_CHECK(out.good(), "checkpoint metadata: YAML emitter error: {}", out.GetLastError());
  return std::string(out.c_str()) + "\n";
}

// The completion marker, written last; it also records the format version (YAML, like meta.yaml).
std::string MarkerText() {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "format_version" << YAML::Value << kCheckpointFormatVersion
      << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

YAML::Node LoadMetadataNode(const fs::path& dir) {
  if (!IsCompleteCheckpoint(dir)) {
    Fail(dir, fs::exists(dir) ? fmt::format("incomplete (no '{}' marker)", kCheckpointMarker)
                              : std::string("no such directory"));
  }
  try {
    return YAML::Load(ReadFile(dir / kMetadataFile));
  } catch (const YAML::Exception& e) {
    Fail(dir,
         fmt::format("{}: invalid YAML at line {}: {}", kMetadataFile, e.mark.line + 1, e.msg));
  }
}

}  // namespace

namespace {

// The files of a checkpoint, then its marker, in `tmp`.
void WriteCheckpointFiles(const fs::path& tmp, const Policy& model,
                          const torch::optim::Optimizer* optimizer,
                          const CheckpointMetadata& metadata,
                          const std::function<void()>& before_marker) {
  fs::create_directories(tmp);
  c10::Dict<std::string, at::Tensor> tensors;
  for (const auto& [name, tensor] : NamedTensors(model)) {
    tensors.insert(name, tensor.detach().to(torch::kCPU));
  }
  const std::vector<char> model_bytes = torch::pickle_save(c10::IValue(tensors));
  WriteFileAtomic(tmp / kModelFile, std::string_view(model_bytes.data(), model_bytes.size()));

  if (optimizer != nullptr) {
    torch::serialize::OutputArchive archive;
    optimizer->save(archive);
    std::ostringstream stream;
    archive.save_to(stream);
    WriteFileAtomic(tmp / kOptimizerFile, stream.str());
  }
  WriteFileAtomic(tmp / kMetadataFile, MetadataText(model, optimizer, metadata));
  if (before_marker) before_marker();
  WriteFileAtomic(tmp / kCheckpointMarker, MarkerText());
  FsyncPath(tmp);
}

}  // namespace

void SaveCheckpoint(const fs::path& dir, const Policy& model,
                    const torch::optim::Optimizer* optimizer, const CheckpointMetadata& metadata,
                    const std::function<void()>& before_marker) {
  const fs::path tmp = TemporarySibling(dir);
  std::error_code ec;
  fs::remove_all(tmp, ec);
  try {
    WriteCheckpointFiles(tmp, model, optimizer, metadata, before_marker);
  } catch (const std::exception& e) {
    // A full disk, typically: free what this write took; the other checkpoints are untouched.
    fs::remove_all(tmp, ec);
    throw IoError(fmt::format("cannot write checkpoint '{}': {}", dir.string(), e.what()));
  }

  if (fs::exists(dir)) {
    const fs::path aside = fs::path(tmp.string() + ".old");
    fs::remove_all(aside, ec);
    fs::rename(dir, aside);
    RenameDurable(tmp, dir);
    fs::remove_all(aside);
  } else {
    fs::create_directories(dir.parent_path());
    RenameDurable(tmp, dir);
  }
}

std::shared_ptr<Policy> LoadCheckpoint(const fs::path& dir, CheckpointMetadata* metadata,
                                       const torch::Device& device) {
  CheckpointMetadata meta = ReadCheckpointMetadata(dir);
  std::shared_ptr<Policy> model = MakeModel(meta.model_name, meta.model_options);
  model->to(device);
  LoadModelState(dir, model.get());
  if (metadata != nullptr) *metadata = std::move(meta);
  return model;
}

void LoadModelState(const fs::path& dir, Policy* model) {
  const CheckpointMetadata meta = ReadCheckpointMetadata(dir);
  std::vector<std::string> problems;
  if (meta.model_name != model->name()) {
    problems.push_back(
        fmt::format("model name: checkpoint '{}', model '{}'", meta.model_name, model->name()));
  }
  const auto saved_options = FlatOptions(meta.model_options);
  const auto model_options = FlatOptions(model->options());
  for (const auto& [key, value] : model_options) {
    const auto it = saved_options.find(key);
    const std::string saved = it == saved_options.end() ? "(absent)" : it->second;
    if (saved != value) {
      problems.push_back(fmt::format("option {}: checkpoint {}, model {}", key, saved, value));
    }
  }

  std::map<std::string, torch::Tensor> by_name;
  try {
    const std::string bytes = ReadFile(dir / kModelFile);
    const c10::IValue saved = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
    if (!saved.isGenericDict()) Fail(dir, fmt::format("{} holds no dictionary", kModelFile));
    for (const auto& item : saved.toGenericDict()) {
      by_name[item.key().toStringRef()] = item.value().toTensor();
    }
  } catch (const c10::Error& e) {
    Fail(dir, fmt::format("{} is not a readable tensor dictionary: {}", kModelFile,
                          e.what_without_backtrace()));
  }

  const auto targets = NamedTensors(*model);
  for (const auto& [name, tensor] : targets) {
    const auto it = by_name.find(name);
    if (it == by_name.end()) {
      problems.push_back(fmt::format("tensor {}: missing from the checkpoint (model has {})", name,
                                     ShapeText(tensor)));
      continue;
    }
    if (it->second.sizes() != tensor.sizes() || it->second.scalar_type() != tensor.scalar_type()) {
      const bool same_type = it->second.scalar_type() == tensor.scalar_type();
      auto describe = [&](const torch::Tensor& t) {
        return same_type ? ShapeText(t)
                         : fmt::format("{} {}", ShapeText(t), c10::toString(t.scalar_type()));
      };
      problems.push_back(fmt::format("tensor {}: checkpoint {}, model {}", name,
                                     describe(it->second), describe(tensor)));
    }
  }
  for (const auto& [name, tensor] : by_name) {
    const bool known = std::any_of(targets.begin(), targets.end(),
                                   [&](const auto& target) { return target.first == name; });
    if (!known) {
      problems.push_back(fmt::format("tensor {}: in the checkpoint {} but not in the model", name,
                                     ShapeText(tensor)));
    }
  }
  if (!problems.empty()) {
    Fail(dir, fmt::format("does not match model '{}' ({} problems):\n  {}", model->name(),
                          problems.size(), fmt::join(problems, "\n  ")));
  }
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : targets) tensor.copy_(by_name.at(name));
}

void LoadOptimizerState(const fs::path& dir, torch::optim::Optimizer* optimizer) {
  const YAML::Node root = LoadMetadataNode(dir);
  const YAML::Node node = root["optimizer"];
  if (!node || !fs::exists(dir / kOptimizerFile)) Fail(dir, "holds no optimizer state");
  auto& groups = optimizer->param_groups();
  std::vector<std::string> problems;
  std::vector<Hyper> saved_hyper;
  try {
    const YAML::Node saved_groups = node["groups"];
    if (saved_groups.size() != groups.size()) {
      problems.push_back(fmt::format("param groups: checkpoint {}, optimizer {}",
                                     saved_groups.size(), groups.size()));
    }
    for (size_t g = 0; g < std::min<size_t>(saved_groups.size(), groups.size()); ++g) {
      Hyper current;
      const std::string type = DescribeOptions(groups[g].options(), &current);
      const std::string saved_type = node["type"].as<std::string>();
      if (type != saved_type) {
        problems.push_back(fmt::format("group {}: optimizer type: checkpoint {}, optimizer {}", g,
                                       saved_type, type));
      }
      Hyper hyper;
      for (const auto& [key, value] : current) {
        if (!saved_groups[g][key]) {
          problems.push_back(fmt::format("group {}: hyper-parameter {} missing", g, key));
        } else {
          hyper[key] = saved_groups[g][key].as<double>();
        }
      }
      saved_hyper.push_back(hyper);
      const YAML::Node shapes = saved_groups[g]["shapes"];
      const auto params = GroupParams(groups[g]);
      if (shapes.size() != params.size()) {
        problems.push_back(fmt::format("group {}: checkpoint has {} parameters, optimizer {}", g,
                                       shapes.size(), params.size()));
      }
      for (size_t i = 0; i < std::min<size_t>(shapes.size(), params.size()); ++i) {
        const std::string shape = ShapeText(*params[i]);
        if (shapes[i].as<std::string>() != shape) {
          problems.push_back(fmt::format("group {} parameter {}: checkpoint {}, optimizer {}", g, i,
                                         shapes[i].as<std::string>(), shape));
        }
      }
    }
  } catch (const YAML::Exception& e) {
    Fail(dir, fmt::format("{}: malformed optimizer section: {}", kMetadataFile, e.msg));
  }
  if (!problems.empty()) {
    Fail(dir, fmt::format("optimizer state does not match ({} problems):\n  {}", problems.size(),
                          fmt::join(problems, "\n  ")));
  }
  torch::serialize::InputArchive archive;
  const torch::Device device = groups.empty() || groups.front().params().empty()
                                   ? torch::Device(torch::kCPU)
                                   : groups.front().params().front().device();
  archive.load_from((dir / kOptimizerFile).string(), device);
  optimizer->load(archive);
  for (size_t g = 0; g < groups.size(); ++g) ApplyOptions(groups[g].options(), saved_hyper[g]);
}

}  // namespace simscale::models
