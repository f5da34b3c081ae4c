"""Validation of model config sections, shared by every model module: ValueError names the key and the problem."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def check_keys(name: str, d: Mapping[str, Any], fields: tuple[str, ...]) -> None:
    """Raise ValueError naming unknown and missing keys of a config mapping."""
    if not isinstance(d, Mapping):
        raise ValueError(f"{name} config must be a mapping, got {type(d).__name__}")
    unknown = sorted(set(d) - set(fields))
    missing = sorted(set(fields) - set(d))
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"unknown key(s) {unknown}")
        if missing:
            parts.append(f"missing key(s) {missing}")
        raise ValueError(f"{name} config: " + "; ".join(parts) + f" (expected exactly {list(fields)})")


def positive_int(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return v


def one_of(name: str, v: Any, choices: tuple[str, ...]) -> str:
    if v not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {v!r}")
    return v


def boolean(name: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"{name} must be a boolean, got {v!r}")
    return v
