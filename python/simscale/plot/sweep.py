"""`simscale-plot sweep CSV`: throughput and parallel efficiency against ranks, one line per
series of a benchmarks/sweep CSV, with the ideal (linear) line; a sweep at one rank count is
drawn as bars per series."""
import math
import pathlib

from simscale.plot import figure, inputs

REQUIRED = ("sweep", "series", "ranks", "throughput", "unit")


def read_sweep(path):
    path = inputs.existing(path, "a CSV written by benchmarks/sweep")
    if path.is_dir():
        raise inputs.InputError(f"'{path}' is a directory, not a sweep CSV")
    try:
        rows = inputs.read_csv(path)
    except UnicodeDecodeError as e:
        raise inputs.InputError(f"'{path}' is not a text CSV file: {e}") from e
    missing = [k for k in REQUIRED if not rows or k not in rows[0]]
    if missing:
        raise inputs.InputError(f"'{path}' is not a benchmarks/sweep CSV (no column "
                                f"{', '.join(missing)}; or no rows)")
    return rows


def _float(row, key):
    try:
        return float(row.get(key, ""))
    except ValueError:
        return math.nan


def _series(rows):
    """{series label: rows sorted by ranks}."""
    out = {}
    for row in rows:
        out.setdefault(row["series"], []).append(row)
    return {k: sorted(v, key=lambda r: _float(r, "ranks")) for k, v in out.items()}


def _throughput_panel(ax, series, unit, colors):
    for name, rows in series.items():
        ranks = [_float(r, "ranks") for r in rows]
        value = [_float(r, "throughput") for r in rows]
        low = [v - _float(r, "throughput_min") for v, r in zip(value, rows)]
        high = [_float(r, "throughput_max") - v for v, r in zip(value, rows)]
        errors = None if any(math.isnan(x) for x in low + high) else [low, high]
        ax.errorbar(ranks, value, yerr=errors, marker="o", capsize=3, color=colors[name],
                    label=name)
        ax.plot(ranks, [value[0] * r / ranks[0] for r in ranks], "--", color=colors[name],
                alpha=0.6, linewidth=1)
    ax.plot([], [], "--", color="0.4", label="ideal (linear in ranks)")
    ax.set(title="Throughput", xlabel="MPI ranks", ylabel=f"{unit} (median of repeats)")
    ax.set_ylim(bottom=0)


def _efficiency_panel(ax, series, colors):
    for name, rows in series.items():
        ax.plot([_float(r, "ranks") for r in rows], [_float(r, "efficiency") for r in rows],
                marker="o", color=colors[name])
    ax.axhline(100, color="0.4", linestyle="--", linewidth=1, label="ideal")
    ax.set(title="Parallel efficiency", xlabel="MPI ranks",
           ylabel="% of ideal (throughput / (ranks x base))")
    top = max([_float(r, "efficiency") for rows in series.values() for r in rows] + [100])
    ax.set_ylim(0, max(110, top + 10))
    ax.legend(loc="lower left")


def _bars_panel(ax, series, unit, colors):
    names = list(series)
    values = [_float(series[n][0], "throughput") for n in names]
    bars = ax.bar(range(len(names)), values, color=[colors[n] for n in names])
    for bar, value in zip(bars, values):
        ax.annotate(f"{value:.4g}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
    ax.grid(axis="x", visible=False)
    ax.set(title="Throughput", ylabel=f"{unit} (median of repeats)")


def _machine(rows):
    first = rows[0]
    loads = [_float(r, "load_avg") for r in rows if not math.isnan(_float(r, "load_avg"))]
    load = f", load average {min(loads):.1f}-{max(loads):.1f}" if loads else ""
    return f"{first.get('cpu_model', '?')}, {first.get('cores', '?')} cores{load}"


def _rank_axis(axes, rows):
    """Rank counts as ticks; a base-2 log axis when they span a factor of 8 or more."""
    ranks = sorted({_float(r, "ranks") for r in rows})
    for ax in axes:
        if ranks[-1] >= 8 * ranks[0]:
            ax.set_xscale("log", base=2)
            ax.set_xlim(ranks[0] / 1.4, ranks[-1] * 1.4)
        else:
            margin = 0.15 * (ranks[-1] - ranks[0]) + 0.3
            ax.set_xlim(ranks[0] - margin, ranks[-1] + margin)
        ax.set_xticks(ranks, [f"{r:g}" for r in ranks])
        ax.minorticks_off()


def draw(csv_path, output=None, fmt="png"):
    rows = read_sweep(csv_path)
    series = _series(rows)
    colors = {n: figure.RUN_COLORS[i % len(figure.RUN_COLORS)] for i, n in enumerate(series)}
    unit, kind = rows[0]["unit"], rows[0]["sweep"]
    if len({r["ranks"] for r in rows}) > 1:
        fig, axes = figure.figure(12, 5, 1, 2)
        _throughput_panel(axes[0][0], series, unit, colors)
        _efficiency_panel(axes[0][1], series, colors)
        _rank_axis(axes[0], rows)
        axes[0][0].legend(loc="upper left", fontsize=7)
    else:
        fig, axes = figure.figure(max(8, 1.5 + 1.2 * len(series)), 5)
        _bars_panel(axes[0][0], series, unit, colors)
    fig.suptitle(f"{kind} sweep ({unit})\n{_machine(rows)}")
    default = pathlib.Path(csv_path).with_suffix("")
    return [figure.save(fig, figure.output_path(output, default, fmt))]
