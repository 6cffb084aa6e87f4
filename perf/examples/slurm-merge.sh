#!/bin/bash
# The dependent job of slurm-array.sh: merge the shards, check that they hold
# every cell of the matrix (every point in every environment that was not
# skipped, the repetitions without gaps), and write the report.
#SBATCH --job-name=nsbench-merge
#SBATCH --time=00:30:00
#SBATCH --output=results/slurm-merge-%j.log
set -euo pipefail
nsbench=${NSBENCH:-bin/nsbench}
config=${NSBENCH_CONFIG:-perf/configs/seed000.json}
out=${NSBENCH_OUT:-results}
name=$(basename "$config" .json)
"$nsbench" merge -config "$config" -out "$out/$name.json" "$out/$name"-shard*.json
"$nsbench" report -out "$out" "$out/$name.json" > /dev/null
