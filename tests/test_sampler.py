"""Training batches from sources: one source is exactly the former shuffled pass; several mix in fixed shares,
unlabelled rows masked with zeroed targets."""

from __future__ import annotations

import pytest
import torch
from test_train import prepared  # noqa: F401  (the tiny learnable problem, a fixture)

from sedrepro.data import Sampler, Source, SplitData, epoch_order
from sedrepro.io import InputError


def test_one_source_is_the_former_pass(prepared):  # noqa: F811
    _, fdir, sdir = prepared
    data = SplitData.load(fdir, sdir)
    sampler = Sampler(data, [Source("train", "target", 1.0)], 4, seed=3)
    n = len(data.chunks["train"])
    for epoch in (1, 2):
        got = list(sampler.epoch(epoch))
        want = list(data.batches("train", 4, epoch_order(3, epoch, n)))
        assert len(got) == len(want) == len(sampler) == 3  # 9 chunks: 4 + 4 + 1
        for b, (x, y) in zip(got, want, strict=True):
            assert set(b) == {"features", "strong", "mask_strong"}
            assert torch.equal(b["features"], x) and torch.equal(b["strong"], y) and bool(b["mask_strong"].all())


def test_two_sources_mix_in_shares(prepared):  # noqa: F811
    """3:1 of 8 rows: 6 labelled rows of the first source set the epoch (9 chunks: 6 + 3), 2 unlabelled rows of the
    second in every batch, their targets zero and masked."""
    _, fdir, sdir = prepared
    data = SplitData.load(fdir, sdir)
    sampler = Sampler(data, [Source("train", "target", 3), Source("train", "none", 1)], 8, seed=0)
    assert sampler.rows == [6, 2] and len(sampler) == 2 and sampler.label_kinds == ["strong"]
    batches = list(sampler.epoch(1))
    assert [len(b["features"]) for b in batches] == [8, 5]
    for b in batches:
        mask = b["mask_strong"]
        assert mask.tolist() == [True] * (len(mask) - 2) + [False, False]
        assert b["strong"][~mask].abs().sum() == 0 and b["strong"][mask].sum() > 0
    only_unlabelled = Sampler(data, [Source("train", "none", 1)], 4, seed=0)
    assert only_unlabelled.label_kinds == []
    assert not any(bool(b["mask_strong"].any()) for b in only_unlabelled.epoch(1))
    # the row's source, when a loss term is restricted to sources (and only then: the batches above have no key)
    tagged = Sampler(data, [Source("train", "target", 3), Source("train", "none", 1)], 8, seed=0, row_sources=True)
    for b, plain in zip(tagged.epoch(1), batches, strict=True):
        assert b["source"].tolist() == [0] * (len(b["source"]) - 2) + [1, 1]
        assert torch.equal(b["features"], plain["features"]) and "source" not in plain


def test_source_errors_are_one_line(prepared):  # noqa: F811
    _, fdir, sdir = prepared
    data = SplitData.load(fdir, sdir)
    with pytest.raises(
        InputError,
        match=r"^config key 'training/sources': expected shares that give every source at "
        r"least one of the 4 rows of a batch, found rows \[4, 0\]$",
    ):
        Sampler(data, [Source("train", "target", 10), Source("train", "none", 1)], 4, seed=0)
    with pytest.raises(
        InputError,
        match=r"^config key 'training/sources/0': expected a split with training chunks, "
        r"found 'unlabelled' \(splits: test, train, validate\)$",
    ):
        Sampler(data, [Source("unlabelled", "none", 1)], 4, seed=0)
    with pytest.raises(InputError, match="expected labels 'target' or 'none', found 'weak'"):
        Source.from_config({"split": "train", "labels": "weak", "share": 1}, "config key 'training/sources/0'")
