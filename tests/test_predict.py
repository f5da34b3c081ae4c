"""predict: the batched, channels_last prediction gives the same probabilities as one clip at a time in NCHW."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sedrepro import config as sconfig
from sedrepro.data import SplitData
from sedrepro.io import save_npy, write_json, write_tsv
from sedrepro.models import CNN, CNNConfig, build_from_config
from sedrepro.predict import predict_clips, predict_run
from sedrepro.splits import CLIP_TARGETS, chunk_starts
from sedrepro.train import model_record

TINY = sconfig.load([sconfig.REPO / "config.yaml", sconfig.REPO / "config" / "tiny.yaml"])
LENGTHS = [50, 24, 13, 71, 40]  # test clips in frames: one shorter than a chunk, one exactly a chunk
CHUNK = 24


def reference_clip(
    model: torch.nn.Module, data: SplitData, start: int, n_frames: int, hop: int, batch_size: int, tail: str
) -> np.ndarray:
    """The prediction as it was before batching across clips: one clip's chunks per forward pass."""
    chunks = chunk_starts(start, n_frames, data.chunk_frames, hop, tail)
    total = np.zeros((n_frames, data.n_classes), dtype=np.float64)
    count = np.zeros((n_frames, 1), dtype=np.float64)
    with torch.inference_mode():
        for i in range(0, len(chunks), batch_size):
            sel = chunks[i : i + batch_size]
            x, _ = data.gather(sel[:, 0], sel[:, 1])
            probs = torch.sigmoid(model(x)["strong"]).numpy()
            for (first, valid), p in zip(sel, probs, strict=True):
                total[first - start : first - start + valid] += p[:valid]
                count[first - start : first - start + valid] += 1
    return (total / count).astype(np.float32)


def write_split(
    root: Path, n_features: int, classes: list[str], target: str, tail: str, pad: str, chunk: int = CHUNK
) -> tuple[Path, Path]:
    """Features and split folders as the workflow writes them: 3 train, 1 validate and the LENGTHS test clips (`chunk`
    frames per example of a clip target)."""
    rng = np.random.default_rng(0)
    lengths = [30, 30, 30, 30, *LENGTHS]
    split = ["train"] * 3 + ["validate"] + ["test"] * len(LENGTHS)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    ids = [f"c{i}" for i in range(len(lengths))]
    fdir, sdir = root / "features", root / "splits"
    save_npy(fdir / "features.npy", rng.normal(0, 1, (sum(lengths), n_features)).astype(np.float32))
    frames = pd.DataFrame({"file_id": ids, "split": split, "start": starts, "n_frames": lengths})
    write_tsv(fdir / "frames.tsv", frames)
    write_tsv(sdir / "assignment.tsv", frames[["file_id", "split"]])
    save_npy(sdir / "labels.npy", (rng.random((sum(lengths), len(classes))) < 0.3).astype(np.uint8))
    hop = CHUNK // 3 if tail == "flush" else CHUNK
    if target in CLIP_TARGETS:  # one example per clip, as the split stage makes them
        chunks = {
            sp: np.array([[s, min(n, chunk)] for s, n, x in zip(starts, lengths, split, strict=True) if x == sp])
            for sp in ("train", "validate", "test")
        }
    else:
        chunks = {
            sp: np.concatenate(
                [
                    chunk_starts(int(s), n, CHUNK, hop, tail)
                    for s, n, x in zip(starts, lengths, split, strict=True)
                    if x == sp
                ]
            )
            for sp in ("train", "validate", "test")
        }
    with open(sdir / "chunks.npz", "wb") as fh:
        np.savez(fh, **chunks)
    write_json(sdir / "norm.json", {"mean": [0.5], "std": [2.0]})
    write_json(
        sdir / "splits.json",
        {
            "classes": classes,
            "chunk_frames": chunk if target in CLIP_TARGETS else CHUNK,
            "hop_frames": hop,
            "frame_hop_s": 0.02,
            "target": target,
            "pad": pad,
            "tail": tail,
        },
    )
    return fdir, sdir


