#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "common/models/policy.h"
#include "common/models/tokenizer.h"
#include "common/train/dataset.h"

namespace simscale::train {

// Where the data stream is: the global batch `batch` of epoch `epoch`.
struct LoaderPosition {
  int64_t epoch = 0;
  int64_t batch = 0;
  bool operator==(const LoaderPosition& o) const { return epoch == o.epoch && batch == o.batch; }
};

// Deterministic, rank-count-independent batching. Each epoch is a permutation of all samples drawn
// from (seed, epoch); global batch b is positions [b*B, (b+1)*B) of it (an incomplete last batch
// is dropped), and rank r takes its SplitEvenly share of those B samples. So at any number of
// ranks the union of the ranks' batches is the same global batch.
class ShardedSampler {
 public:
  ShardedSampler(int64_t num_samples, int64_t global_batch, uint64_t seed, int rank, int world);

  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  int64_t global_batch() const { return global_batch_; }
  int64_t local_batch() const;  // this rank's share (the first B % world ranks get one more)
  // Sample ids of this rank's part of global batch `position`.
  std::vector<int64_t> Local(const LoaderPosition& position);
  LoaderPosition Next(const LoaderPosition& position) const;

 private:
  const std::vector<int64_t>& Permutation(int64_t epoch);

  int64_t num_samples_, global_batch_, batches_per_epoch_;
  uint64_t seed_;
  int rank_, world_;
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> permutation_;
};

// Turns host buffers into model batches on the CPU: images HWC uint8 -> CHW float in [0, 1]
// (area-resampled to image_size x image_size when the dataset's images differ), instructions ->
// token ids and mask.
class BatchConverter {
 public:
  BatchConverter(const TrajectoryDataset& dataset, int64_t max_text_len, int64_t image_size);
  models::Batch Convert(const HostBatch& host) const;

 private:
  int64_t state_dim_, action_dim_, target_dim_, horizon_, height_, width_, image_size_;
  std::vector<std::string> cameras_;
  bool language_;
  models::CharTokenizer tokenizer_;
};

// Background prefetch: a thread reads, decompresses and converts the next `depth` batches while
// the trainer computes. Memory is bounded by `depth` batches. An error in the thread is rethrown
// by Next().
class BatchLoader {
 public:
  BatchLoader(std::shared_ptr<const TrajectoryDataset> dataset, ShardedSampler sampler,
              LoaderPosition start, int depth, int64_t max_text_len, int64_t image_size);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The next batch; adds the time spent waiting for it to *wait_seconds (if not null).
  models::Batch Next(double* wait_seconds = nullptr);
  // Position of the batch the next call to Next() returns.
  LoaderPosition position() const { return position_; }
  const ShardedSampler& sampler() const { return sampler_; }

 private:
  void Run(LoaderPosition start);

  std::shared_ptr<const TrajectoryDataset> dataset_;
  ShardedSampler sampler_;
  BatchConverter converter_;
  int depth_;
  LoaderPosition position_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<models::Batch> ready_;
  std::exception_ptr error_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace simscale::train
