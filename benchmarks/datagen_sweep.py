#!/usr/bin/env python3
"""Scaling sweep of datagen_mpi: episodes/s, env steps/s and the share of wall time in HDF5, at
several rank counts, with and without images, strong (fixed total) and weak (fixed per rank)
scaling. Each point is the median of --repeats runs. Prints a Markdown table.

  python3 benchmarks/datagen_sweep.py --build build --ranks 1 2 --repeats 3
  python3 benchmarks/datagen_sweep.py --ranks 4 8 --repeats 1 --check   # oversubscribed: correctness
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile


def run(build, ranks, args, output):
    command = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-n", str(ranks),
               os.path.join(build, "bin", "datagen_mpi"), *args, "--output", output,
               "--overwrite", "--log.level", "warn"]
    env = dict(os.environ, LP_NUM_THREADS="1", OMP_NUM_THREADS="1")
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stdout}\n{result.stderr}")
    for line in result.stdout.splitlines():
        if line.startswith("DATAGEN_SUMMARY"):
            return {k: float(v) for k, v in (f.split("=") for f in line.split()[1:])}
    sys.exit(f"no summary from: {' '.join(command)}\n{result.stdout}")


def validate(build, output):
    result = subprocess.run([os.path.join(build, "bin", "datagen_mpi"), "--validate", output],
                            capture_output=True, text=True)
    return result.returncode == 0


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--env", default="pick_place")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--strong-episodes", type=int, default=32)
    parser.add_argument("--weak-episodes", type=int, default=16, help="per rank")
    parser.add_argument("--per-round", type=int, default=4, help="episodes per rank per round")
    parser.add_argument("--check", action="store_true", help="validate every file written")
    options = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for images in (False, True):
            for mode in ("strong", "weak"):
                base = None
                for ranks in options.ranks:
                    episodes = (options.strong_episodes if mode == "strong"
                                else options.weak_episodes * ranks)
                    args = ["--env", options.env, "--episodes", str(episodes),
                            "--set", f"datagen.episodes_per_round={options.per_round}"]
                    if images:
                        args += ["--cameras", "agentview"]
                    output = os.path.join(tmp, "sweep.h5")
                    runs = []
                    for _ in range(options.repeats):
                        runs.append(run(options.build, ranks, args, output))
                        if options.check and not validate(options.build, output):
                            sys.exit(f"validation failed at {ranks} ranks")
                    wall = statistics.median(r["wall_s"] for r in runs)
                    steps = statistics.median(r["steps"] for r in runs)
                    hdf5 = statistics.median(r["hdf5_s"] / r["wall_s"] for r in runs)
                    rounds = -(-episodes // (options.per_round * ranks))
                    per_round_ms = 1000 * statistics.median(r["hdf5_max_s"] for r in runs) / rounds
                    rate = episodes / wall
                    if base is None:
                        base = (ranks, rate)
                    # Strong: speed-up / rank ratio. Weak: per-rank throughput kept.
                    efficiency = (rate / base[1]) / (ranks / base[0])
                    rows.append((("128x128 agentview" if images else "none"), mode, ranks,
                                 episodes, rate, steps / wall, 100 * hdf5, per_round_ms,
                                 100 * efficiency))
    print("| images | scaling | ranks | episodes | episodes/s | env steps/s | HDF5 share of wall "
          "| HDF5 ms per round (max rank) | parallel efficiency |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.2f} | {r[5]:.0f} | {r[6]:.1f}% "
              f"| {r[7]:.1f} | {r[8]:.0f}% |")


if __name__ == "__main__":
    main()
