#include "common/rl/ppo_gradient.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/core/error.h"

namespace simscale::rl {
namespace {

constexpr float kHalfLogTwoPi = 0.91893853320467274178f;  // 0.5 * log(2 pi)

// d max(a, b) / da as autograd takes it: 1, 0, or 1/2 at a tie.
inline float MaxGradFirst(float a, float b) { return a > b ? 1.0f : (a < b ? 0.0f : 0.5f); }

// d clamp(x, lo, hi) / dx as autograd takes it: 1 inside the bounds, bounds included.
inline float ClampGrad(float x, float lo, float hi) { return x >= lo && x <= hi ? 1.0f : 0.0f; }

}  // namespace

PpoGradient::PpoGradient(ActorCritic model, const PpoOptions& options)
    : model_(std::move(model)),
      options_(options),
      actor_(model_->actor()),
      critic_(model_->critic()) {
  SIMSCALE_CHECK(critic_.out_features() == 1, "the critic must have one output, has {}",
                 critic_.out_features());
}

void PpoGradient::PolicyGradient(const MinibatchRows& b, const float* mean, double weight,
                                 PpoLossSums* sums) {
  const int64_t a = actor_.out_features();
  const float* log_std = model_->log_std().data_ptr<float>();
  const auto eps = static_cast<float>(options_.clip_epsilon);
  const auto low = static_cast<float>(1.0 - options_.clip_epsilon);
  const auto high = static_cast<float>(1.0 + options_.clip_epsilon);
  inv_std_.resize(static_cast<size_t>(a));
  for (int64_t d = 0; d < a; ++d) inv_std_[static_cast<size_t>(d)] = std::exp(-log_std[d]);
  grad_mean_.resize(static_cast<size_t>(b.rows * a));
  grad_log_std_.assign(static_cast<size_t>(a), 0.0);
  for (int64_t i = 0; i < b.rows; ++i) {
    const float* mu = mean + i * a;
    const float* action = b.actions + i * a;
    float log_prob = 0.0f;
    for (int64_t d = 0; d < a; ++d) {
      const float z = (action[d] - mu[d]) * inv_std_[static_cast<size_t>(d)];
      log_prob += -0.5f * z * z - log_std[d] - kHalfLogTwoPi;
    }
    const float log_ratio = log_prob - b.log_probs[i];
    const float ratio = std::exp(log_ratio);
    const float advantage = b.advantages[i];
    const float unclipped = -advantage * ratio;
    const float clipped = -advantage * std::clamp(ratio, low, high);
    const float pick = MaxGradFirst(unclipped, clipped);
    // d loss_i / d ratio, then through ratio = exp(log_prob - old).
    const float grad_ratio = -advantage * (pick + (1.0f - pick) * ClampGrad(ratio, low, high));
    const float grad_log_prob = static_cast<float>(weight) * grad_ratio * ratio;
    for (int64_t d = 0; d < a; ++d) {
      const float inv_std = inv_std_[static_cast<size_t>(d)];
      const float z = (action[d] - mu[d]) * inv_std;
      grad_mean_[static_cast<size_t>(i * a + d)] = grad_log_prob * z * inv_std;
      grad_log_std_[static_cast<size_t>(d)] += static_cast<double>(grad_log_prob * (z * z - 1.0f));
    }
    sums->policy_loss += std::max(unclipped, clipped);
    sums->approx_kl += (ratio - 1.0f) - log_ratio;
    sums->clip_fraction += std::fabs(ratio - 1.0f) > eps ? 1.0 : 0.0;
  }
}

void PpoGradient::ValueGradient(const MinibatchRows& b, const float* value, double weight,
                                PpoLossSums* sums) {
  const auto eps = static_cast<float>(options_.clip_epsilon);
  const auto scale = static_cast<float>(options_.vf_coef * weight);
  grad_value_.resize(static_cast<size_t>(b.rows));
  for (int64_t i = 0; i < b.rows; ++i) {
    const float error = value[i] - b.returns[i];
    const float squared = error * error;
    float loss = squared, grad = error;  // d (0.5 loss) / d value
    if (options_.clip_value_loss) {
      const float change = value[i] - b.values[i];
      const float clipped_error = b.values[i] + std::clamp(change, -eps, eps) - b.returns[i];
      const float clipped_squared = clipped_error * clipped_error;
      const float pick = MaxGradFirst(squared, clipped_squared);
      loss = std::max(squared, clipped_squared);
      grad = pick * error + (1.0f - pick) * clipped_error * ClampGrad(change, -eps, eps);
    }
    sums->value_loss += 0.5 * static_cast<double>(loss);
    grad_value_[static_cast<size_t>(i)] = scale * grad;
  }
}

PpoLossSums PpoGradient::Compute(const MinibatchRows& batch, double weight, double share) {
  const float* mean = actor_.Forward(batch.observations, batch.rows);
  const float* value = critic_.Forward(batch.observations, batch.rows);
  PpoLossSums sums;
  PolicyGradient(batch, mean, weight, &sums);
  ValueGradient(batch, value, weight, &sums);
  actor_.Backward(grad_mean_.data());
  critic_.Backward(grad_value_.data());
  // The entropy, sum(0.5 + 0.5 log(2 pi) + log_std), depends on the log-std alone.
  float* grad_log_std = WritableGrad(model_->log_std()).data_ptr<float>();
  for (size_t d = 0; d < grad_log_std_.size(); ++d) {
    grad_log_std[d] = static_cast<float>(grad_log_std_[d] - options_.ent_coef * share);
  }
  return sums;
}

}  // namespace simscale::rl
