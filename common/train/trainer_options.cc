#include "common/train/trainer_options.h"

namespace simscale::train {

const char* ToString(Precision precision) {
  switch (precision) {
    case Precision::kFp32:
      return "fp32";
    case Precision::kBf16:
      return "bf16";
    case Precision::kFp16:
      return "fp16";
  }
  return "?";
}

const char* ToString(AllReduceBackend backend) {
  switch (backend) {
    case AllReduceBackend::kAuto:
      return "auto";
    case AllReduceBackend::kMpi:
      return "mpi";
    case AllReduceBackend::kNccl:
      return "nccl";
  }
  return "?";
}

const char* ToString(MetricsFormat format) {
  switch (format) {
    case MetricsFormat::kJsonl:
      return "jsonl";
    case MetricsFormat::kCsv:
      return "csv";
  }
  return "?";
}

}  // namespace simscale::train
