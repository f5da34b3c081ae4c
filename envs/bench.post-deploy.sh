#!/usr/bin/env bash
# Run by Snakemake after it creates the conda env of envs/bench.yaml (same reason as eval.post-deploy.sh).
set -euo pipefail
pip install --no-build-isolation dcase_util==0.2.20 sed_eval==0.2.1
