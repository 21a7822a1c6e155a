"""A sweep's plan: the grid points in order, the fixed parameters, where everything goes. Written
as plan.json into the sweep directory so that Slurm array tasks and the gathering step read the
same plan."""
import itertools
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]  # the repository


def split_values(text):
    return [v.strip() for v in text.split(",") if v.strip()]


def grid(kind, axis_values):
    """Every combination of the axes, ranks varying fastest (so each series' points are
    consecutive and its smallest rank count comes first)."""
    names = [a for a in kind.axes if a != "ranks"] + ["ranks"]
    values = [axis_values.get(a) or kind.axes[a] for a in names]
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]


def series_label(kind, point):
    """The point's series: every axis but ranks that has more than one value in the grid
    ("cameras=none scaling=weak"), or the kind's name when none varies."""
    return " ".join(f"{a}={point[a]}" for a in point.get("_varying", [])) or kind.name


def make_plan(kind, axis_values, params, repeats, build, out, launcher):
    points = grid(kind, axis_values)
    varying = [a for a in kind.axes if a != "ranks" and len({p[a] for p in points}) > 1]
    for i, p in enumerate(points):
        p["_varying"] = varying
        p["index"] = i
    return {"kind": kind.name, "points": points, "params": params, "repeats": repeats,
            "build": str(build), "out": str(out), "launcher": launcher, "root": str(ROOT)}


def save(plan):
    path = pathlib.Path(plan["out"]) / "plan.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan, indent=1) + "\n", encoding="utf-8")
    return path


def load(sweep_dir):
    path = pathlib.Path(sweep_dir) / "plan.json"
    if not path.exists():
        raise SystemExit(f"sweep: '{sweep_dir}' has no plan.json (not a sweep directory)")
    return json.loads(path.read_text(encoding="utf-8"))


def point_file(plan, index):
    return pathlib.Path(plan["out"]) / "points" / f"{index:04d}.json"
