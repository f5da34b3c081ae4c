"""Dataset layer: the registered datasets, their parsed index, archives, embedded stand-ins, statistics.

A dataset is one `DatasetSpec` registered in DATASETS under its name. It declares everything shared code needs:
layout and index (`index`), split protocols (`assign_splits`), subsets with their label kinds (`subsets`) and its
embedded stand-in (`embedded`). A dataset defined elsewhere (a plugin or a test) registers itself the same way.
"""

from __future__ import annotations

from ..registry import Registry
from .base import LABEL_KINDS, DatasetIndex, DatasetSpec, parse_annotation
from .tut_sed_2016 import SPEC as _TUT
from .urban_sed import SPEC as _URBAN
from .urbansound8k import SPEC as _US8K

DATASETS: Registry[DatasetSpec] = Registry("dataset")
for _spec in (_TUT, _URBAN, _US8K):
    DATASETS.register(_spec.name, _spec)


def get(name: str, where: str = "dataset") -> DatasetSpec:
    """The registered dataset `name`; an unknown name is one InputError listing the registered ones."""
    return DATASETS.get(name, where)


__all__ = ["DATASETS", "LABEL_KINDS", "get", "DatasetSpec", "DatasetIndex", "parse_annotation"]