def randomise(model: torch.nn.Module) -> None:
    """Random weights and batch-norm statistics, so that every layer (eval-mode BN included) changes the output."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            if t.dtype.is_floating_point:
                t.copy_(
                    torch.rand(t.shape, generator=gen) * 0.6 + 0.2
                    if t.dim() == 1
                    else torch.randn(t.shape, generator=gen) * 0.3
                )


@pytest.mark.parametrize("model_name", sorted(m for m, e in TINY["models"].items() if "ensemble" not in e))
def test_batched_prediction_equals_one_clip_at_a_time(tmp_path: Path, model_name: str) -> None:
    pipeline = TINY["pipelines"][sconfig.model_pipeline(TINY, model_name)]
    feats, chunks = pipeline["features"], pipeline["chunks"]
    n_features = feats.get("n_features") or feats["n_mfcc"] or feats["n_mels"]
    classes = [f"k{i}" for i in range(5)]
    # clip tags: the pipeline's own example length (a fully connected network flattens exactly its frames)
    chunk = chunks.get("length_frames", CHUNK) if pipeline["target"] == "tags" else CHUNK
    fdir, sdir = write_split(tmp_path, n_features, classes, pipeline["target"], chunks["tail"], chunks["pad"], chunk)
    model_cfg = sconfig.model_config(TINY, model_name)
    model = build_from_config(model_cfg, n_features, len(classes))
    randomise(model)
    model.eval()
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    torch.save(model.state_dict(), run / "checkpoints" / "epoch001.pt")
    write_json(run / "train.json", {"model": model_record(model_cfg, n_features, len(classes))})
    pd.DataFrame({"epoch": [1], "train_loss": [1.0], "val_loss": [1.0]}).to_csv(run / "history.csv", index=False)

    batch = 4  # smaller than a clip's chunks and not dividing their total: batches straddle clips
    predict_run(run, fdir, sdir, tmp_path / "pred", model_cfg, 1, "last", batch, "cpu", ["test"])
    with np.load(tmp_path / "pred" / "test" / "epoch001.npz") as z:
        got, offsets = z["probs"], z["offsets"]

    data = SplitData.load(fdir, sdir)
    if pipeline["target"] in CLIP_TARGETS:
        want = predict_clips(model, data, batch, torch.device("cpu"))  # NCHW weights: the layout before
    else:
        frames = pd.read_csv(fdir / "frames.tsv", sep="\t")
        test = frames[frames.split == "test"]
        hop = CHUNK // 3 if chunks["tail"] == "flush" else CHUNK
        want = np.concatenate(
            [
                reference_clip(model, data, int(s), int(n), hop, batch, chunks["tail"])
                for s, n in zip(test.start, test.n_frames, strict=True)
            ]
        )
        assert offsets.tolist() == np.concatenate([[0], np.cumsum(LENGTHS)]).tolist()
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5
    assert np.std(want) > 1e-3  # the model's output depends on its input: the comparison is not of constants


def test_checkpoints_predicted_in_parallel_give_the_same_files(tmp_path: Path) -> None:
    """threads=3 predicts three checkpoints at once, each on one torch thread: every array equals the one-thread
    run's, each file holds its own checkpoint's numbers, and torch's thread count is restored."""
    name = "hcrnn128"
    n_features, classes = TINY["pipelines"][sconfig.model_pipeline(TINY, name)]["features"]["n_mels"], ["a", "b", "c"]
    fdir, sdir = write_split(tmp_path, n_features, classes, "frames", "flush", "repeat")
    model_cfg = sconfig.model_config(TINY, name)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for epoch in range(1, 6):
        torch.manual_seed(epoch)
        model = build_from_config(model_cfg, n_features, len(classes))
        torch.save(model.state_dict(), run / "checkpoints" / f"epoch{epoch:03d}.pt")
    write_json(run / "train.json", {"model": model_record(model_cfg, n_features, len(classes))})
    pd.DataFrame({"epoch": range(1, 6), "train_loss": 1.0, "val_loss": 1.0}).to_csv(run / "history.csv", index=False)
    before = torch.get_num_threads()
    for threads in (1, 3):
        predict_run(run, fdir, sdir, tmp_path / f"t{threads}", model_cfg, 5, "last", 4, "cpu", ["test"], threads)
    assert torch.get_num_threads() == before
    probs = []
    for epoch in range(1, 6):
        with np.load(tmp_path / "t1" / "test" / f"epoch{epoch:03d}.npz") as one:
            with np.load(tmp_path / "t3" / "test" / f"epoch{epoch:03d}.npz") as three:
                assert sorted(one.files) == sorted(three.files)
                for key in one.files:
                    assert np.array_equal(one[key], three[key]), key
                probs.append(one["probs"])
    assert all(not np.array_equal(probs[0], p) for p in probs[1:])  # five different checkpoints were compared


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_eval_cnn_pools_first_with_the_same_result(layout: torch.memory_format) -> None:
    """The eval-mode blocks (pool, then ReLU and batch norm) against the blocks as built, with gammas of both signs,
    zero among them, and a time axis that leaves partial pooling windows (ceil mode)."""
    cnn = CNN(CNNConfig((4, 6, 5), 3, (2, 3, 2), (2, 2, 1), "mean", 0.0))
    randomise(cnn)
    with torch.no_grad():
        for block in cnn.blocks:
            block[2].weight.copy_(torch.linspace(-1.0, 1.0, block[2].weight.numel()))  # negative, zero, positive
    cnn = cnn.to(memory_format=layout).eval()
    x = torch.randn(3, 37, 20, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        got = cnn(x)
        want = cnn.blocks(x.unsqueeze(1))  # the plain order, as in training
        want = want.mean(dim=3).transpose(1, 2)
    assert got.shape == want.shape == (3, 4, 5)
    assert torch.equal(got, want)  # monotone maps commute with max exactly, rounding included
