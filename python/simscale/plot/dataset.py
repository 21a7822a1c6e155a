"""`simscale-plot dataset FILE.h5`: what a datagen_mpi dataset holds. Up to four figures:
<stem>_stats (episode lengths, returns, success, per-dimension actions), <stem>_states
(per-dimension observation histograms), <stem>_dr (the randomization values drawn, when they
vary) and <stem>_cameras (a grid of frames, when the file has images)."""
import math
import pathlib

from simscale import console
from simscale.plot import figure, store as store_lib

BINS = 40
# Grids of small histograms: fixed margins in inches (constrained layout is slow with ~40 axes).
GRID_MARGINS = {"left": 0.55, "right": 0.15, "top": 0.55, "bottom": 0.45, "wspace": 0.45,
                "hspace": 0.75}
UNITS = (("joint_vel", "rad/s"), ("joint_pos", "rad"), ("quat", "unit quaternion"),
         ("_pos", "m"), ("_to_", "m"))


DIMENSION_UNITS = {"gripper_state[0]": "opening [0, 1]", "gripper_state[1]": "finger speed m/s"}


def unit_of(name):
    if name in DIMENSION_UNITS:
        return DIMENSION_UNITS[name]
    for fragment, unit in UNITS:
        if fragment in name:
            return unit
    return ""


def _histogram(ax, values, color, label, xlabel, ylabel="steps", small=True, integer=False):
    import numpy as np
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    if integer and hi - lo < BINS:  # one bar per value
        lo, hi, bins = lo - 0.5, hi + 0.5, int(hi - lo) + 1
    else:
        bins = BINS
        if hi - lo < 1e-12:  # a constant: one visible bar around it
            lo, hi = lo - 0.5 * max(abs(lo), 1e-3), hi + 0.5 * max(abs(hi), 1e-3)
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    ax.stairs(counts, edges, fill=True, color=color, alpha=0.85)
    ax.set_ylim(0, 1.08 * max(1, counts.max()))
    ax.set_title(label, **({"fontsize": 8, "fontweight": "normal"} if small else {}))
    ax.set_xlabel(xlabel, fontsize=7 if small else None)
    ax.set_ylabel(ylabel, fontsize=7 if small else None)
    if small:
        ax.tick_params(labelsize=6)
        ax.locator_params(nbins=4)


def _episode_panels(axes, s):
    import numpy as np
    lengths, returns = s.index["length"], s.index["return"]
    _histogram(axes[0], lengths.astype(float), "#1f77b4", "Episode length", "steps", "episodes",
               small=False, integer=True)
    axes[0].axvline(lengths.mean(), color="k", linestyle="--", linewidth=1,
                    label=f"mean {lengths.mean():.1f}")
    axes[0].legend()
    _histogram(axes[1], returns, "#2ca02c", "Episode return", "sum of rewards", "episodes",
               small=False)
    succeeded = int(np.sum(s.index["success"]))
    diverged = int(np.sum(s.index["diverged"]))
    failed = s.episodes - succeeded - diverged
    bars = axes[2].bar(["succeeded", "failed", "diverged"], [succeeded, failed, diverged],
                       color=["#2ca02c", "#d62728", "#7f7f7f"])
    for bar, count in zip(bars, (succeeded, failed, diverged)):
        axes[2].annotate(f"{count} ({100 * count / max(1, s.episodes):.0f} %)",
                         (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                         ha="center", va="bottom", fontsize=8)
    axes[2].set_ylim(0, 1.15 * max(1, s.episodes))
    axes[2].set(title="Success", ylabel="episodes")


def draw_stats(s, output):
    actions, step = s.read_columns(["actions"], s.steps, "dataset")
    actions = actions["actions"]
    names = store_lib.dimension_names(s.env_kwargs.get("action", ""))
    names = names if len(names) == actions.shape[1] else [f"action[{i}]" for i in
                                                          range(actions.shape[1])]
    fig = figure.pyplot().figure(figsize=(13, 7), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.1, 1])
    _episode_panels(top.subplots(1, 3), s)
    cols = max(4, len(names))
    action_axes = bottom.subplots(1, cols, squeeze=False)[0]
    for i, ax in enumerate(action_axes):
        if i >= len(names):
            ax.set_visible(False)
            continue
        _histogram(ax, actions[:, i], "#ff7f0e", names[i], "action units [-1, 1]")
    sampled = f"; histograms of 1 in {step}" if step > 1 else ""
    bottom.suptitle(f"Actions per dimension ({s.steps:,} steps{sampled})", fontsize=10,
                    fontweight="bold")
    fig.suptitle(_title(s))
    return figure.save(fig, output)


def _title(s):
    rate = 100 * float(s.index["success"].mean()) if s.episodes else math.nan
    state = "" if s.complete else ", INCOMPLETE (interrupted run)"
    dr = s.env_kwargs.get("randomization", "?")
    return (f"{s.path.name}: {s.env_name}, {s.episodes:,} episodes, {s.steps:,} steps, "
            f"success {rate:.0f} %, DR '{dr}'{state}")


