"""`simscale-plot ppo RUN_DIR...`: ppo_vec's learning curves against env steps."""
import math
import pathlib

from simscale.plot import curves, figure, inputs

KEYS = ("update", "global_step", "episode_return", "success_rate", "episode_length", "entropy",
        "approx_kl", "sps")
PANELS = (  # key, title, y label, scale
    ("episode_return", "Episode return", "mean return of finished episodes", 1.0),
    ("success_rate", "Success", "% of finished episodes", 100.0),
    ("episode_length", "Episode length", "steps", 1.0),
    ("entropy", "Policy entropy", "entropy (nats)", 1.0),
    ("approx_kl", "Approximate KL", "KL(old || new) per update", 1.0),
    ("sps", "Throughput", "env steps / s (all ranks, per update)", 1.0),
)


def read_run(run_dir):
    run_dir = inputs.directory(run_dir, "a ppo_vec run directory")
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        holds = "metrics.csv" if (run_dir / "metrics.csv").exists() else "no metrics"
        raise inputs.InputError(f"'{run_dir}' has no metrics.jsonl: it holds {holds} (a train_ddp "
                                "run? use `simscale-plot train`)")
    rows = inputs.read_jsonl(path)
    if rows and "global_step" not in rows[0]:
        raise inputs.InputError(f"'{run_dir}/metrics.jsonl' has no global_step: not a ppo_vec run "
                                "(a train_ddp run? use `simscale-plot train`)")
    if not rows:
        raise inputs.InputError(f"'{path}' holds no update yet")
    return inputs.columns(rows, KEYS)


def title(runs):
    if len(runs) > 1:
        return f"ppo_vec: {len(runs)} runs"
    name, m = runs[0][1]
    success = [v for v in m["success_rate"] if math.isfinite(v)]
    steps = int(m["global_step"][-1])
    text = f"ppo_vec: {name} ({len(m['update'])} updates, {steps:,} env steps"
    return text + (f", last success {100 * success[-1]:.0f} %)" if success else ")")


def draw(run_dirs, output=None, fmt="png"):
    names = [inputs.run_name(d, run_dirs) for d in run_dirs]
    runs = [(figure.RUN_COLORS[i % len(figure.RUN_COLORS)], (names[i], read_run(d)))
            for i, d in enumerate(run_dirs)]
    fig, axes = figure.figure(13, 7, 2, 3)
    for ax, (key, panel_title, ylabel, scale) in zip(axes.flat, PANELS):
        for color, (_, m) in runs:
            curves.plot_series(ax, m["global_step"], [v * scale for v in m[key]], color)
        ax.set(title=panel_title, xlabel="env steps (all ranks)", ylabel=ylabel)
        curves.count_axis(ax)
    axes[0][1].set_ylim(-3, 103)
    if _wide(runs, "approx_kl"):
        axes[1][1].set_yscale("log")
    fig.suptitle(title(runs))
    if len(runs) > 1:
        figure.run_legend(axes[0][0], [(c, n) for c, (n, _) in runs])
    default = pathlib.Path(run_dirs[0]) / "curves" if len(run_dirs) == 1 else "ppo_curves"
    return [figure.save(fig, figure.output_path(output, default, fmt))]


def _wide(runs, key):
    values = [v for _, (_, m) in runs for v in m[key] if math.isfinite(v) and v > 0]
    return bool(values) and max(values) > 100 * min(values)
