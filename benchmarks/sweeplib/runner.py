"""Running one grid point: its repeats, one after the other, under mpirun (local) or srun (inside
a Slurm array task), and the record of what was measured where (points/NNNN.json)."""
import json
import os
import pathlib
import shutil
import subprocess
import time

from sweeplib import machine, plan as plan_lib


class RunFailed(Exception):
    """A tool run exited non-zero or printed no metrics."""


def launcher(plan, ranks):
    if plan["launcher"] == "srun":  # inside the array task's allocation
        return ["srun", "--mpi=pmix", "-n", str(ranks)]
    return ["mpirun", "--allow-run-as-root", "--oversubscribe", "-n", str(ranks)]


def command(kind, plan, point, scratch):
    argv, env = kind.command(point, plan["params"], scratch)
    for setting in plan["params"].get("set", []):
        argv += ["--set", setting]
    if kind.run_options:
        argv += ["--log.level", "warn", "--plots", "false"]
    tool = pathlib.Path(plan["build"]) / "bin" / kind.tool
    return launcher(plan, point["ranks"]) + [str(tool)] + argv, env


def run_once(kind, plan, point, scratch):
    argv, env = command(kind, plan, point, scratch)
    result = subprocess.run(argv, capture_output=True, text=True, cwd=plan["root"],
                            env={**os.environ, **env})
    if result.returncode != 0:
        raise RunFailed(f"exit {result.returncode}: {' '.join(argv)}\n"
                        f"{(result.stdout + result.stderr)[-3000:]}")
    try:
        return kind.metrics(result.stdout, scratch, point, plan["params"])
    except (ValueError, KeyError, OSError) as e:
        raise RunFailed(f"no metrics ({e}) from: {' '.join(argv)}\n{result.stdout[-2000:]}") from e


def run_point(kind, plan, index, on_run=None):
    """Runs every repeat of point `index` and writes its record; on_run(metrics) after each."""
    point = plan["points"][index]
    scratch = pathlib.Path(plan["out"]) / "scratch" / f"{index:04d}"
    record = {"index": index, "point": point, "machine": machine.describe(plan["root"]),
              "load_avg": machine.load_average(), "started": time.strftime("%Y-%m-%d %H:%M"),
              "runs": []}
    for _ in range(plan["repeats"]):
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        record["runs"].append(run_once(kind, plan, point, scratch))
        if on_run:
            on_run(record["runs"][-1])
    shutil.rmtree(scratch, ignore_errors=True)
    record["load_avg_end"] = machine.load_average()
    path = plan_lib.point_file(plan, index)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return record
