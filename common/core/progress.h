#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace simscale {

// Reports the progress of long work. On a terminal it redraws one live bar; in a batch log (stderr
// not a terminal, e.g. under Slurm) it prints a line every `line_interval` with the rate and ETA.
// Only the logging rank (rank 0 by default) prints. Cheap to call often: output is throttled.
class Progress {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    std::string label = "progress";
    std::string unit = "items";
    std::chrono::duration<double> line_interval{10.0};   // batch mode
    std::chrono::duration<double> redraw_interval{0.1};  // terminal mode
    // Default: live bar iff stderr is a terminal. Tests force one or the other.
    enum class Mode { kAuto, kTerminal, kLines } mode = Mode::kAuto;
    bool enabled = true;  // false: print nothing (e.g. on ranks other than 0)
  };

  // Where output goes; the default writes to stderr (terminal) or to the logger (lines).
  using Writer = std::function<void(std::string_view text, bool is_terminal)>;
  using NowFn = std::function<Clock::time_point()>;

  Progress(int64_t total, Options options, Writer writer = {}, NowFn now = {});
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // `done` is the absolute count so far (e.g. episodes done over all ranks); `extra` is appended.
  void Update(int64_t done, std::string_view extra = {});
  // Prints the final state once (rate over the whole run). Called by the destructor if needed.
  void Finish(std::string_view extra = {});

  double rate() const;         // units per second since start
  double eta_seconds() const;  // remaining / rate; negative when unknown
  int64_t done() const { return done_; }

  // "1h02m", "4m05s", "12s": for ETAs and elapsed times.
  static std::string FormatDuration(double seconds);

 private:
  std::string StatusText(std::string_view extra) const;
  void Emit(std::string_view extra, bool final_line);

  int64_t total_;
  Options options_;
  Writer writer_;
  NowFn now_;
  bool terminal_ = false;
  bool finished_ = false;
  int64_t done_ = 0;
  Clock::time_point start_;
  Clock::time_point last_emit_;
};

}  // namespace simscale
