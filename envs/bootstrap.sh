#!/usr/bin/env bash
# Sets up .venv with every pinned dependency and the sedrepro package. Safe to rerun; needs Python 3.11 and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "warning: $PYTHON is not Python 3.11; the pins in envs/requirements.txt were tested with 3.11" >&2
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip --disable-pip-version-check)
# dcase_util and sed_eval are sdists whose setup.py imports pkg_resources (gone from setuptools >= 81):
# build them without isolation against this pinned setuptools.
"${PIP[@]}" install -q "setuptools<81" wheel
# torchaudio 2.11 imports only with torch 2.11: install the pair first.
"${PIP[@]}" install -q $(grep -E '^(torch|torchaudio)==' envs/requirements.txt)
"${PIP[@]}" install -q --no-build-isolation -r envs/requirements.txt
"${PIP[@]}" install -q --no-build-isolation --no-deps -e .
# SLURM executor plugins: --no-deps because they declare numpy>=2.4.5 while psds_eval needs numpy<2.4 (pinned 2.3.5);
# they work on 2.3.5 and their other dependencies come with envs/requirements.txt (see envs/requirements-slurm.txt).
"${PIP[@]}" install -q --no-deps -r envs/requirements-slurm.txt
.venv/bin/python -c 'import torch, torchaudio, sed_eval, psds_eval, snakemake, sedrepro; print("environment ready: torch", torch.__version__)'
