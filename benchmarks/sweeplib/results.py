"""Gathering a sweep: the points' records -> one CSV row per point (medians of the repeats,
parallel efficiency against the series' smallest rank count, machine metadata) -> the figure."""
import csv
import json
import math
import pathlib
import statistics
import subprocess

from simscale import console
from sweeplib import kinds, plan as plan_lib

HEAD = ("sweep", "series", "ranks")
RESULT = ("repeats", "throughput", "throughput_min", "throughput_max", "unit", "speedup",
          "efficiency")
META = ("load_avg", "load_avg_end", "host", "cpu_model", "cores", "openmpi", "hdf5", "mujoco",
        "libtorch", "git", "started")


def median_metrics(runs):
    """Median of every numeric metric over the repeats; other values from the first run."""
    out = {}
    for key, value in runs[0].items():
        if isinstance(value, (int, float)):
            out[key] = statistics.median(r[key] for r in runs)
        else:
            out[key] = value
    out["throughput_min"] = min(r["throughput"] for r in runs)
    out["throughput_max"] = max(r["throughput"] for r in runs)
    return out


def row_of(kind, record):
    point = record["point"]
    row = {"sweep": kind.name, "series": plan_lib.series_label(kind, point),
           "ranks": int(point["ranks"]), "repeats": len(record["runs"]), "unit": kind.unit}
    row.update({a: point[a] for a in kind.axes if a != "ranks"})
    row.update(median_metrics(record["runs"]))
    row.update(record["machine"])
    row.update({k: record.get(k, "") for k in ("load_avg", "load_avg_end", "started")})
    return row


def add_efficiency(rows):
    """Speed-up and efficiency against each series' smallest rank count."""
    for series in {r["series"] for r in rows}:
        mine = [r for r in rows if r["series"] == series]
        base = min(mine, key=lambda r: r["ranks"])
        for r in mine:
            r["speedup"] = r["throughput"] / base["throughput"] if base["throughput"] else math.nan
            r["efficiency"] = 100 * r["speedup"] * base["ranks"] / r["ranks"]


def read_records(plan):
    records, missing = [], []
    for point in plan["points"]:
        path = plan_lib.point_file(plan, point["index"])
        if path.exists():
            records.append(json.loads(path.read_text(encoding="utf-8")))
        else:
            missing.append(point["index"])
    return records, missing


def write_csv(kind, rows, path):
    axes = [a for a in kind.axes if a != "ranks"]
    fixed = set(HEAD) | set(RESULT) | set(META) | set(axes)
    metrics = sorted({k for r in rows for k in r} - fixed - {"index"})
    columns = list(HEAD) + axes + list(RESULT) + metrics + list(META)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v
                             for k, v in row.items()})
    return path


def plot(plan, csv_path):
    """The figure beside the CSV; a missing matplotlib only costs the figure."""
    command = [str(pathlib.Path(plan["root"]) / "scripts" / "simscale-plot"), "sweep",
               str(csv_path), "--log-level", "warn"]
    if subprocess.run(command).returncode != 0:
        console.warn(f"sweep: no figure for {csv_path} (simscale-plot failed)")
        return None
    return pathlib.Path(csv_path).with_suffix(".png")


def gather(plan):
    """Writes <out>/<kind>.csv and .png from the points done; returns (csv, missing points)."""
    kind = kinds.KINDS[plan["kind"]]
    records, missing = read_records(plan)
    if missing:
        console.warn(f"sweep: {len(missing)} of {len(plan['points'])} points have no result "
                     f"(indices {missing}); see the logs in {plan['out']}/logs")
    if not records:
        return None, missing
    rows = [row_of(kind, r) for r in records]
    add_efficiency(rows)
    csv_path = write_csv(kind, rows, pathlib.Path(plan["out"]) / f"{kind.name}.csv")
    png = plot(plan, csv_path)
    console.info(f"sweep {kind.name}: {len(rows)} points -> {csv_path}"
                 + (f", {png}" if png else ""))
    return csv_path, missing
