#!/usr/bin/env bash
# Structural rules of the code base, checked on the source tree:
#  - no function in common/ or bin/ (C++) or in the Python tools (python/, scripts/, benchmarks/)
#    over 80 lines without a "long function:" reason;
#  - datagen_mpi reaches models only through common/policies (nothing from common/eval or
#    common/models), and neither it nor evaluate links LibTorch;
#  - no fault injection or test hook is read from the environment in common/ or bin/.
set -euo pipefail
src=$1
build=$2
fail=0
python3 "$src/scripts/function_lengths.py" "$src/common" "$src/bin" "$src/python" "$src/scripts" \
    "$src/benchmarks" --top 0 --max 80 || fail=1
if grep -rn '#include "common/\(eval\|models\)/' "$src/bin/datagen_mpi"; then
  echo "bin/datagen_mpi includes common/eval or common/models" >&2
  fail=1
fi
for tool in datagen_mpi evaluate; do
  if ldd "$build/bin/$tool" | grep -q torch; then
    echo "$tool links LibTorch" >&2
    fail=1
  fi
done
if grep -rnE 'getenv\("SIMSCALE_[A-Z_]*(KILL|STOP|NAN|FAULT|CPU_KERNELS)' "$src/common" "$src/bin"; then
  echo "a fault or test hook is read from the environment" >&2
  fail=1
fi
exit $fail
