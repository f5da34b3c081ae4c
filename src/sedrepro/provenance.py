"""What produced a result: config values, git commit, package versions, seed, machine."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGES = (
    "torch",
    "torchaudio",
    "numpy",
    "pandas",
    "scipy",
    "librosa",
    "soundfile",
    "sed_eval",
    "psds_eval",
    "dcase_util",
    "snakemake",
    "matplotlib",
    "sedrepro",
)


def git_commit(start: str | os.PathLike = ".") -> str:
    """The commit of the working tree, with '+dirty' when tracked files changed; 'unknown' outside git."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=start, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=start, capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def collect(config: dict[str, Any], seed: int | None = None, inputs: list[str] | None = None) -> dict[str, Any]:
    """Provenance record written beside every metrics file and table."""
    return {
        "config": config,
        "seed": seed,
        "inputs": sorted(str(Path(p)) for p in (inputs or [])),
        "git_commit": git_commit(Path(__file__).resolve().parent),
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "machine": {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count()},
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
