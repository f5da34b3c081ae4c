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
# Test-only: sed_scores_eval (a second PSDS implementation) builds Cython extensions against the pinned numpy. A machine
# without a C compiler or Python headers still gets a working environment; the one test that needs it is skipped.
if ! { "${PIP[@]}" install -q $(grep -iE '^cython==' envs/requirements-test.txt) \
    && "${PIP[@]}" install -q --no-build-isolation -r envs/requirements-test.txt; }; then
    echo "warning: envs/requirements-test.txt did not install (sed_scores_eval needs a C compiler and Python headers);" \
        "tests/test_metrics_dcase.py skips its PSDS cross-check" >&2
fi
# SLURM executor plugins: --no-deps because they declare numpy>=2.4.5 while psds_eval needs numpy<2.4 (pinned 2.3.5);
# they work on 2.3.5 and their other dependencies come with envs/requirements.txt (see envs/requirements-slurm.txt).
"${PIP[@]}" install -q --no-deps -r envs/requirements-slurm.txt
.venv/bin/python -c 'import torch, torchaudio, sed_eval, psds_eval, snakemake, sedrepro; print("environment ready: torch", torch.__version__)'
