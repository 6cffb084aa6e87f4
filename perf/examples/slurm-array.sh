#!/bin/bash
# Spread a matrix over a Slurm array: task i of n runs shard i/n; a dependent
# job merges the shards and writes the report.
#   sbatch perf/examples/slurm-array.sh
#   sbatch --dependency=afterok:<jobid> --wrap 'bin/nsbench merge -out results/seed000.json results/seed000-shard*.json && bin/nsbench report -out results results/seed000.json'
#SBATCH --job-name=nsbench
#SBATCH --array=1-10
#SBATCH --exclusive
#SBATCH --time=04:00:00
#SBATCH --output=results/slurm-%A_%a.log
set -euo pipefail
n=${SLURM_ARRAY_TASK_COUNT:-10}
i=${SLURM_ARRAY_TASK_ID}
# containers need root: a site runs this under its privileged benchmark account
bin/nsbench run -config perf/configs/seed000.json -shard "$i/$n" -out "results/seed000-shard$i.json"
