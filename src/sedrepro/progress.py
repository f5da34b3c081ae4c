"""tqdm progress on a terminal, silence in logs and CI."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T], total: int | None = None, desc: str = "") -> Iterator[T]:
    return iter(tqdm(iterable, total=total, desc=desc, disable=not sys.stderr.isatty(), leave=False))
