#include "common/train/loader.h"

#include <chrono>

#include <fmt/format.h>

#include "common/core/error.h"
#include "common/core/random.h"
#include "common/models/model_input.h"
#include "common/mpi/mpi.h"

namespace simscale::train {

ShardedSampler::ShardedSampler(int64_t num_samples, int64_t global_batch, uint64_t seed, int rank,
                               int world)
    : num_samples_(num_samples),
      global_batch_(global_batch),
      seed_(seed),
      rank_(rank),
      world_(world) {
  CheckArgument(global_batch >= world, "train.batch_size", global_batch,
                fmt::format("at least the number of ranks ({})", world));
  CheckArgument(num_samples >= global_batch, "train.batch_size", global_batch,
                fmt::format("at most the number of training samples ({})", num_samples));
  batches_per_epoch_ = num_samples / global_batch;
}

int64_t ShardedSampler::local_batch() const {
  return mpi::SplitEvenly(global_batch_, world_, rank_).size();
}

const std::vector<int64_t>& ShardedSampler::Permutation(int64_t epoch) {
  if (epoch != cached_epoch_) {
    permutation_.resize(static_cast<size_t>(num_samples_));
    for (int64_t i = 0; i < num_samples_; ++i) permutation_[static_cast<size_t>(i)] = i;
    // Fisher-Yates from the epoch's own stream: the same order on every rank and rank count.
    RandomStream stream(seed_, static_cast<uint64_t>(epoch), StreamPurpose::kDataShuffle);
    for (int64_t i = num_samples_ - 1; i > 0; --i) {
      const int64_t j = stream.UniformInt(0, i);
      std::swap(permutation_[static_cast<size_t>(i)], permutation_[static_cast<size_t>(j)]);
    }
    cached_epoch_ = epoch;
  }
  return permutation_;
}

std::vector<int64_t> ShardedSampler::Local(const LoaderPosition& position) {
  const std::vector<int64_t>& permutation = Permutation(position.epoch);
  const mpi::Range mine = mpi::SplitEvenly(global_batch_, world_, rank_);
  std::vector<int64_t> samples;
  samples.reserve(static_cast<size_t>(mine.size()));
  for (int64_t i = mine.begin; i < mine.end; ++i) {
    samples.push_back(permutation[static_cast<size_t>(position.batch * global_batch_ + i)]);
  }
  return samples;
}

LoaderPosition ShardedSampler::Next(const LoaderPosition& position) const {
  if (position.batch + 1 < batches_per_epoch_) return {position.epoch, position.batch + 1};
  return {position.epoch + 1, 0};
}

BatchConverter::BatchConverter(const TrajectoryDataset& dataset, int64_t max_text_len,
                               int64_t image_size)
    : state_dim_(dataset.state_dim()),
      action_dim_(dataset.action_dim()),
      target_dim_(dataset.target_dim()),
      horizon_(dataset.options().action_horizon),
      height_(dataset.image_height()),
      width_(dataset.image_width()),
      image_size_(image_size),
      cameras_(dataset.options().cameras),
      language_(dataset.options().language),
      tokenizer_(max_text_len) {}

models::Batch BatchConverter::Convert(const HostBatch& host) const {
  const int64_t b = host.size;
  models::Batch batch;
  batch.state = models::StatesToTensor(host.state.data(), b, state_dim_);
  batch.actions = torch::from_blob(const_cast<float*>(host.actions.data()),
                                   {b, horizon_, action_dim_}, torch::kFloat32)
                      .clone();
  if (horizon_ == 1) batch.actions = batch.actions.squeeze(1);
  if (target_dim_ > 0) {
    batch.targets =
        torch::from_blob(const_cast<float*>(host.targets.data()), {b, target_dim_}, torch::kFloat32)
            .clone();
  }
  for (const auto& camera : cameras_) {
    // The conversion checkpoint policies apply to live frames (common/models/model_input.h).
    batch.images[camera] =
        models::ImagesToTensor(host.images.at(camera).data(), b, height_, width_, image_size_);
  }
  if (language_) {
    models::TokenizedText text = tokenizer_.Encode(host.language);
    batch.language_tokens = text.tokens;
    batch.language_mask = text.mask;
  }
  return batch;
}

BatchLoader::BatchLoader(std::shared_ptr<const TrajectoryDataset> dataset, ShardedSampler sampler,
                         LoaderPosition start, int depth, int64_t max_text_len, int64_t image_size)
    : dataset_(std::move(dataset)),
      sampler_(std::move(sampler)),
      converter_(*dataset_, max_text_len, image_size),
      depth_(std::max(1, depth)),
      position_(start) {
  thread_ = std::thread([this, start] { Run(start); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BatchLoader::Run(LoaderPosition position) {
  try {
    HostBatch host;
    ShardedSampler sampler = sampler_;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return stop_ || static_cast<int>(ready_.size()) < depth_; });
        if (stop_) return;
      }
      const std::vector<int64_t> samples = sampler.Local(position);
      dataset_->Gather(samples.data(), static_cast<int64_t>(samples.size()), &host);
      models::Batch batch = converter_.Convert(host);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.push_back(std::move(batch));
      }
      changed_.notify_all();
      position = sampler.Next(position);
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
    changed_.notify_all();
  }
}

models::Batch BatchLoader::Next(double* wait_seconds) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return !ready_.empty() || error_ != nullptr; });
  if (ready_.empty() && error_) std::rethrow_exception(error_);
  models::Batch batch = std::move(ready_.front());
  ready_.pop_front();
  lock.unlock();
  changed_.notify_all();
  position_ = sampler_.Next(position_);
  if (wait_seconds != nullptr) {
    *wait_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return batch;
}

}  // namespace simscale::train
