#!/bin/bash
# Grade a class on Slurm: examples/slurm/submit.sh SUBMISSIONS OUT [grade.py options]
# Submits grade-array.sh (one task per shard) and merge.sh, which starts once every task has succeeded,
# and prints their two job ids.
set -euo pipefail
here=$(dirname "$0")
array=$(sbatch --parsable "$here/grade-array.sh" "$@")
merge=$(sbatch --parsable --dependency="afterok:$array" "$here/merge.sh" "$2")
echo "$array $merge"
