"""benchmarks/sweep: one entry point for the scaling sweeps of the toolkit.

  benchmarks/sweep datagen --ranks 1,2 --repeats 3                 # local, with mpirun
  benchmarks/sweep datagen --ranks 1,2,4 --cameras none,agentview --scaling strong,weak
  benchmarks/sweep train --ranks 1,2 --batch 256,512
  benchmarks/sweep ppo --ranks 1,2 --envs 8,16
  benchmarks/sweep render --image-size 64,128,256 --threads 0,1
  benchmarks/sweep io --ranks 1,2 --batch 1,8,32 --cameras none,agentview
  benchmarks/sweep datagen --ranks 1,2,4,8 --slurm --sbatch-arg=--partition=cpu --wait
  benchmarks/sweep gather runs/sweeps/datagen   # CSV + figure from the points done so far
  benchmarks/sweep tables [--check]             # RESULTS.md tables from benchmarks/results/*.csv

A sweep runs every point of the grid (every combination of the axes) --repeats times and
writes, into --out (default runs/sweeps/KIND): KIND.csv (one row per point: medians of the
repeats, speed-up and parallel efficiency against the series' smallest rank count, CPU model,
cores, load average, library versions, source revision) and KIND.png (simscale-plot sweep).
With --slurm each point is one task of a job array (sbatch --array) and a dependent job gathers
the results.
"""
import argparse
import os
import pathlib
import sys

from simscale import console
from sweeplib import kinds, machine, plan as plan_lib, results, runner, slurm, tables

AXIS_HELP = {"ranks": "MPI rank counts", "cameras": "camera sets: none, agentview, "
             "agentview+wrist, ...", "image_size": "square image sides in pixels",
             "scaling": "strong (fixed total work) and/or weak (fixed work per rank)",
             "batch": "batch sizes (datagen: episodes per rank per round; train: global batch; "
             "io: episodes per rank per round)", "threads": "threads per rank (train: LibTorch; "
             "ppo: env stepping; render: llvmpipe)", "envs": "vectorized envs per rank"}


def add_kind(commands, kind):
    sub = commands.add_parser(kind.name, help=f"sweep {kind.tool} ({kind.unit})",
                              description=(kind.__doc__ or "").strip())
    for axis, default in kind.axes.items():
        sub.add_argument("--" + axis.replace("_", "-"), dest=axis, type=plan_lib.split_values,
                         metavar="A,B,...", help=f"{AXIS_HELP[axis]} (default "
                         f"{','.join(default)})")
    for param, (default, help_text) in kind.params.items():
        sub.add_argument("--" + param, default=default, help=f"{help_text} (default {default!r})")
    sub.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="passed to every run of the tool")
    sub.add_argument("--repeats", type=int, default=3, help="runs per point (median; default 3)")
    sub.add_argument("--build", default="build", help="build directory (default build)")
    sub.add_argument("--out", help=f"sweep directory (default runs/sweeps/{kind.name})")
    sub.add_argument("--slurm", action="store_true", help="submit as a Slurm job array")
    sub.add_argument("--sbatch-arg", action="append", default=[], metavar="ARG",
                     help="extra sbatch option for every job, e.g. --sbatch-arg=--time=30")
    sub.add_argument("--wait", action="store_true", help="with --slurm: wait for the results")


