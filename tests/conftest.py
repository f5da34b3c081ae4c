import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The real metadata lives beside the repo (../shared/realdata), never inside it.
REALDATA = Path(os.environ.get("SEDREPRO_REALDATA", REPO.parent / "shared" / "realdata"))


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The workflow run once on config/tiny.yaml in a fresh copy of the repository, shared by every test module."""
    from test_workflow import fresh_copy, snakemake

    # SEDREPRO_BUILT: reuse a copy made by an earlier session (finished or not; snakemake completes it), to rerun the
    # checks without a new tiny run
    reuse = os.environ.get("SEDREPRO_BUILT")
    workdir = Path(reuse) if reuse else fresh_copy(tmp_path_factory.mktemp("wf") / "repo")
    snakemake(workdir)
    return workdir


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def kill_at_fault(tmp_path):
    """kill(cmd, point, n, env): run a stage with SEDREPRO_FAULT=<point>:<n> (sedrepro.faults), wait until it stops at
    that point, SIGKILL it; returns its stderr. Where the kill lands is fixed by the point, not by timing."""

    def kill(cmd: list[str], point: str, n: int, env: dict[str, str]) -> str:
        marker, log = tmp_path / f"fault.{point}.{n}", tmp_path / f"fault.{point}.{n}.log"
        with open(log, "w") as err:
            proc = subprocess.Popen(
                cmd, env={**env, "SEDREPRO_FAULT": f"{point}:{n}:{marker}"}, stdout=subprocess.DEVNULL, stderr=err
            )
        try:
            deadline = time.monotonic() + 1800  # a hang guard only (minutes pass on a loaded machine); the stage waits
            while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            proc.kill()
            proc.wait()
        stderr = log.read_text()
        assert marker.exists(), f"never reached fault point {point} {n} (exit {proc.returncode}): {stderr[-2000:]}"
        assert marker.read_text() == f"{point} {n} pid {proc.pid}\n"
        assert proc.returncode == -signal.SIGKILL  # still waiting at the point when the kill came
        return stderr

    return kill
