#!/usr/bin/env bash
# One rank of a job step:  srun --mpi=pmix jobs/rank.sh TOOL [ARGS...]  (or mpirun jobs/rank.sh ...)
# Binds the rank to one GPU when the node has GPUs, gives it the threads of its task, names its
# host and rank in the job log, then becomes the tool (exec: signals from srun reach the tool).
# Started by mpirun, Open MPI's variables count the ranks (Slurm's describe its daemons).
rank=${OMPI_COMM_WORLD_RANK:-${SLURM_PROCID:-0}}
ranks=${OMPI_COMM_WORLD_SIZE:-${SLURM_NTASKS:-1}}
local_rank=${OMPI_COMM_WORLD_LOCAL_RANK:-${SLURM_LOCALID:-0}}
# One LibTorch/OpenMP thread per CPU of the task (--cpus-per-task), 1 without one.
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-${OMP_NUM_THREADS:-1}}
# One rank per GPU: with --gpus-per-task Slurm already leaves each task one device; with
# --gpus-per-node (every task sees all of the node's GPUs) the local rank picks its own.
gpu="none"
if [ -n "${CUDA_VISIBLE_DEVICES:-}" ] && [ "${CUDA_VISIBLE_DEVICES}" != "NoDevFiles" ]; then
  IFS=, read -r -a devices <<< "$CUDA_VISIBLE_DEVICES"
  if [ "${#devices[@]}" -gt 1 ]; then
    export CUDA_VISIBLE_DEVICES=${devices[$((local_rank % ${#devices[@]}))]}
  fi
  gpu=$CUDA_VISIBLE_DEVICES
fi
echo "[$(date +%T) $(hostname -s)] rank $rank/$ranks (local $local_rank): $(basename "$1"), \
$OMP_NUM_THREADS thread(s), GPU $gpu" >&2
exec "$@"
