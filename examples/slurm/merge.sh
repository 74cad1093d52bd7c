#!/bin/bash
# Merge the shards once every array task has succeeded: sbatch --dependency=afterok:ARRAY merge.sh OUT
#SBATCH --job-name=dbkata-merge
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --time=00:30:00
#SBATCH --output=dbkata-merge-%j.log
set -euo pipefail
. /shared/dbkata/.venv/bin/activate
python /shared/dbkata/grade.py merge "$1"-{1..4} --out "$1"    # 1..4: the tasks of grade-array.sh
