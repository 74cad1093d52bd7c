#!/bin/bash
# Grade one shard of the class per array task: sbatch grade-array.sh SUBMISSIONS OUT [grade.py options]
# Task K writes OUT-K. A task run again (requeued or resubmitted) resumes where it stopped.
#SBATCH --job-name=dbkata-grade
#SBATCH --array=1-4                # one task per shard: the same 4 as `shards` below and in merge.sh
#SBATCH --cpus-per-task=2          # grade.py --jobs below: one submission at a time per CPU
#SBATCH --mem=4G
#SBATCH --time=02:00:00
#SBATCH --requeue                  # Slurm may run it again: node failure, preemption, `scontrol requeue`
#SBATCH --open-mode=append         # and then adds to its log instead of overwriting it
#SBATCH --output=dbkata-grade-%A_%a.log
set -euo pipefail
shards=4
. /shared/dbkata/.venv/bin/activate    # the venv of `pip install -e .`, on a file system every node mounts
export DBKATA_HOME="${TMPDIR:-/tmp}/dbkata-$SLURM_JOB_ID"    # this task's own PostgreSQL server...
trap 'dbkata server reset >/dev/null' EXIT                   # ...stopped and deleted when the task ends
python /shared/dbkata/grade.py "$1" --out "$2-$SLURM_ARRAY_TASK_ID" \
    --shard "$SLURM_ARRAY_TASK_ID/$shards" --jobs "$SLURM_CPUS_PER_TASK" "${@:3}"
