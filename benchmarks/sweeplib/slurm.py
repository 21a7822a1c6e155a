"""A sweep as a Slurm job array: one array task per grid point (its repeats run inside it, with
srun), then a gathering job that waits for the whole array (afterany) and writes the CSV and
figure. --wait follows the jobs from the submitting shell."""
import pathlib
import subprocess
import time

from simscale import console
from sweeplib import plan as plan_lib

TASK = """#!/usr/bin/env bash
# One point of the {kind} sweep in {out} (written by benchmarks/sweep).
set -euo pipefail
exec /usr/bin/python3 {sweep} run-point {out} "$SLURM_ARRAY_TASK_ID"
"""
GATHER = """#!/usr/bin/env bash
# Gathers the {kind} sweep in {out} once every array task has ended.
set -euo pipefail
exec /usr/bin/python3 {sweep} gather {out}
"""


def sbatch(argv):
    result = subprocess.run(["sbatch", "--parsable", *argv], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"sweep: sbatch {' '.join(argv)} failed: {result.stderr.strip()}")
    return result.stdout.strip().split(";")[0]


def write_script(path, template, plan):
    sweep = pathlib.Path(plan["root"]) / "benchmarks" / "sweep"
    path.write_text(template.format(kind=plan["kind"], out=plan["out"], sweep=sweep),
                    encoding="utf-8")
    return path


def submit(plan, sbatch_args):
    """Submits the array and the gathering job; returns their ids."""
    out = pathlib.Path(plan["out"])
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    ranks = max(int(p["ranks"]) for p in plan["points"])
    common = [f"--job-name=sweep-{plan['kind']}", f"--chdir={plan['root']}", *sbatch_args]
    array = sbatch([*common, f"--array=0-{len(plan['points']) - 1}", f"--ntasks={ranks}",
                    f"--output={logs}/point-%a.out",
                    str(write_script(out / "point.sbatch", TASK, plan))])
    gather = sbatch([*common, "--ntasks=1", f"--dependency=afterany:{array}",
                     "--kill-on-invalid-dep=yes", f"--output={logs}/gather.out",
                     str(write_script(out / "gather.sbatch", GATHER, plan))])
    console.info(f"sweep {plan['kind']}: {len(plan['points'])} points as array job {array} "
                 f"({ranks} task(s) each), gathered by job {gather} into {out}/{plan['kind']}.csv")
    return array, gather


def pending(job_ids):
    result = subprocess.run(["squeue", "-h", "-o", "%i %T", "-j", ",".join(job_ids)],
                            capture_output=True, text=True)
    return result.stdout.split("\n") if result.stdout.strip() else []


def wait(plan, array, gather, poll=1.0):
    """Polls until the gathering job has ended; progress in points done."""
    total = len(plan["points"])
    progress = console.Progress(total, label=f"sweep {plan['kind']} (Slurm)", unit="points",
                                line_interval=10.0)
    while True:
        jobs = pending([array, gather])
        done = sum(plan_lib.point_file(plan, p["index"]).exists() for p in plan["points"])
        running = sum(" RUNNING" in j for j in jobs)
        progress.update(done, f"{running} job(s) running, {len(jobs)} queued or running")
        if not jobs:
            break
        time.sleep(poll)
    progress.finish()
