#include "common/train/trainer_state.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "common/core/error.h"

namespace simscale::train {

std::string TrainerStateToYaml(const TrainerState& s) {
  YAML::Node node;
  node["step"] = s.step;
  node["epoch"] = s.data.epoch;
  node["batch"] = s.data.batch;
  node["nonfinite_skipped"] = s.nonfinite.skipped;
  node["nonfinite_in_a_row"] = s.nonfinite.in_a_row;
  node["samples_seen"] = s.samples_seen;
  if (s.loss_scaler) {
    node["loss_scale"] = s.loss_scaler->scale;
    node["loss_scale_good_steps"] = s.loss_scaler->good_steps;
  }
  YAML::Emitter out;
  out << node;
  return out.c_str();
}

TrainerState TrainerStateFromYaml(const std::string& text, const std::string& source) {
  TrainerState s;
  try {
    const YAML::Node n = YAML::Load(text);
    s.step = n["step"].as<int64_t>();
    s.data.epoch = n["epoch"].as<int64_t>();
    s.data.batch = n["batch"].as<int64_t>();
    s.nonfinite.skipped = n["nonfinite_skipped"].as<int64_t>();
    s.nonfinite.in_a_row = n["nonfinite_in_a_row"].as<int64_t>();
    s.samples_seen = n["samples_seen"].as<double>();
    if (n["loss_scale"]) {
      s.loss_scaler =
          LossScalerState{n["loss_scale"].as<double>(), n["loss_scale_good_steps"].as<int64_t>()};
    }
  } catch (const YAML::Exception& e) {
    throw InvalidArgumentError(
        fmt::format("{}: trainer state is not what this trainer wrote: {}", source, e.what()));
  }
  return s;
}

}  // namespace simscale::train
