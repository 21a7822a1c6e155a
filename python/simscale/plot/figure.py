"""Matplotlib set-up, the house style, and where figures are written."""
import os
import pathlib

from simscale import console

DPI = 100
FORMATS = ("png", "svg")
RUN_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
              "#17becf", "#7f7f7f", "#bcbd22")


class MissingDependency(Exception):
    """matplotlib (or h5py) is not installed: plotting is unavailable, not a bad input."""


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed), styled."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise MissingDependency(
            f"matplotlib is not available ({e}); on Debian: apt-get install python3-matplotlib "
            "(scripts/setup.sh installs it)") from e
    plt.rcParams.update({
        "figure.dpi": DPI, "savefig.dpi": DPI, "font.size": 9, "axes.titlesize": 10,
        "axes.titleweight": "bold", "axes.labelsize": 9, "legend.fontsize": 8,
        "figure.titlesize": 12, "figure.titleweight": "bold", "axes.grid": True,
        "grid.alpha": 0.3, "axes.prop_cycle": plt.cycler(color=RUN_COLORS),
        "svg.hashsalt": "simscale", "axes.formatter.useoffset": False,
    })
    return plt


def figure(width, height, rows=1, cols=1, fixed_margins=None, **kwargs):
    """A figure of width x height inches (the file is exactly that x DPI pixels) with a grid of
    axes, laid out by matplotlib's constrained layout, or, for grids of many small panels where
    that is slow, with `fixed_margins` = dict(left=..., right=..., top=..., bottom=...,
    wspace=..., hspace=...) in inches."""
    plt = pyplot()
    if fixed_margins is None:
        return plt.subplots(rows, cols, figsize=(width, height), layout="constrained",
                            squeeze=False, **kwargs)
    m = fixed_margins
    fig, axes = plt.subplots(rows, cols, figsize=(width, height), squeeze=False, **kwargs)
    fig.subplots_adjust(left=m["left"] / width, right=1 - m["right"] / width,
                        bottom=m["bottom"] / height, top=1 - m["top"] / height,
                        wspace=m["wspace"], hspace=m["hspace"])
    return fig, axes


def output_path(requested, default, fmt):
    """The file to write: `requested` (its extension chooses the format) or `default` with the
    extension of `fmt`."""
    if requested:
        path = pathlib.Path(requested)
        if path.suffix.lstrip(".").lower() in FORMATS:
            return path
        return path.with_name(path.name + "." + fmt)
    return pathlib.Path(default).with_suffix("." + fmt)


def companion(path, suffix):
    """A second figure beside `path`: reach_stats.png -> reach_stats_<suffix>.png."""
    path = pathlib.Path(path)
    return path.with_name(f"{path.stem}_{suffix}{path.suffix}")


def save(fig, path):
    """Writes the figure (format from the extension) atomically and logs where it went."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fig.savefig(partial, format=path.suffix.lstrip(".").lower(), dpi=DPI,
                metadata={"Software": "simscale-plot"} if path.suffix == ".png" else None)
    os.replace(partial, path)
    pyplot().close(fig)
    console.info(f"simscale-plot: wrote {path}")
    return path


def run_legend(ax, colored_names, extra=(), loc="best"):
    """A legend with a colour per run, then `extra` (handle, label) pairs (line styles)."""
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=color, linewidth=2) for color, _ in colored_names]
    labels = [name for _, name in colored_names]
    ax.legend(handles + [h for h, _ in extra], labels + [l for _, l in extra], loc=loc)


def no_data(ax, text):
    """An axes that says why it is empty instead of drawing nothing."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4",
            wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
