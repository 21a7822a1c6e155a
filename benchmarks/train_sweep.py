#!/usr/bin/env python3
"""Data-parallel scaling of train_ddp: samples/s at several rank counts (same global batch, so
each rank gets batch/ranks), and the shares of step time spent waiting for data and in the
gradient all-reduce. One LibTorch thread per rank. Prints a Markdown table.

  python3 benchmarks/train_sweep.py --dataset data.h5 --model bc --batch 256 --steps 300
  python3 benchmarks/train_sweep.py --dataset images.h5 --model vla --batch 64 --steps 40 \
      --set model.cameras=[agentview] --set model.image_size=64 --set model.uses_language=true
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--model", default="bc")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", action="append", default=[])
    options = parser.parse_args()
    rows = []
    base = None
    with tempfile.TemporaryDirectory() as tmp:
        for ranks in options.ranks:
            runs = []
            for repeat in range(options.repeats):
                out = os.path.join(tmp, f"run{ranks}_{repeat}")
                command = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-n", str(ranks),
                           os.path.join(options.build, "bin", "train_ddp"),
                           "--dataset", options.dataset, "--model", options.model,
                           "--steps", str(options.steps), "--output", out,
                           "--set", f"train.batch_size={options.batch}",
                           "--set", "train.warmup_steps=0", "--set", "train.log_every=1000000",
                           "--set", "train.eval_batches=1", "--set", "log.level=warn"]
                for s in options.set:
                    command += ["--set", s]
                env = dict(os.environ, OMP_NUM_THREADS="1")
                result = subprocess.run(command, capture_output=True, text=True, env=env)
                if result.returncode != 0:
                    sys.exit(f"failed: {' '.join(command)}\n{result.stdout}\n{result.stderr}")
                with open(os.path.join(out, "summary.json")) as f:
                    runs.append(json.load(f))
            rate = statistics.median(r["samples_per_second"] for r in runs)
            wait = statistics.median(r["data_wait_share"] for r in runs)
            reduce = statistics.median(r["allreduce_share"] for r in runs)
            if base is None:
                base = (ranks, rate)
            rows.append((ranks, options.batch // ranks, rate, rate / base[1], 100 * wait,
                         100 * reduce))
    print(f"| model | ranks | batch per rank | samples/s | speed-up | data wait | all-reduce |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {options.model} | {r[0]} | {r[1]} | {r[2]:.0f} | {r[3]:.2f}x | {r[4]:.1f}% "
              f"| {r[5]:.1f}% |")


if __name__ == "__main__":
    main()
