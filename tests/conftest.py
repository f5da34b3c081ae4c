import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The real metadata lives beside the repo (../shared/realdata), never inside it.
REALDATA = Path(os.environ.get("SEDREPRO_REALDATA", REPO.parent / "shared" / "realdata"))


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)
