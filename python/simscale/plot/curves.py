"""Helpers shared by the curve figures (train, ppo)."""
import math


def finite_pairs(xs, ys):
    """The (x, y) pairs where both are finite, as two lists."""
    pairs = [(x, y) for x, y in zip(xs, ys) if math.isfinite(x) and math.isfinite(y)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def moving_average(ys, half_window):
    """Centred mean over up to 2 * half_window + 1 points (no lag; narrower at the ends)."""
    prefix = [0.0]
    for y in ys:
        prefix.append(prefix[-1] + y)
    out = []
    for i in range(len(ys)):
        half = min(half_window, i, len(ys) - 1 - i)
        out.append((prefix[i + half + 1] - prefix[i - half]) / (2 * half + 1))
    return out


def plot_series(ax, xs, ys, color, label=None, smooth_above=150, **style):
    """A curve; a long noisy one is drawn faint with its moving average on top. Returns whether
    anything was drawn."""
    xs, ys = finite_pairs(xs, ys)
    if not xs:
        return False
    if len(ys) > smooth_above:
        ax.plot(xs, ys, color=color, alpha=0.25, linewidth=0.8, **style)
        ys = moving_average(ys, max(2, len(ys) // 40))
    marker = "o" if len(xs) < 3 else None  # a line of one point would not show
    ax.plot(xs, ys, color=color, label=label, linewidth=1.6, marker=marker, **style)
    return True


def use_log_scale(ax, values):
    """Log y-scale when the positive values span more than a factor of 30."""
    positive = [v for v in values if math.isfinite(v) and v > 0]
    if len(positive) == len([v for v in values if math.isfinite(v)]) and positive and \
            max(positive) > 30 * min(positive):
        ax.set_yscale("log")


def count_label(value, _position=None):
    """20000 -> "20k", 1500000 -> "1.5M" (tick labels of step counts)."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def count_axis(ax):
    from matplotlib.ticker import FuncFormatter
    ax.xaxis.set_major_formatter(FuncFormatter(count_label))
