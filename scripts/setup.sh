#!/usr/bin/env bash
# Installs every Debian package SimScale needs to build, test and run. Idempotent: when everything
# is installed already it only checks (about a second) and touches nothing.
set -euo pipefail

PACKAGES=(
  build-essential cmake git pkg-config ca-certificates coreutils
  libopenmpi-dev openmpi-bin                       # MPI
  libmujoco-dev libqhull-dev                       # MuJoCo 2.2.2 (+ the qhull headers its CMake config names)
  libtorch-dev libgloo-dev libopenblas0-openmp     # LibTorch 1.13 CPU, OpenBLAS instead of the reference BLAS
  libhdf5-openmpi-dev hdf5-tools                   # parallel HDF5 (never the serial libhdf5-dev)
  libboost-program-options-dev libyaml-cpp-dev libfmt-dev nlohmann-json3-dev
  libegl-dev libegl-mesa0 libgl1-mesa-dri libosmesa6-dev libgl-dev libpng-dev   # CPU rendering
  libgtest-dev libbenchmark-dev                    # tests and benchmarks
  slurm-wlm munge                                  # job scripts and their tests
  iproute2 util-linux                              # the two-node Slurm test: ip netns, nsenter, unshare
  python3 python3-h5py python3-numpy               # dataset checks in tests and sweep scripts
  python3-matplotlib python3-yaml                  # simscale-plot: figures of every tool's outputs
  ffmpeg                                           # evaluate: MP4 of an episode (eval.video)
  clang libclang-rt-dev                            # libFuzzer targets (scripts/fuzz.sh)
)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
echo "setup: done"
