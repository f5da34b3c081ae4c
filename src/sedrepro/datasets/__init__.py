"""Dataset layer: specs of the supported datasets, their parsed index, archives, embedded stand-ins, statistics."""

from __future__ import annotations

from ..io import InputError
from .base import DatasetIndex, DatasetSpec, parse_annotation
from .tut_sed_2016 import SPEC as _TUT
from .urban_sed import SPEC as _URBAN
from .urbansound8k import SPEC as _US8K

NAMES: tuple[str, ...] = ("tut_sed_synthetic_2016", "urban_sed", "urbansound8k")
_SPECS: dict[str, DatasetSpec] = {_TUT.name: _TUT, _URBAN.name: _URBAN, _US8K.name: _US8K}


def get(name: str) -> DatasetSpec:
    """The spec of dataset `name` (one of NAMES); an unknown name is an InputError."""
    try:
        return _SPECS[name]
    except KeyError:
        raise InputError(f"dataset: expected one of {', '.join(NAMES)}, found {name!r}") from None


__all__ = ["NAMES", "get", "DatasetSpec", "DatasetIndex", "parse_annotation"]
