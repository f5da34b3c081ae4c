"""Dataset layer: the registered datasets, their parsed index, archives, embedded stand-ins, statistics.

A dataset is one `DatasetSpec` registered in DATASETS under its name. It declares everything shared code needs:
layout and index (`index`), split protocols (`assign_splits`), subsets with their label kinds (`subsets`) and its
embedded stand-in (`embedded`). A dataset defined elsewhere (a plugin or a test) registers itself the same way.

The index stage also writes a manifest (manifest.tsv: per subset, the clips its metadata lists, present or missing
with the sha256 of those present, and unlisted audio) and index.json (per-subset counts, what the parser recorded).
Downstream stages say on how many of how many clips a number stands with `set_coverage(index_dir, assignment)`;
`read_manifest` and `read_notes` read the two files.
"""

from __future__ import annotations

from ..registry import Registry
from .audioset import SPEC as _AUDIOSET
from .base import LABEL_KINDS, DatasetIndex, DatasetSpec, parse_annotation, read_manifest, read_notes, set_coverage
from .desed import SPEC as _DESED
from .tut_sed_2016 import SPEC as _TUT
from .urban_sed import SPEC as _URBAN
from .urbansound8k import SPEC as _US8K

DATASETS: Registry[DatasetSpec] = Registry("dataset")
for _spec in (_TUT, _URBAN, _US8K, _DESED, _AUDIOSET):
    DATASETS.register(_spec.name, _spec)


def get(name: str, where: str = "dataset") -> DatasetSpec:
    """The registered dataset `name`; an unknown name is one InputError listing the registered ones."""
    return DATASETS.get(name, where)


__all__ = [
    "DATASETS",
    "LABEL_KINDS",
    "get",
    "DatasetSpec",
    "DatasetIndex",
    "parse_annotation",
    "read_manifest",
    "read_notes",
    "set_coverage",
]
