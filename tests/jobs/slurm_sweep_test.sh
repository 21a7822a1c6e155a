#!/usr/bin/env bash
# Runs `benchmarks/sweep datagen --slurm --wait` on a local single-node Slurm cluster started for
# the test (CI-sized: 2 points of 4 reach episodes, one repeat) and checks the array form: one
# array task per point, each run with srun at its rank count, a dependent job that gathers them
# into the CSV (medians, efficiency, machine metadata) and the figure.
#   tests/jobs/slurm_sweep_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
source "$src/tests/jobs/local_slurm.sh"
slurm_scratch_cluster 6919 6920

out="$work/sweep"
/usr/bin/python3 "$src/benchmarks/sweep" datagen --ranks 1,2 --repeats 1 --env reach \
    --episodes 4 --build "$build" --out "$out" --slurm --wait --sbatch-arg=--time=10
fail() { echo "$*"; cat "$out"/logs/* 2>/dev/null; exit 1; }

# One array task per point: their logs are point-0.out and point-1.out.
if [ ! -f "$out/logs/point-0.out" ] || [ ! -f "$out/logs/point-1.out" ]; then fail "no per-task logs"; fi
[ "$(find "$out/points" -name "*.json" | wc -l)" -eq 2 ] || fail "expected 2 point records"
/usr/bin/python3 - "$out/datagen.csv" "$out/datagen.png" <<'PY' || fail "bad sweep results"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [r["ranks"] for r in rows] == ["1", "2"], rows
for r in rows:
    assert float(r["throughput"]) > 0 and r["unit"] == "episodes/s", r
    assert r["cpu_model"] and int(r["cores"]) >= 1 and float(r["load_avg"]) >= 0, r
    assert r["openmpi"] and r["hdf5"] and r["git"], r
    assert float(r["episodes"]) == 4, r
assert abs(float(rows[0]["efficiency"]) - 100) < 1e-6, rows[0]
png = open(sys.argv[2], "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000, len(png)
print("sweep CSV:", [(r["ranks"], r["throughput"], r["efficiency"]) for r in rows])
PY
echo "slurm sweep test passed"
