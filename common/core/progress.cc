#include "common/core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "common/core/log.h"

namespace simscale {

Progress::Progress(int64_t total, Options options, Writer writer, NowFn now)
    : total_(total),
      options_(std::move(options)),
      writer_(std::move(writer)),
      now_(std::move(now)) {
  if (!now_) now_ = [] { return Clock::now(); };
  switch (options_.mode) {
    case Options::Mode::kTerminal:
      terminal_ = true;
      break;
    case Options::Mode::kLines:
      terminal_ = false;
      break;
    case Options::Mode::kAuto:
      terminal_ = isatty(STDERR_FILENO) != 0;
      break;
  }
  if (!writer_) {
    writer_ = [](std::string_view text, bool is_terminal) {
      if (is_terminal) {
        std::fwrite(text.data(), 1, text.size(), stderr);
        std::fflush(stderr);
      } else {
        log::Info("{}", text);
      }
    };
  }
  start_ = now_();
  last_emit_ = start_;
}

Progress::~Progress() {
  if (!finished_ && options_.enabled && done_ > 0) Finish();
}

double Progress::rate() const {
  const double elapsed = std::chrono::duration<double>(now_() - start_).count();
  return elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
}

double Progress::eta_seconds() const {
  const double r = rate();
  if (r <= 0 || total_ <= 0) return -1.0;
  return static_cast<double>(std::max<int64_t>(total_ - done_, 0)) / r;
}

std::string Progress::FormatDuration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return "?";
  const auto s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string Progress::StatusText(std::string_view extra) const {
  const double elapsed = std::chrono::duration<double>(now_() - start_).count();
  std::string text;
  if (total_ > 0) {
    const double percent = 100.0 * static_cast<double>(done_) / static_cast<double>(total_);
    text = fmt::format("{}/{} {} ({:.0f}%), {:.3g} {}/s, elapsed {}, ETA {}", done_, total_,
                       options_.unit, percent, rate(), options_.unit, FormatDuration(elapsed),
                       FormatDuration(eta_seconds()));
  } else {
    text = fmt::format("{} {}, {:.3g} {}/s, elapsed {}", done_, options_.unit, rate(),
                       options_.unit, FormatDuration(elapsed));
  }
  if (!extra.empty()) text += fmt::format(", {}", extra);
  return text;
}

void Progress::Emit(std::string_view extra, bool final_line) {
  if (terminal_) {
    constexpr int kWidth = 30;
    const double fraction =
        total_ > 0 ? std::clamp(static_cast<double>(done_) / static_cast<double>(total_), 0.0, 1.0)
                   : 0.0;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(kWidth - filled), '.');
    // \r + clear-to-end-of-line redraws in place; the final state ends the line.
    writer_(fmt::format("\r\033[K{} [{}] {}{}", options_.label, bar, StatusText(extra),
                        final_line ? "\n" : ""),
            true);
  } else {
    writer_(fmt::format("{}: {}{}", options_.label, StatusText(extra), final_line ? " (done)" : ""),
            false);
  }
}

void Progress::Update(int64_t done, std::string_view extra) {
  done_ = done;
  if (!options_.enabled || finished_) return;
  const auto now = now_();
  const auto interval = terminal_ ? options_.redraw_interval : options_.line_interval;
  if (now - last_emit_ < interval) return;
  last_emit_ = now;
  Emit(extra, false);
}

void Progress::Finish(std::string_view extra) {
  if (finished_) return;
  finished_ = true;
  if (!options_.enabled) return;
  Emit(extra, true);
}

}  // namespace simscale
