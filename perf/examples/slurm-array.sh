#!/bin/bash
# Spread a matrix over a Slurm array: task i of n runs shard i/n; a dependent
# job (slurm-merge.sh) merges the shards, checks that together they hold the
# whole matrix, and writes the report. From the repository's top directory:
#   jid=$(sbatch --parsable perf/examples/slurm-array.sh)
#   sbatch --dependency=afterok:$jid perf/examples/slurm-merge.sh
# NSBENCH (binary), NSBENCH_CONFIG, NSBENCH_OUT (results directory) and
# NSBENCH_CPU_BIN (a prebuilt nsbench-cpu) choose what runs where; sbatch
# passes them on to the jobs. cmd/nsbench's TestSlurmArray runs both scripts
# on a one-node cluster.
#SBATCH --job-name=nsbench
#SBATCH --array=1-10
#SBATCH --exclusive
#SBATCH --time=04:00:00
#SBATCH --output=results/slurm-%A_%a.log
set -euo pipefail
nsbench=${NSBENCH:-bin/nsbench}
config=${NSBENCH_CONFIG:-perf/configs/seed000.json}
out=${NSBENCH_OUT:-results}
name=$(basename "$config" .json)
n=${SLURM_ARRAY_TASK_COUNT:-10}
i=${SLURM_ARRAY_TASK_ID}
mkdir -p "$out"
# containers need root: a site runs this under its privileged benchmark account.
# Without a terminal nsbench prints one progress line per sample into the log.
"$nsbench" run -config "$config" -shard "$i/$n" -out "$out/$name-shard$i.json" ${NSBENCH_CPU_BIN:+-cpu-bin "$NSBENCH_CPU_BIN"}
