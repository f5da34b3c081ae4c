"""Quality gates run by the README's test command: snakemake --lint, snakefmt --check and ruff."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sedrepro.config import REPO

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name if (BIN / name).exists() else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (pinned in envs/requirements.txt; run envs/bootstrap.sh)")
    return str(path)


def check(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{out[-6000:]}"
    return out


def test_snakemake_lint():
    out = check([sys.executable, "-m", "snakemake", "--lint"])
    assert "Congratulations, your workflow is in a good condition!" in out, out[-3000:]


def test_snakefmt():
    check([tool("snakefmt"), "--check", "Snakefile", "rules/"])


def test_ruff():
    check([tool("ruff"), "check", "src", "tests", "benchmarks"])


def test_ruff_format():
    check([tool("ruff"), "format", "--check", "src", "tests", "benchmarks"])
