#!/usr/bin/env bash
# Installs the build tree into a scratch prefix, then configures, builds and runs a separate CMake
# project that uses find_package(simscale) and links simscale::common; checks that the installed
# simscale-plot runs.
set -euo pipefail
build_dir=$1
downstream_src=$2
prefix=$(mktemp -d /tmp/simscale-package-XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build_dir" --prefix "$prefix/install" >/dev/null
cmake -S "$downstream_src" -B "$prefix/build" -DCMAKE_PREFIX_PATH="$prefix/install" \
      -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$prefix/build" -j2 >/dev/null
"$prefix/build/downstream_app" | tee "$prefix/out.txt"
grep -q "downstream ok" "$prefix/out.txt"
# The installed figure command finds its Python package under share/simscale.
"$prefix/install/bin/simscale-plot" --help | grep -q "simscale-plot train RUN_DIR"
