"""Log lines and progress in the style of the C++ tools (common/core/log.h, progress.h).

Lines go to stderr as `[HH:MM:SS.mmm level] message`. Progress redraws one bar on a terminal and
prints a line every `line_interval` seconds in a batch log, with rate, elapsed time and ETA.
"""
import datetime
import math
import sys
import time

LEVELS = ("debug", "info", "warn", "error", "off")
_level = 1


def set_level(name):
    """Sets the lowest level printed ("debug", "info", "warn", "error" or "off")."""
    global _level
    _level = LEVELS.index(name)


def _write(level, message):
    if LEVELS.index(level) < _level:
        return
    now = datetime.datetime.now()
    stamp = now.strftime("%H:%M:%S.") + f"{now.microsecond // 1000:03d}"
    sys.stderr.write(f"[{stamp} {level}] {message}\n")
    sys.stderr.flush()


def debug(message):
    _write("debug", message)


def info(message):
    _write("info", message)


def warn(message):
    _write("warn", message)


def error(message):
    _write("error", message)


def format_duration(seconds):
    """"1h02m", "4m05s", "12s" (as Progress::FormatDuration)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class Progress:
    """Progress of long work: `label [#####.....] 3/10 runs (30%), 0.5 runs/s, elapsed 6s, ETA 14s`.

    quiet_below: a run shorter than this many seconds prints nothing at all (plotting a small
    file should not add a progress line to every tool's log).
    """

    def __init__(self, total, label="progress", unit="items", line_interval=10.0,
                 redraw_interval=0.1, terminal=None, quiet_below=0.0, clock=time.monotonic):
        self.total = total
        self.label = label
        self.unit = unit
        self.line_interval = line_interval
        self.redraw_interval = redraw_interval
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self.quiet_below = quiet_below
        self.clock = clock
        self.start = clock()
        self.last_emit = self.start
        self.done = 0
        self.emitted = False
        self.finished = False

    def rate(self):
        elapsed = self.clock() - self.start
        return self.done / elapsed if elapsed > 0 else 0.0

    def eta_seconds(self):
        rate = self.rate()
        if rate <= 0 or self.total <= 0:
            return -1.0
        return max(self.total - self.done, 0) / rate

    def status(self, extra=""):
        elapsed = format_duration(self.clock() - self.start)
        if self.total > 0:
            percent = 100.0 * self.done / self.total
            text = (f"{self.done}/{self.total} {self.unit} ({percent:.0f}%), "
                    f"{self.rate():.3g} {self.unit}/s, elapsed {elapsed}, "
                    f"ETA {format_duration(self.eta_seconds())}")
        else:
            text = f"{self.done} {self.unit}, {self.rate():.3g} {self.unit}/s, elapsed {elapsed}"
        return f"{text}, {extra}" if extra else text

    def _emit(self, extra, final):
        self.emitted = True
        if self.terminal:
            width = 30
            fraction = min(max(self.done / self.total, 0.0), 1.0) if self.total > 0 else 0.0
            filled = int(fraction * width)
            bar = "#" * filled + "." * (width - filled)
            sys.stderr.write(f"\r\033[K{self.label} [{bar}] {self.status(extra)}"
                             f"{chr(10) if final else ''}")
            sys.stderr.flush()
        else:
            info(f"{self.label}: {self.status(extra)}{' (done)' if final else ''}")

    def update(self, done, extra=""):
        """`done` is the absolute count so far; `extra` is appended to the line."""
        self.done = done
        if self.finished:
            return
        now = self.clock()
        interval = self.redraw_interval if self.terminal else self.line_interval
        if now - self.start < self.quiet_below or now - self.last_emit < interval:
            return
        self.last_emit = now
        self._emit(extra, False)

    def finish(self, extra=""):
        """Prints the final state once, unless the whole run was too short to report."""
        if self.finished:
            return
        self.finished = True
        if self.emitted or self.clock() - self.start >= self.quiet_below:
            self._emit(extra, True)
