import os
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
