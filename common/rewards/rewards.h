#pragma once

#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

// Composable reward terms. A task builds its reward once from these terms over named slots of a
// RewardContext (3-D points such as "ee" and "target", boolean flags such as "grasped"); each
// step it fills the slots and calls Compute(). Slot names are resolved to indices when the reward
// is built, so computing a reward does no lookups and no allocation.
namespace simscale::rewards {

using Point = std::array<double, 3>;

class RewardContext {
 public:
  int AddPoint(const std::string& name);
  int AddFlag(const std::string& name);
  int point_index(const std::string& name) const;  // throws InvalidArgumentError listing names
  int flag_index(const std::string& name) const;

  void SetPoint(int index, const double* xyz);
  void SetFlag(int index, bool value) { flags_[static_cast<size_t>(index)] = value; }
  void SetAction(const double* action, int size) {
    action_ = action;
    action_size_ = size;
  }
  const Point& point(int index) const { return points_[static_cast<size_t>(index)]; }
  const std::string& point_name(int index) const {
    return point_names_[static_cast<size_t>(index)];
  }
  const std::string& flag_name(int index) const { return flag_names_[static_cast<size_t>(index)]; }
  bool flag(int index) const { return flags_[static_cast<size_t>(index)]; }
  const double* action() const { return action_; }
  int action_size() const { return action_size_; }

 private:
  std::vector<std::string> point_names_, flag_names_;
  std::vector<Point> points_;
  std::vector<bool> flags_;
  const double* action_ = nullptr;
  int action_size_ = 0;
};

double Distance(const Point& a, const Point& b);

class RewardTerm {
 public:
  virtual ~RewardTerm() = default;
  virtual double Compute(const RewardContext& context) const = 0;
  virtual std::string Describe(const RewardContext& context) const = 0;
};

// -scale * |a - b|
class DistanceReward : public RewardTerm {
 public:
  DistanceReward(const RewardContext& context, const std::string& a, const std::string& b,
                 double scale = 1.0);
  double Compute(const RewardContext& context) const override;
  std::string Describe(const RewardContext& context) const override;

 private:
  int a_, b_;
  double scale_;
};

// bonus if |a - b| < threshold, else 0
class SuccessBonus : public RewardTerm {
 public:
  SuccessBonus(const RewardContext& context, const std::string& a, const std::string& b,
               double threshold, double bonus = 1.0);
  double Compute(const RewardContext& context) const override;
  std::string Describe(const RewardContext& context) const override;

 private:
  int a_, b_;
  double threshold_, bonus_;
};

// weight * (1 - tanh(scale * |a - b|)): in [0, weight], largest at contact, flat far away (the
// staged rewards of robosuite).
class ProximityReward : public RewardTerm {
 public:
  ProximityReward(const RewardContext& context, const std::string& a, const std::string& b,
                  double scale, double weight);
  double Compute(const RewardContext& context) const override;
  std::string Describe(const RewardContext& context) const override;

 private:
  int a_, b_;
  double scale_, weight_;
};

// -scale * ||action||_2 (the Euclidean norm, not its square)
class ActionPenalty : public RewardTerm {
 public:
  explicit ActionPenalty(double scale = 0.01) : scale_(scale) {}
  double Compute(const RewardContext& context) const override;
  std::string Describe(const RewardContext& context) const override;

 private:
  double scale_;
};

// A constant, for bonuses gated by ConditionalReward.
class ConstantReward : public RewardTerm {
 public:
  explicit ConstantReward(double value) : value_(value) {}
  double Compute(const RewardContext&) const override { return value_; }
  std::string Describe(const RewardContext& context) const override;

 private:
  double value_;
};

// `term` when flag == when, else 0.
class ConditionalReward : public RewardTerm {
 public:
  ConditionalReward(const RewardContext& context, const std::string& flag,
                    std::unique_ptr<RewardTerm> term, bool when = true);
  double Compute(const RewardContext& context) const override;
  std::string Describe(const RewardContext& context) const override;

 private:
  int flag_;
  std::unique_ptr<RewardTerm> term_;
  bool when_;
};

// sum of weight_i * term_i
class CompositeReward : public RewardTerm {
 public:
  CompositeReward& Add(std::unique_ptr<RewardTerm> term, double weight = 1.0);
  double Compute(const RewardContext& context) const override;
  std::string Describe(const RewardContext& context) const override;
  size_t size() const { return terms_.size(); }

 private:
  std::vector<std::pair<std::unique_ptr<RewardTerm>, double>> terms_;
};

}  // namespace simscale::rewards
