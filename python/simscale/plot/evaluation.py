"""`simscale-plot eval RESULTS_DIR...`: success with 95 % intervals per policy x condition (bars,
one panel per env) and, when more than one condition was evaluated, the transfer matrix (success
per policy and condition as a heatmap)."""
import pathlib

from simscale.plot import figure, inputs


def policy_label(policy):
    """"scripted", "random", or a checkpoint/run directory's name."""
    return pathlib.Path(policy.rstrip("/")).name or policy


def read_results(results_dir):
    """[{env, policy, condition, successes, episodes, rate, low, high}] of one evaluate output."""
    results_dir = inputs.directory(results_dir, "an evaluate output directory")
    path = results_dir / "results.json"
    if not path.exists():
        raise inputs.InputError(f"'{results_dir}' has no results.json: not an evaluate output "
                                "directory (evaluate --output DIR writes it)")
    data = inputs.read_json(path, "evaluate's results.json")
    if not isinstance(data, dict) or "env" not in data or "policy" not in data:
        raise inputs.InputError(f"'{path}' is not evaluate's results.json (no env / policy)")
    conditions = data.get("conditions") or {data.get("condition", "clean"): data}
    return [_entry(data, name, metrics) for name, metrics in conditions.items()]


def _entry(data, condition, m):
    low, high = m.get("success_rate_ci95", [m["success_rate"], m["success_rate"]])
    return {"env": data["env"], "policy": policy_label(data["policy"]), "condition": condition,
            "successes": m["successes"], "episodes": m["episodes"],
            "rate": 100 * m["success_rate"], "low": 100 * low, "high": 100 * high}


def _ordered(values):
    return list(dict.fromkeys(values))


def policy_order(policies):
    """The scripted expert first, learned policies by name, the random baseline last."""
    def rank(name):
        return (0 if name == "scripted" else 2 if name == "random" else 1, name)
    return sorted(_ordered(policies), key=rank)


def policy_colors(policies):
    learned = iter(c for c in figure.RUN_COLORS * 2 if c not in ("#2ca02c", "#7f7f7f", "#d62728"))
    return {p: "#2ca02c" if p == "scripted" else "#7f7f7f" if p == "random" else next(learned)
            for p in policies}


def _bar(ax, x, width, e, color):
    ax.bar(x, e["rate"], width, color=color,
           yerr=[[max(0, e["rate"] - e["low"])], [max(0, e["high"] - e["rate"])]], capsize=3,
           error_kw={"elinewidth": 1, "ecolor": "0.2"})
    ax.text(x, e["high"] + 1.5, f"{e['rate']:.0f}", ha="center", va="bottom", fontsize=7)


def _bars(ax, entries, policies, colors):
    """Grouped by condition (a bar per policy), or, with one condition, a bar per policy."""
    conditions = _ordered(e["condition"] for e in entries)
    if len(conditions) == 1:
        for x, policy in enumerate(policies):
            _bar(ax, x, 0.7, next(e for e in entries if e["policy"] == policy), colors[policy])
        ax.set_xticks(range(len(policies)), policies)
        ax.set_xlabel(f"policy (condition '{conditions[0]}')")
    else:
        width = 0.8 / max(1, len(policies))
        for p, policy in enumerate(policies):
            for c, condition in enumerate(conditions):
                match = [e for e in entries if (e["policy"], e["condition"]) == (policy, condition)]
                if match:
                    _bar(ax, c - 0.4 + width * (p + 0.5), width * 0.92, match[0], colors[policy])
        ax.set_xticks(range(len(conditions)), conditions, rotation=30 if len(conditions) > 4 else 0)
        ax.set_xlabel("randomization condition")
    ax.set_ylim(0, 125 if len(conditions) > 1 and len(policies) > 1 else 110)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("success (% of episodes)")
    ax.grid(axis="x", visible=False)


def draw_bars(entries, output):
    envs = _ordered(e["env"] for e in entries)
    policies = policy_order(e["policy"] for e in entries)
    colors = policy_colors(policies)
    conditions = len(_ordered(e["condition"] for e in entries))
    panel = max(4.0, min(16, 1.2 + (0.35 * conditions + 0.3) * len(policies)))
    fig, axes = figure.figure(max(6.5, min(panel * len(envs), 18)), 4.8, 1, len(envs))
    for ax, env in zip(axes[0], envs):
        mine = [e for e in entries if e["env"] == env]
        _bars(ax, mine, [p for p in policies if any(e["policy"] == p for e in mine)], colors)
        episodes = sorted({e["episodes"] for e in mine})
        ax.set_title(f"{env} ({'/'.join(map(str, episodes))} episodes per bar)")
    if conditions > 1 and len(policies) > 1:
        from matplotlib.patches import Patch
        axes[0][0].legend([Patch(color=colors[p]) for p in policies], policies,
                          loc="upper center", ncols=min(4, len(policies)), fontsize=7)
    who = f" of {policies[0]}" if len(policies) == 1 else ""
    fig.suptitle(f"Evaluation{who}: success with 95 % Wilson intervals")
    return figure.save(fig, output)


def draw_transfer(entries, output):
    import numpy as np
    rows = _ordered((e["env"], e["policy"]) for e in entries)
    conditions = _ordered(e["condition"] for e in entries)
    grid = np.full((len(rows), len(conditions)), np.nan)
    for e in entries:
        grid[rows.index((e["env"], e["policy"])), conditions.index(e["condition"])] = e["rate"]
    fig, axes = figure.figure(max(7, 2.5 + 0.95 * len(conditions)), 1.8 + 0.55 * len(rows))
    ax = axes[0][0]
    ax.grid(False)
    cmap = figure.pyplot().get_cmap("RdYlGn").copy()
    cmap.set_bad("0.9")
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=100, aspect="auto")
    for (r, c), value in np.ndenumerate(grid):
        if np.isfinite(value):
            ax.text(c, r, f"{value:.0f}", ha="center", va="center", fontsize=9,
                    color="black" if 25 < value < 85 else "white")
    ax.set_xticks(range(len(conditions)), conditions, rotation=35, ha="right")
    ax.set_yticks(range(len(rows)), [f"{env} / {policy}" for env, policy in rows])
    ax.set_xlabel("randomization condition")
    fig.colorbar(image, ax=ax, label="success (% of episodes)", shrink=0.9)
    fig.suptitle("Transfer matrix: success per policy and condition")
    return figure.save(fig, output)


def draw(results_dirs, output=None, fmt="png"):
    entries = [e for d in results_dirs for e in read_results(d)]
    default = (pathlib.Path(results_dirs[0]) / "success" if len(results_dirs) == 1
               else pathlib.Path("evaluation"))
    bars = figure.output_path(output, default, fmt)
    written = [draw_bars(entries, bars)]
    if len(_ordered(e["condition"] for e in entries)) > 1:
        stem = "transfer" if bars.stem == "success" else bars.stem + "_transfer"
        written.append(draw_transfer(entries, bars.with_name(stem + bars.suffix)))
    return written
