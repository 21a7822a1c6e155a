#include "common/train/metrics.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/core/error.h"

namespace simscale::train {
namespace fs = std::filesystem;

namespace {

// The step a line of the file was written at; -1 for the CSV header and unreadable lines.
int64_t StepOfLine(const std::string& line, MetricsFormat format) {
  if (format == MetricsFormat::kCsv) {
    return line.rfind("step,", 0) == 0 ? -1 : std::atoll(line.c_str());
  }
  const auto entry = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (entry.is_object() && entry.contains("step") && entry["step"].is_number_integer()) {
    return entry["step"].get<int64_t>();
  }
  return -1;
}

std::vector<std::string> LinesUpTo(const fs::path& path, MetricsFormat format, int64_t last_step) {
  std::vector<std::string> kept;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const int64_t step = StepOfLine(line, format);
    if (step >= 0 && step <= last_step) kept.push_back(line);
  }
  return kept;
}

}  // namespace

MetricsWriter::MetricsWriter(const fs::path& run_dir, MetricsFormat format, int64_t resumed_step,
                             bool enabled)
    : format_(format), enabled_(enabled) {
  if (!enabled_) return;
  path_ = run_dir / FileName(format);
  std::vector<std::string> kept;
  if (resumed_step > 0 && fs::exists(path_)) kept = LinesUpTo(path_, format, resumed_step);
  fs::create_directories(run_dir);
  file_.open(path_, std::ios::trunc);
  if (format_ == MetricsFormat::kCsv) {
    file_ << "step,loss,lr,grad_norm,samples_per_s,data_wait_share,allreduce_share,skipped,"
             "valid_loss,valid_target_loss\n";
  }
  for (const auto& line : kept) file_ << line << "\n";
  file_.flush();
  CheckWritten();
}

void MetricsWriter::Write(const MetricsLine& l) {
  if (!enabled_) return;
  if (format_ == MetricsFormat::kCsv) {
    const auto optional = [](double v) { return std::isnan(v) ? "" : fmt::format("{:.6g}", v); };
    file_ << fmt::format("{},{:.6g},{:.6g},{:.6g},{:.1f},{:.4f},{:.4f},{},{},{}\n", l.step, l.loss,
                         l.lr, l.grad_norm, l.samples_per_s, l.data_wait_share, l.allreduce_share,
                         l.skipped, optional(l.valid_loss), optional(l.valid_target_loss));
  } else {
    // The CSV's precision (more digits are noise), written as the shortest JSON number.
    const auto significant = [](double v) { return std::stod(fmt::format("{:.6g}", v)); };
    const auto fixed = [](double v, int decimals) {
      return std::stod(fmt::format("{:.{}f}", v, decimals));
    };
    nlohmann::ordered_json line = {{"step", l.step},
                                   {"loss", significant(l.loss)},
                                   {"lr", significant(l.lr)},
                                   {"grad_norm", significant(l.grad_norm)},
                                   {"samples_per_s", fixed(l.samples_per_s, 1)},
                                   {"data_wait_share", fixed(l.data_wait_share, 4)},
                                   {"allreduce_share", fixed(l.allreduce_share, 4)},
                                   {"skipped", l.skipped}};
    if (!std::isnan(l.valid_loss)) line["valid_loss"] = significant(l.valid_loss);
    if (!std::isnan(l.valid_target_loss)) {
      line["valid_target_loss"] = significant(l.valid_target_loss);
    }
    file_ << line.dump() << "\n";
  }
  file_.flush();
  CheckWritten();
}

// A full disk must stop the run with the path, not lose the metrics without a word.
void MetricsWriter::CheckWritten() {
  if (file_) return;
  throw IoError(fmt::format("cannot write '{}': {}", path_.string(), std::strerror(errno)));
}

const char* MetricsWriter::FileName(MetricsFormat format) {
  return format == MetricsFormat::kCsv ? "metrics.csv" : "metrics.jsonl";
}

MetricsWindow::MetricsWindow(int64_t batch_size) : batch_size_(batch_size) {}

void MetricsWindow::AddStep(double loss, double grad_norm) {
  loss_ += loss;
  grad_norm_ += grad_norm;
  ++steps_;
  last_loss_ = loss;
}

MetricsLine MetricsWindow::Close() {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  MetricsLine line;
  line.loss = loss_ / steps_;
  line.grad_norm = grad_norm_ / steps_;
  line.samples_per_s = static_cast<double>(steps_ * batch_size_) / elapsed;
  line.data_wait_share = data_wait_ / elapsed;
  line.allreduce_share = allreduce_ / elapsed;
  total_data_wait_ += data_wait_;
  total_allreduce_ += allreduce_;
  loss_ = grad_norm_ = data_wait_ = allreduce_ = 0.0;
  steps_ = 0;
  start_ = Clock::now();
  return line;
}

}  // namespace simscale::train
