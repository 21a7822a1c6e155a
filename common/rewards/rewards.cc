#include "common/rewards/rewards.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/core/error.h"

namespace simscale::rewards {
namespace {

int Find(const std::vector<std::string>& names, const std::string& name, const char* kind) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  std::string valid;
  for (const auto& n : names) valid += (valid.empty() ? "" : ", ") + n;
  throw InvalidArgumentError(
      fmt::format("reward {} '{}': expected one of {{{}}}", kind, name, valid));
}

}  // namespace

int RewardContext::AddPoint(const std::string& name) {
  SIMSCALE_CHECK(std::find(point_names_.begin(), point_names_.end(), name) == point_names_.end(),
                 "reward point '{}' declared twice", name);
  point_names_.push_back(name);
  points_.push_back({0, 0, 0});
  return static_cast<int>(points_.size()) - 1;
}

int RewardContext::AddFlag(const std::string& name) {
  SIMSCALE_CHECK(std::find(flag_names_.begin(), flag_names_.end(), name) == flag_names_.end(),
                 "reward flag '{}' declared twice", name);
  flag_names_.push_back(name);
  flags_.push_back(false);
  return static_cast<int>(flags_.size()) - 1;
}

int RewardContext::point_index(const std::string& name) const {
  return Find(point_names_, name, "point");
}
int RewardContext::flag_index(const std::string& name) const {
  return Find(flag_names_, name, "flag");
}

void RewardContext::SetPoint(int index, const double* xyz) {
  Point& p = points_[static_cast<size_t>(index)];
  p = {xyz[0], xyz[1], xyz[2]};
}

double Distance(const Point& a, const Point& b) {
  const double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
  return std::sqrt(dx * dx + dy * dy + dz * dz);
}

DistanceReward::DistanceReward(const RewardContext& context, const std::string& a,
                               const std::string& b, double scale)
    : a_(context.point_index(a)), b_(context.point_index(b)), scale_(scale) {}

double DistanceReward::Compute(const RewardContext& context) const {
  return -scale_ * Distance(context.point(a_), context.point(b_));
}

std::string DistanceReward::Describe(const RewardContext& context) const {
  return fmt::format("-{}*|{} - {}|", scale_, context.point_name(a_), context.point_name(b_));
}

SuccessBonus::SuccessBonus(const RewardContext& context, const std::string& a, const std::string& b,
                           double threshold, double bonus)
    : a_(context.point_index(a)),
      b_(context.point_index(b)),
      threshold_(threshold),
      bonus_(bonus) {}

double SuccessBonus::Compute(const RewardContext& context) const {
  return Distance(context.point(a_), context.point(b_)) < threshold_ ? bonus_ : 0.0;
}

std::string SuccessBonus::Describe(const RewardContext& context) const {
  return fmt::format("{} if |{} - {}| < {}", bonus_, context.point_name(a_), context.point_name(b_),
                     threshold_);
}

ProximityReward::ProximityReward(const RewardContext& context, const std::string& a,
                                 const std::string& b, double scale, double weight)
    : a_(context.point_index(a)), b_(context.point_index(b)), scale_(scale), weight_(weight) {}

double ProximityReward::Compute(const RewardContext& context) const {
  return weight_ * (1.0 - std::tanh(scale_ * Distance(context.point(a_), context.point(b_))));
}

std::string ProximityReward::Describe(const RewardContext& context) const {
  return fmt::format("{}*(1 - tanh({}*|{} - {}|))", weight_, scale_, context.point_name(a_),
                     context.point_name(b_));
}

double ActionPenalty::Compute(const RewardContext& context) const {
  double sum = 0.0;
  for (int i = 0; i < context.action_size(); ++i) sum += context.action()[i] * context.action()[i];
  return -scale_ * std::sqrt(sum);
}

std::string ActionPenalty::Describe(const RewardContext&) const {
  return fmt::format("-{}*|action|", scale_);
}

std::string ConstantReward::Describe(const RewardContext&) const {
  return fmt::format("{}", value_);
}

ConditionalReward::ConditionalReward(const RewardContext& context, const std::string& flag,
                                     std::unique_ptr<RewardTerm> term, bool when)
    : flag_(context.flag_index(flag)), term_(std::move(term)), when_(when) {}

double ConditionalReward::Compute(const RewardContext& context) const {
  return context.flag(flag_) == when_ ? term_->Compute(context) : 0.0;
}

std::string ConditionalReward::Describe(const RewardContext& context) const {
  return fmt::format("({} if {}{})", term_->Describe(context), when_ ? "" : "not ",
                     context.flag_name(flag_));
}

CompositeReward& CompositeReward::Add(std::unique_ptr<RewardTerm> term, double weight) {
  terms_.emplace_back(std::move(term), weight);
  return *this;
}

double CompositeReward::Compute(const RewardContext& context) const {
  double total = 0.0;
  for (const auto& [term, weight] : terms_) total += weight * term->Compute(context);
  return total;
}

std::string CompositeReward::Describe(const RewardContext& context) const {
  std::string out;
  for (const auto& [term, weight] : terms_) {
    out += fmt::format("{}{}*{}", out.empty() ? "" : " + ", weight, term->Describe(context));
  }
  return out;
}

}  // namespace simscale::rewards
