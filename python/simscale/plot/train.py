"""`simscale-plot train RUN_DIR...`: train_ddp's curves, several runs overlaid."""
import math
import pathlib

from simscale.plot import curves, figure, inputs

KEYS = ("step", "loss", "valid_loss", "lr", "grad_norm", "samples_per_s", "data_wait_share",
        "allreduce_share")


def read_run(run_dir):
    """{key: [values]} from a train_ddp run directory's metrics.jsonl or metrics.csv."""
    run_dir = inputs.directory(run_dir, "a train_ddp run directory")
    jsonl, csv_path = run_dir / "metrics.jsonl", run_dir / "metrics.csv"
    if jsonl.exists():
        rows = inputs.read_jsonl(jsonl)
    elif csv_path.exists():
        rows = inputs.read_csv(csv_path)
    else:
        raise inputs.InputError(f"'{run_dir}' has no metrics.jsonl or metrics.csv: not a "
                                "train_ddp run directory (train_ddp --output DIR writes them)")
    if rows and "update" in rows[0] and "step" not in rows[0]:
        raise inputs.InputError(f"'{run_dir}' is a ppo_vec run: use `simscale-plot ppo {run_dir}`")
    if not rows or "loss" not in rows[0]:
        raise inputs.InputError(f"'{run_dir}': the metrics file has no training lines yet")
    return inputs.columns(rows, KEYS)


def describe(run_dir):
    """"bc, 3000 steps" from the run's config.yaml, if it can be read."""
    try:
        import yaml
        with open(pathlib.Path(run_dir) / "config.yaml", encoding="utf-8") as f:
            train = (yaml.safe_load(f) or {}).get("train", {})
        return f"{train.get('model', '?')} model, batch {train.get('batch_size', '?')}"
    except Exception:  # noqa: BLE001 -- an unreadable config only shortens the title
        return ""


def _loss_panel(ax, runs):
    for color, (name, m) in runs:
        curves.plot_series(ax, m["step"], m["loss"], color)
        steps, valid = curves.finite_pairs(m["step"], m["valid_loss"])
        if valid:
            ax.plot(steps, valid, "o--", color=color, markersize=4, linewidth=1)
    curves.use_log_scale(ax, [v for _, (_, m) in runs for v in m["loss"]])
    from matplotlib.lines import Line2D
    styles = [(Line2D([], [], color="0.3"), "training (window mean)"),
              (Line2D([], [], color="0.3", marker="o", linestyle="--", markersize=4),
               "validation")]
    names = [(c, n) for c, (n, _) in runs] if len(runs) > 1 else []
    figure.run_legend(ax, names, styles, loc="upper right")
    ax.set(title="Loss", xlabel="optimizer step", ylabel="loss (training objective)")


def _valid_panel(ax, runs):
    drawn = False
    for color, (_, m) in runs:
        steps, valid = curves.finite_pairs(m["step"], m["valid_loss"])
        if valid:
            ax.plot(steps, valid, "o-", color=color, markersize=5)
            drawn = True
    if not drawn:
        figure.no_data(ax, "no validation loss in the metrics\n(the dataset has no mask/valid "
                           "split,\nor the run predates valid_loss in metrics)")
    ax.set(title="Validation loss", xlabel="optimizer step", ylabel="loss on mask/valid")


def _simple_panel(ax, runs, key, title, ylabel, log=False, smooth=True):
    for color, (_, m) in runs:
        curves.plot_series(ax, m["step"], m[key], color,
                           smooth_above=150 if smooth else float("inf"))
    if log:
        curves.use_log_scale(ax, [v for _, (_, m) in runs for v in m[key]])
    ax.set(title=title, xlabel="optimizer step", ylabel=ylabel)


def _shares_panel(ax, runs):
    for color, (_, m) in runs:
        curves.plot_series(ax, m["step"], [100 * v for v in m["data_wait_share"]], color)
        curves.plot_series(ax, m["step"], [100 * v for v in m["allreduce_share"]], color,
                           linestyle=":")
    ax.plot([], [], color="0.3", label="waiting for data")
    ax.plot([], [], ":", color="0.3", label="gradient all-reduce")
    ax.legend(loc="best")
    ax.set_ylim(bottom=0)
    ax.set(title="Time shares", xlabel="optimizer step", ylabel="% of wall time")


def title(run_dirs, runs):
    if len(runs) > 1:
        return f"train_ddp: {len(runs)} runs"
    name, m = runs[0][1]
    last = [v for v in m["loss"] if math.isfinite(v)]
    valid = [v for v in m["valid_loss"] if math.isfinite(v)]
    text = f"train_ddp: {name}"
    details = [d for d in (describe(run_dirs[0]),
                           f"{int(max(m['step']))} steps" if m["step"] else "",
                           f"final loss {last[-1]:.4g}" if last else "",
                           f"validation {valid[-1]:.4g}" if valid else "") if d]
    return text + (" (" + ", ".join(details) + ")" if details else "")


def draw(run_dirs, output=None, fmt="png"):
    metrics = [read_run(d) for d in run_dirs]
    names = [inputs.run_name(d, run_dirs) for d in run_dirs]
    runs = [(figure.RUN_COLORS[i % len(figure.RUN_COLORS)], (names[i], metrics[i]))
            for i in range(len(run_dirs))]
    fig, axes = figure.figure(13, 7, 2, 3)
    _loss_panel(axes[0][0], runs)
    _valid_panel(axes[0][1], runs)
    _simple_panel(axes[0][2], runs, "lr", "Learning rate", "learning rate (AdamW)",
                  smooth=False)
    _simple_panel(axes[1][0], runs, "grad_norm", "Gradient norm", "global L2 norm (before clip)",
                  log=True)
    _simple_panel(axes[1][1], runs, "samples_per_s", "Throughput", "samples / s (all ranks)")
    _shares_panel(axes[1][2], runs)
    fig.suptitle(title(run_dirs, runs))
    default = pathlib.Path(run_dirs[0]) / "curves" if len(run_dirs) == 1 else "train_curves"
    return [figure.save(fig, figure.output_path(output, default, fmt))]