def _grid(n, cols):
    return max(1, -(-n // cols)), cols


def draw_states(s, output):
    keys = s.lowdim_obs_keys()
    data, step = s.read_columns(keys, s.obs_rows, "dataset")
    panels = []
    for key in keys:
        short = key.split("/", 1)[1]
        names = store_lib.dimension_names(f"{short}[{data[key].shape[1]}]")
        panels += [(names[i], unit_of(names[i]), data[key][:, i]) for i in range(len(names))]
    rows, cols = _grid(len(panels), 7)
    fig, axes = figure.figure(13, 0.6 + 1.7 * rows, rows, cols, fixed_margins=GRID_MARGINS)
    for ax, panel in zip(axes.flat, panels + [None] * (rows * cols - len(panels))):
        if panel is None:
            ax.set_visible(False)
            continue
        name, unit, values = panel
        _histogram(ax, values, "#9467bd", name, unit or "value", "observations")
    sampled = f"; histograms of 1 in {step}" if step > 1 else ""
    fig.suptitle(f"{s.path.name}: observations per dimension (the policy's state; "
                 f"{s.obs_rows:,} rows{sampled})")
    return figure.save(fig, output)


def draw_dr(s, output):
    varying = {k: v for k, v in s.dr.items() if len(v) and float(v.max() - v.min()) > 1e-12}
    if not varying:
        console.info(f"simscale-plot: {s.path.name}: randomization '"
                     f"{s.env_kwargs.get('randomization', '?')}' draws no varying values: "
                     "no DR figure")
        return None
    rows, cols = _grid(len(varying), 6)
    fig, axes = figure.figure(13, 0.6 + 1.7 * rows, rows, cols, fixed_margins=GRID_MARGINS)
    items = list(varying.items()) + [None] * (rows * cols - len(varying))
    for ax, item in zip(axes.flat, items):
        if item is None:
            ax.set_visible(False)
            continue
        _histogram(ax, item[1], "#17becf", item[0], "value drawn (scale or offset)", "episodes")
    fig.suptitle(f"{s.path.name}: domain-randomization values drawn per episode "
                 f"(condition '{s.env_kwargs.get('randomization', '?')}', "
                 f"{len(varying)} of {len(s.dr)} vary)")
    return figure.save(fig, output)


def _frame_rows(s, cameras, frames=6):
    """(camera, episode, [(t, obs_row)]) for evenly spaced episodes and steps."""
    episodes = 4 if len(cameras) == 1 else max(2, 6 // len(cameras))
    picks = sorted({round(i * (s.episodes - 1) / max(1, episodes - 1))
                    for i in range(min(episodes, s.episodes))})
    rows = []
    for camera in cameras:
        for e in picks:
            length = int(s.index["length"][e])
            ts = sorted({round(j * length / (frames - 1)) for j in range(frames)})
            rows.append((camera, e, [(t, int(s.index["start_obs"][e]) + t) for t in ts]))
    return rows


def draw_cameras(s, output, frames=6):
    cameras = s.image_keys()
    if not cameras or s.episodes == 0:
        return None
    rows = _frame_rows(s, cameras, frames=frames)
    fig, axes = figure.figure(1.0 + 1.7 * frames, 0.7 + 1.75 * len(rows), len(rows), frames)
    progress = console.Progress(len(rows) * frames, label="dataset frames", unit="frames",
                                quiet_below=3.0)
    for r, (camera, episode, picks) in enumerate(rows):
        for c in range(frames):
            ax = axes[r][c]
            ax.grid(False)
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(picks):
                ax.set_visible(False)
                continue
            t, obs_row = picks[c]
            ax.imshow(s.frame(camera, obs_row), interpolation="nearest")
            ax.set_title(f"t = {t}", fontsize=8, fontweight="normal")
            progress.update(r * frames + c + 1)
        outcome = "success" if s.index["success"][episode] else "failure"
        axes[r][0].set_ylabel(f"{camera.split('/', 1)[1].removesuffix('_image')}\n"
                              f"episode {episode}\n({outcome})", fontsize=8)
    progress.finish()
    size = s.layout["obs_columns"][[c["name"] for c in s.layout["obs_columns"]].index(
        cameras[0])]["row_shape"]
    fig.suptitle(f"{s.path.name}: camera frames ({size[0]}x{size[1]} px), steps spread over "
                 "each episode")
    return figure.save(fig, output)


def draw(path, output=None, fmt="png"):
    """Every figure of the dataset; returns the files written."""
    s = store_lib.Store(path)
    if s.episodes == 0:
        from simscale.plot.inputs import InputError
        raise InputError(f"'{path}' holds no committed episode yet")
    stats = figure.output_path(output, pathlib.Path(path).with_name(
        pathlib.Path(path).stem + "_stats"), fmt)
    base = stats.with_name(stats.name.replace("_stats.", ".", 1))
    written = [draw_stats(s, stats), draw_states(s, figure.companion(base, "states")),
               draw_dr(s, figure.companion(base, "dr")),
               draw_cameras(s, figure.companion(base, "cameras"))]
    return [w for w in written if w is not None]
