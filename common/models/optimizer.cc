#include "common/models/optimizer.h"

#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>

#include <ATen/Parallel.h>

#include "common/models/cpu_kernels.h"

namespace simscale::models {
namespace {

// The key of Optimizer::state_ for a parameter: LibTorch 1.13 uses the TensorImpl address as a
// string; later versions may key by the address itself. Follows whichever the headers declare.
template <typename Key>
Key StateKey(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;
    key << static_cast<const void*>(p.unsafeGetTensorImpl());
    return key.str();
  } else {
    return Key(p.unsafeGetTensorImpl());
  }
}

bool Fusable(const torch::Tensor& p) {
  return p.device().is_cpu() && p.scalar_type() == torch::kFloat && p.is_contiguous() &&
         p.grad().scalar_type() == torch::kFloat && p.grad().is_contiguous() &&
         !p.grad().is_sparse();
}

}  // namespace

FusedAdamW::FusedAdamW(std::vector<torch::optim::OptimizerParamGroup> groups,
                       torch::optim::AdamWOptions options)
    : torch::optim::AdamW(std::move(groups), std::move(options)) {}

FusedAdamW::FusedAdamW(std::vector<torch::Tensor> params, torch::optim::AdamWOptions options)
    : torch::optim::AdamW(std::move(params), std::move(options)) {}

bool FusedAdamW::AllFusable() const {
  for (const auto& group : param_groups_) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
    if (options.amsgrad()) return false;
    for (const auto& p : group.params()) {
      if (p.grad().defined() && !Fusable(p)) return false;
    }
  }
  return true;
}

torch::Tensor FusedAdamW::step(LossClosure closure) {
  // Anything the fused pass does not cover goes to the stock implementation, whole.
  if (!AllFusable()) return torch::optim::AdamW::step(std::move(closure));
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  FusedStep(1.0f);
  return loss;
}

void FusedAdamW::StepScaled(double grad_scale) {
  if (AllFusable()) {
    FusedStep(static_cast<float>(grad_scale));
    return;
  }
  if (grad_scale != 1.0) {
    torch::NoGradGuard no_grad;
    for (auto& group : param_groups_) {
      for (auto& p : group.params()) {
        if (p.grad().defined()) p.mutable_grad().mul_(grad_scale);
      }
    }
  }
  torch::optim::AdamW::step();
}

void FusedAdamW::FusedStep(float grad_scale) {
  torch::NoGradGuard no_grad;
  using Key = typename std::decay_t<decltype(state_)>::key_type;
  for (auto& group : param_groups_) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
    const double lr = options.lr();
    const double beta1 = std::get<0>(options.betas());
    const double beta2 = std::get<1>(options.betas());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const Key key = StateKey<Key>(p);
      auto it = state_.find(key);
      if (it == state_.end()) {
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Contiguous));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Contiguous));
        it = state_.emplace(key, std::move(fresh)).first;
      }
      auto& state = static_cast<torch::optim::AdamWParamState&>(*it->second);
      state.step(state.step() + 1);
      const auto t = static_cast<double>(state.step());
      internal::AdamWCoefficients c;
      c.decay = static_cast<float>(1.0 - lr * options.weight_decay());
      c.beta1 = static_cast<float>(beta1);
      c.beta2 = static_cast<float>(beta2);
      c.step_size = static_cast<float>(lr / (1.0 - std::pow(beta1, t)));
      c.inv_sqrt_bias = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(beta2, t)));
      c.eps = static_cast<float>(options.eps());
      c.grad_scale = grad_scale;
      // Loaded state may not be contiguous; the update needs it to be.
      if (!state.exp_avg().is_contiguous()) state.exp_avg(state.exp_avg().contiguous());
      if (!state.exp_avg_sq().is_contiguous()) state.exp_avg_sq(state.exp_avg_sq().contiguous());
      float* param = p.data_ptr<float>();
      const float* grad = p.grad().data_ptr<float>();
      float* exp_avg = state.exp_avg().data_ptr<float>();
      float* exp_avg_sq = state.exp_avg_sq().data_ptr<float>();
      // Element-wise, so chunks on LibTorch's threads give the same result at any thread count.
      at::parallel_for(0, p.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
        internal::AdamWUpdate(param + begin, grad + begin, exp_avg + begin, exp_avg_sq + begin,
                              end - begin, c);
      });
    }
  }
}

}  // namespace simscale::models
