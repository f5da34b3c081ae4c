"""8-bit feature stores read as numbers (torch-free: the splits stage and the batch reader both use it).

A precomputed store may keep a dataset's shipped 8-bit values as they are (features.json ``store: uint8``) and name
the formula that turns them into numbers (``dequantise``, one of DEQUANTISE). `open_store` gives the store's
features.npy as numbers either way: a float32 store as it is, a uint8 one through `Dequantised`, which applies the
formula to each slice read. Normalisation statistics (splits) and batches (data) therefore see the same values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .io import read_json
from .layout import FEATURES_FILE, INFO_FILE

# Shipped 8-bit values q -> numbers. vggish: the exact inverse of VGGish's postprocessor, which clips embeddings to
# [-2, 2] and maps them linearly onto 0..255 (vggish_params QUANTIZE_MIN/MAX_VAL; its truncation to uint8 loses < 4/255);
# centred: the linear rescale of qiuqiangkong/audioset_classification (utils/utilities.py), about [-1, 1).
DEQUANTISE = {"vggish": (4.0 / 255.0, -2.0), "centred": (1.0 / 128.0, -1.0)}  # x = scale * q + offset


def dequantise(q: np.ndarray, rule: str) -> np.ndarray:
    """float32 numbers of 8-bit values under `rule` (DEQUANTISE): vggish q * 4/255 - 2, centred (q - 128) / 128."""
    scale, offset = DEQUANTISE[rule]
    return (np.asarray(q, dtype=np.float32) * np.float32(scale) + np.float32(offset)).astype(np.float32)


class Dequantised:
    """A read-only view of an 8-bit array (frames, features) whose every slice or row selection comes out
    dequantised (float32); shape and len are the array's."""

    def __init__(self, values: np.ndarray, rule: str) -> None:
        if rule not in DEQUANTISE:
            raise ValueError(f"dequantise rule must be one of {sorted(DEQUANTISE)}, got {rule!r}")
        self.values, self.rule = values, rule

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index) -> np.ndarray:
        return dequantise(self.values[index], self.rule)


def open_store(feature_dir: Path, mmap_mode: str | None = None) -> np.ndarray | Dequantised:
    """features.npy of a feature store as numbers: dequantised on read when its features.json names a rule.
    A store without features.json (hand-made in tests) is read as it is."""
    values = np.load(feature_dir / FEATURES_FILE, mmap_mode=mmap_mode)
    info = feature_dir / INFO_FILE
    rule = read_json(info).get("dequantise") if info.is_file() else None
    return values if rule is None else Dequantised(values, rule)
