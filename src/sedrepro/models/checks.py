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


def rate(name: str, p: Any) -> float:
    """A dropout-like rate in [0, 1)."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1), got {p!r}")
    return float(p)


def positive_number(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
        raise ValueError(f"{name} must be a positive number, got {v!r}")
    return float(v)


def int_tuple(name: str, v: Any) -> tuple[int, ...]:
    """A non-empty list of positive integers, as a tuple."""
    if not isinstance(v, (list, tuple)) or len(v) == 0:
        raise ValueError(f"{name} must be a non-empty list of positive integers, got {v!r}")
    return tuple(positive_int(f"{name}[{i}]", e) for i, e in enumerate(v))


def conv_stack(section: str, cfg: Any, per_block: tuple[str, ...], kernel_size: Any) -> int:
    """A conv stack's shape: `per_block` fields of `cfg` with one entry per entry of cfg.channels, and an odd kernel
    size (padding k // 2 keeps the size). Returns the number of blocks."""
    n = len(int_tuple(f"{section}.channels", cfg.channels))
    for name in per_block:
        if len(int_tuple(f"{section}.{name}", getattr(cfg, name))) != n:
            raise ValueError(f"{section}.{name} must have one entry per block ({n}), got {getattr(cfg, name)!r}")
    k = positive_int(f"{section}.kernel_size", kernel_size)
    if k % 2 == 0:
        raise ValueError(f"{section}.kernel_size must be odd (padding k//2 keeps the size), got {k}")
    return n


def conv_fields(section: str, d: Mapping[str, Any]) -> dict[str, Any]:
    """The conv stack's fields of a config section: channels, kernel_size, pool_time, pool_freq (lists as tuples)."""
    return {
        "channels": int_tuple(f"{section}.channels", d["channels"]),
        "kernel_size": d["kernel_size"],
        "pool_time": int_tuple(f"{section}.pool_time", d["pool_time"]),
        "pool_freq": int_tuple(f"{section}.pool_freq", d["pool_freq"]),
    }
