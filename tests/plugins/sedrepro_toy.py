"""A paper, dataset, architecture and metric defined outside the package, registered on import.

tests/test_workflow_plugin.py names this module in the `plugins` list of tests/plugins/toy.yaml and runs the workflow
with this folder on PYTHONPATH: if the toy table builds, the registries are the whole extension surface (nothing
under src/ or rules/ knows these names). Every part below uses only the registries' public interfaces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor, nn

from sedrepro import metrics, papers
from sedrepro.datasets import DATASETS, embedded
from sedrepro.datasets.urban_sed import UrbanSedSpec
from sedrepro.models import ARCHITECTURES, Architecture
from sedrepro.models.checks import check_keys, positive_int

# --- dataset: the URBAN-SED layout and stand-in generator, three of its classes, any clip duration ---------------

TOY_CLASSES = ("car_horn", "dog_bark", "siren")
TOY_ROOT = "TOY-SED"
TOY_STAND_IN = embedded.SedStandIn(
    {c: embedded.SOUNDS["urban_sed"][c] for c in TOY_CLASSES},
    embedded.urban_names,
    embedded.write_urban,
    background="brownian",
    float_repr_times=True,
)
DATASET = UrbanSedSpec(
    name="toy_sed",
    classes=TOY_CLASSES,
    root_name=TOY_ROOT,
    embedded_archives=(f"{TOY_ROOT}.tar.gz",),
    embedded=TOY_STAND_IN,
)
DATASETS.register(DATASET.name, DATASET)


# --- architecture: one hidden layer per frame, named output "strong" (B, T, C) ------------------------------------


@dataclass(frozen=True)
class FrameMLPConfig:
    hidden: int

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FrameMLPConfig:
        check_keys("frame_mlp", d, ("hidden",))
        return cls(positive_int("hidden", d["hidden"]))


class FrameMLP(nn.Module):
    def __init__(self, cfg: FrameMLPConfig, n_features: int, n_classes: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, n_classes))

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return {"strong": self.net(x)}


ARCHITECTURES.register("frame_mlp", Architecture(FrameMLPConfig.from_dict, FrameMLP))


# --- metric: frame-level error rate (substitutions + deletions + insertions over active reference cells) --------


def frame_error_rate(decisions: np.ndarray, truth: np.ndarray) -> float:
    """Error rate of Mesaros et al. 2016 (Applied Sciences 6(6):162, eq. 5) with one frame as the segment: per frame
    S = min(FN, FP), D = max(0, FN - FP), I = max(0, FP - FN); ER = sum(S + D + I) / sum(N_ref)."""
    fn = (truth & ~decisions).sum(axis=1)
    fp = (decisions & ~truth).sum(axis=1)
    errors = np.minimum(fn, fp) + np.maximum(0, fn - fp) + np.maximum(0, fp - fn)
    return float(errors.sum() / max(int(truth.sum()), 1))


metrics.register(
    metrics.Metric(
        "frame_error_rate",
        {metrics.FRAMES: "decisions and frame truth"},
        per_class=False,
        unit="fraction",
        compute=lambda x, params: frame_error_rate(x.decisions(), x.frame_truth()),
        uses=("threshold",),
        description="frame-level error rate (S + D + I) / N, one frame as the segment",
    )
)


# --- paper: one models table of the toy model on the toy dataset, the toy metric beside a built-in one ------------

TABLE1 = papers.TableSpec(
    name="table1",
    caption="Toy frame error rate and accuracy",
    dataset=DATASET.name,
    model_columns=(("Frame MLP", "toy_mlp"),),
    stat_columns=(),
    rows=(),
    layout=papers.MODELS_LAYOUT,
    metric_columns=(("ER", "frame_error_rate"), ("accuracy", "accuracy")),
    units="Frame error rate and binary frame accuracy, fractions.",
)
papers.register(
    papers.Paper(
        name="toy",
        tables=(TABLE1,),
        notes=(
            "A toy paper defined in tests/plugins to prove the extension surface; its 'published' values are made up.",
        ),
        values_path=str(Path(__file__).with_name("toy.tsv")),  # beside this module, not under config/
    )
)