def parser():
    root = argparse.ArgumentParser(prog="benchmarks/sweep", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    root.add_argument("--log-level", choices=console.LEVELS, default="info")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for kind in kinds.KINDS.values():
        add_kind(commands, kind)
    gather = commands.add_parser("gather", help="CSV and figure of a sweep directory")
    gather.add_argument("sweep_dir")
    table = commands.add_parser("tables", help="regenerate the RESULTS.md tables from the CSVs")
    table.add_argument("results_md", nargs="?",
                       default=str(plan_lib.ROOT / "benchmarks" / "RESULTS.md"))
    table.add_argument("--check", action="store_true", help="exit 1 if a table is out of date")
    point = commands.add_parser("run-point", help=argparse.SUPPRESS)
    point.add_argument("sweep_dir")
    point.add_argument("index", type=int)
    return root


def check_axes(kind, values):
    """Integer axes hold positive integers, the others known words."""
    words = {"scaling": ("strong", "weak")}
    for axis, items in values.items():
        for item in items:
            if axis in words and item not in words[axis]:
                raise SystemExit(f"sweep {kind.name}: --{axis} {item}: expected one of "
                                 f"{', '.join(words[axis])}")
            if axis not in ("cameras", "scaling") and not (item.isdigit() and
                                                           (int(item) > 0 or axis == "threads")):
                raise SystemExit(f"sweep {kind.name}: --{axis.replace('_', '-')} {item}: "
                                 "expected a positive integer")


def tool_path(build, kind):
    tool = build / "bin" / kind.tool
    if not tool.exists():
        raise SystemExit(f"sweep {kind.name}: {tool} not found; build it first "
                         f"(cmake --build {build} --target {kind.tool})")
    return tool


def sweep_dataset(build, out):
    """A small pick-and-place dataset for the train sweep (1 rank, a few seconds)."""
    path = out / "dataset.h5"
    console.info(f"sweep train: generating {path} (pass --dataset to train on your own)")
    # datagen_mpi's own progress lines show on stderr while it runs.
    runner.subprocess.run(["mpirun", "--allow-run-as-root", "-n", "1",
                           str(tool_path(build, kinds.KINDS["datagen"])), "--env", "pick_place",
                           "--episodes", "40", "--output", str(path), "--overwrite",
                           "--log.progress_interval", "2", "--plots", "false"], check=True,
                          stdout=runner.subprocess.DEVNULL)
    return str(path)


def new_plan(kind, args):
    build = pathlib.Path(args.build).resolve()
    tool_path(build, kind)
    out = pathlib.Path(args.out or f"runs/sweeps/{kind.name}").resolve()
    for stale in ("points", "scratch"):
        runner.shutil.rmtree(out / stale, ignore_errors=True)
    axis_values = {a: getattr(args, a) for a in kind.axes if getattr(args, a)}
    check_axes(kind, axis_values)
    params = {p: getattr(args, p) for p in kind.params}
    params["set"] = args.set
    for key in ("config", "dataset"):
        if params.get(key):
            params[key] = str(kinds.resolve(params[key], plan_lib.ROOT))
    if kind.name == "train" and not params["dataset"]:
        out.mkdir(parents=True, exist_ok=True)
        params["dataset"] = sweep_dataset(build, out)
    plan = plan_lib.make_plan(kind, axis_values, params, args.repeats, build, out,
                              "srun" if args.slurm else "mpirun")
    plan_lib.save(plan)
    return plan


def warn_if_busy():
    """A busy machine makes noisy numbers: say so before spending the time."""
    load, cores = machine.load_average(), os.cpu_count() or 1
    if load > 0.5 * cores:
        console.warn(f"sweep: the machine is busy (load average {load:.1f} on {cores} cores); "
                     "the results will be noisy (the CSV records the load of every point)")


def run_local(kind, plan):
    warn_if_busy()
    progress = console.Progress(len(plan["points"]) * plan["repeats"], label=f"sweep {kind.name}",
                                unit="runs", line_interval=0.0)
    for point in plan["points"]:
        label = ", ".join(f"{a}={point[a]}" for a in ["ranks", *point["_varying"]])

        def on_run(metrics, label=label):
            progress.update(progress.done + 1,
                            f"{label}: {metrics['throughput']:.4g} {kind.unit}")
        runner.run_point(kind, plan, point["index"], on_run)
    progress.finish()
    return results.gather(plan)


def sweep_command(kind, args):
    plan = new_plan(kind, args)
    if not args.slurm:
        csv_path, missing = run_local(kind, plan)
        return 0 if csv_path and not missing else 1
    array, gather = slurm.submit(plan, args.sbatch_arg)
    if not args.wait:
        return 0
    slurm.wait(plan, array, gather)
    csv_path = pathlib.Path(plan["out"]) / f"{kind.name}.csv"
    if not csv_path.exists():
        console.error(f"sweep {kind.name}: no {csv_path}; see {plan['out']}/logs")
        return 1
    return 0 if not results.read_records(plan)[1] else 1


def tables_command(args):
    changed, blocks = tables.update(args.results_md, check=args.check)
    if args.check and changed:
        console.error(f"sweep tables: {args.results_md} is out of date for {', '.join(changed)}; "
                      "run benchmarks/sweep tables")
        return 1
    console.info(f"sweep tables: {blocks} generated table(s), {len(changed)} "
                 f"{'out of date' if args.check else 'rewritten'}")
    return 0


def main(argv=None):
    args = parser().parse_args(argv)
    console.set_level(args.log_level)
    try:
        if args.command == "gather":
            csv_path, missing = results.gather(plan_lib.load(args.sweep_dir))
            return 0 if csv_path and not missing else 1
        if args.command == "tables":
            return tables_command(args)
        if args.command == "run-point":
            loaded = plan_lib.load(args.sweep_dir)
            runner.run_point(kinds.KINDS[loaded["kind"]], loaded, args.index)
            return 0
        return sweep_command(kinds.KINDS[args.command], args)
    except runner.RunFailed as e:
        console.error(f"sweep: a run failed, {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
