"""Where the time goes: one run, one machine, ratios of interleaved medians.

    python benchmarks/run.py [--out results/benchmarks] [--threads N] [--reps R] [--quick]

Measures (see benchmarks/README.md):
  1. training step (forward + backward + Adam, batch 64, 172 frames x 96 mels) of HCRNN-64/128 against CRNN-uni/bi at
     the widths of config/paper.yaml, for every pooling configuration offered (cnn.pool_time [2,2,2,2] and [1,1,1,1]);
     and the recurrent layer alone (HyperLSTM / nn.LSTM, 172 steps, forward + backward);
  2. feature preparation: clips/s of our decode + resample + log-mel + store path against librosa doing the same;
  3. data loading: samples/s of SplitData.gather against samples/s of the training step;
  4. evaluation: scoring 10 checkpoints (predict + sed_eval) against one training epoch, real code paths; PSDS
     (psds_eval, 50 operating points) against event F1 on one checkpoint's predictions.

Every comparison runs its contestants interleaved (A B A B ...) and compares medians, so load from other processes
hits both sides alike. Writes summary.csv (metric,value,unit,machine) and summary.md, atomically.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch

from sedrepro import config as sconfig
from sedrepro import provenance
from sedrepro.config import REPO
from sedrepro.io import write_csv, write_json, write_text

POOLINGS = {"pool_time": [2, 2, 2, 2], "no_pool_time": [1, 1, 1, 1]}  # every cnn.pool_time the README offers
MODELS = ("crnn_uni", "crnn_bi", "hcrnn64", "hcrnn128")
BATCH, FRAMES, MELS, CLASSES = 64, 172, 96, 10

rows: list[dict] = []


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def add(metric: str, value, unit: str) -> None:
    if isinstance(value, float):
        value = f"{value:.4g}"
    rows.append({"metric": metric, "value": value, "unit": unit})
    log(f"{metric} = {value} {unit}")


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, torch {torch.__version__}, {torch.get_num_threads()} threads"


def interleaved(
    fns: dict[str, Callable[[], None]], reps: int, prepare: dict[str, Callable[[], None]] | None = None
) -> dict[str, float]:
    """Median seconds per call of each function, calls interleaved `reps` times; the order rotates every round
    (A B C, B C A, C A B, ...) so that no contestant always runs first, or right after the same one.
    prepare[k], where given, runs untimed right before each call of fns[k] (e.g. removing the previous outputs)."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    keys = list(fns)
    for r in range(reps):
        for k in keys[r % len(keys) :] + keys[: r % len(keys)]:
            if prepare and k in prepare:
                prepare[k]()
            fn = fns[k]
            tic = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - tic)
    return {k: statistics.median(v) for k, v in times.items()}


# ------------------------------------------------------------------- 5. the dessed paper's models (opt-in: --dessed)

DND_MODELS = ("dnd_baseline", "dnd_dilated", "dnd_dessed", "dnd_proposed_conv1x1", "dnd_proposed_maxpool")


def bench_dnd_steps(reps: int, batch: int, device: torch.device) -> None:
    """Training step (forward + backward + Adam) of the dessed paper's polyphonic models at config/paper.yaml's widths
    (256 channels, GRU 256), 1024 frames x 40 MFCCs, 16 classes: the per-step cost behind Table 4's training times,
    as ratios to the baseline (the paper's own: dilated 14x, DESSED 1.8x in wall time, epochs counts differing)."""
    from sedrepro.models import build_from_config

    cfg = sconfig.load([REPO / "config.yaml", REPO / "config" / "paper.yaml"])
    steps = {}
    for name in DND_MODELS:
        torch.manual_seed(0)
        model = build_from_config(sconfig.model_config(cfg, name), 40, 16).to(device).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        x = torch.randn(batch, 1024, 40, device=device)  # (B, T, MFCC)
        y = (torch.rand(batch, 1024, 16, device=device) < 0.1).float()  # (B, T, C)
        loss_fn = torch.nn.BCEWithLogitsLoss()

        def step(model=model, opt=opt, x=x, y=y, loss_fn=loss_fn) -> None:
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x)["strong"], y).backward()  # the polyphonic models: frame logits (B, T, C)
            opt.step()
            if device.type == "cuda":
                torch.cuda.synchronize()

        step()  # warm-up
        steps[name] = step
    med = interleaved(steps, reps)
    for name in DND_MODELS:
        add(f"train_step_s_{name}_paper_width", med[name], f"s (batch {batch}, 1024 frames)")
    for name in DND_MODELS[1:]:
        add(
            f"{name}_over_dnd_baseline_train_step",
            med[name] / med["dnd_baseline"],
            "ratio (paper's Table 4 times: 14.06, 1.84, 6.06, 6.44)",
        )


# ----------------------------------------------------------------------------------------------- 1. training step


def paper_models() -> dict[str, dict]:
    cfg = sconfig.load([REPO / "config.yaml", REPO / "config" / "paper.yaml"])
    return {m: sconfig.model_config(cfg, m) for m in MODELS}


def train_step_fn(model_cfg: dict, device: torch.device, batch: int = BATCH) -> Callable[[], None]:
    from sedrepro.models import build_model

    torch.manual_seed(0)
    model = build_model(model_cfg["cnn"], model_cfg["rnn"], MELS, CLASSES).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=4e-5)
    bce = torch.nn.BCEWithLogitsLoss()
    x = torch.randn(batch, FRAMES, MELS, device=device)
    y = (torch.rand(batch, FRAMES, CLASSES, device=device) > 0.8).float()

    def step() -> None:
        loss = bce(model(x)["strong"], y)  # (B, T, C)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return step


def bench_train_steps(reps: dict[str, int], device: torch.device, tag: str) -> dict[str, float]:
    """Seconds per training step, per pooling and model; ratios HCRNN / CRNN. Returns crnn_uni/hcrnn128 step times."""
    models = paper_models()
    out = {}
    for pname, pool in POOLINGS.items():
        fns = {}
        for m, mc in models.items():
            mc = copy.deepcopy(mc)
            mc["cnn"]["pool_time"] = pool
            fns[m] = train_step_fn(mc, device)
            # warm-up at a small batch: thread pools, allocator, kernel selection (cheap at full width)
            train_step_fn(mc, device, batch=4)()
        log(f"training steps, {pname} {pool}, {reps[pname]} interleaved reps of {list(fns)} on {device}")
        med = interleaved(fns, reps[pname])
        for m, s in med.items():
            add(f"{tag}train_step_s_{m}_{pname}", s, "s")
        for h in ("hcrnn64", "hcrnn128"):
            for c in ("crnn_uni", "crnn_bi"):
                add(f"{tag}{h}_over_{c}_train_step_{pname}", med[h] / med[c], "ratio")
        out[pname] = med
    worst = max(out[p]["hcrnn128"] / out[p]["crnn_uni"] for p in out)
    add(f"{tag}hcrnn128_over_crnn_uni_train_step_worst", worst, "ratio (goal <= 1.3)")
    return out["pool_time"]


def bench_recurrent(reps: int, device: torch.device, tag: str, goal: bool = True, variants: bool = True) -> None:
    """The recurrent layer alone, 512 -> 256, T = 172 (time pooling off), batch 64, forward + backward + Adam.
    variants False: only nn.LSTM and the paper's HyperLSTMs (rnn hyper cell, no layer norm). The paper's HyperLSTM-128
    is timed eagerly and with its cell through torch.compile (training.compile: true), same weights."""
    from sedrepro.models.hyperlstm import HyperLSTM, set_compiled

    x = torch.randn(BATCH, FRAMES, 512, device=device, requires_grad=True)

    def fb(layer: torch.nn.Module) -> Callable[[], None]:
        opt = torch.optim.Adam(layer.parameters(), lr=1e-6)  # a tiny rate: the layers stay near their init

        def run() -> None:
            opt.zero_grad(set_to_none=True)
            out = layer(x)
            out = out[0] if isinstance(out, tuple) else out
            out.sum().backward()
            opt.step()
            if device.type == "cuda":
                torch.cuda.synchronize()

        return run

    torch.manual_seed(0)
    layers = {
        "lstm": torch.nn.LSTM(512, 256, batch_first=True),
        "hyper64_rnn": HyperLSTM(512, 256, 64, 8, "rnn", "previous", False, 1.0),
        "hyper128_rnn": HyperLSTM(512, 256, 128, 8, "rnn", "previous", False, 1.0),
        "hyper128_rnn_compiled": HyperLSTM(512, 256, 128, 8, "rnn", "previous", False, 1.0),
    }
    layers["hyper128_rnn_compiled"].load_state_dict(layers["hyper128_rnn"].state_dict())
    set_compiled(layers["hyper128_rnn_compiled"], True)
    if variants:
        layers["hyper128_lstm"] = HyperLSTM(512, 256, 128, 8, "lstm", "previous", False, 1.0)
        layers["hyper128_lstm_ln"] = HyperLSTM(512, 256, 128, 8, "lstm", "previous", True, 1.0)
    fns = {k: fb(v.to(device)) for k, v in layers.items()}
    for k, fn in fns.items():
        tic = time.perf_counter()
        fn()  # warm-up (and the compile)
        if k == "hyper128_rnn_compiled" and goal:
            add(
                f"{tag}hyper128_rnn_first_call_with_compile_s",
                time.perf_counter() - tic,
                "s (torch.compile, cache cold or warm)",
            )
    log(f"recurrent layer alone, {reps} interleaved reps on {device} ({torch.get_num_threads()} threads)")
    med = interleaved(fns, reps)
    for k, s in med.items():
        add(f"{tag}rnn_layer_s_{k}", s, "s")
    for k in layers:
        if k != "lstm":
            unit = "ratio"
            if goal and k == "hyper128_rnn":
                unit = "ratio (goal <= 2.0; eager, the default)"
            elif goal and k == "hyper128_rnn_compiled":
                unit = "ratio (goal <= 2.0; training.compile: true)"
            add(f"{tag}{k}_over_lstm_rnn_layer", med[k] / med["lstm"], unit)


# ----------------------------------------------------------------------------------------------- 2. features


def make_clips(folder: Path, n: int, seconds: float = 10.0, sr: int = 44100) -> pd.DataFrame:
    """n 16-bit 44.1 kHz mono WAVs: tones and noise, deterministic; returns a files.tsv-like index."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    rows = []
    for i in range(n):
        wave = 0.05 * rng.standard_normal(t.size)
        for f in rng.uniform(100, 8000, size=3):
            wave += 0.2 * np.sin(2 * np.pi * f * t) * (np.sin(2 * np.pi * rng.uniform(0.1, 2) * t) > 0)
        name = f"clip{i:03d}.wav"
        sf.write(folder / name, np.clip(wave, -1, 1).astype(np.float32), sr, subtype="PCM_16")
        rows.append({"file_id": f"clip{i:03d}", "split": "train", "audio": name})
    return pd.DataFrame(rows)


# Hypernetworks paper section 3.3, the workflow's `logmel96` pipeline: used where config.yaml does not have it.
PAPER_LOGMEL = {
    "kind": "logmel",
    "sample_rate": 22050,
    "n_mels": 96,
    "n_fft": 1024,
    "hop_length": 256,
    "f_min": 50.0,
    "f_max": 11025.0,
    "n_mfcc": None,
    "top_db": None,
}


def logmel_settings(cfg: dict, pipeline: str = "logmel96") -> dict:
    """The features dict of `pipeline` in a loaded config (pipelines/<pipeline>/features, with audio/sample_rate where
    the pipeline leaves the rate to the audio section); the paper's settings, said out loud, where the config lacks it."""
    feats = cfg.get("pipelines", {}).get(pipeline, {}).get("features")
    if feats is None:
        log(
            f"config has no pipelines/{pipeline}/features: using the hypernetworks paper's log-mel settings {PAPER_LOGMEL}"
        )
        return dict(PAPER_LOGMEL)
    if "sample_rate" not in feats:
        if "sample_rate" not in cfg.get("audio", {}):
            raise SystemExit(
                f"config: pipelines/{pipeline}/features has no sample_rate and there is no audio/sample_rate"
            )
        feats = {**feats, "sample_rate": cfg["audio"]["sample_rate"]}
    return feats


def librosa_clip(wav: Path, out: Path, cfg_dict: dict) -> None:
    """The reference for one clip, as a user would write it: librosa.load (soxr_hq resampling), mel, dB, np.save."""
    import librosa

    y, sr = librosa.load(wav, sr=cfg_dict["sample_rate"], mono=True)
    mel = librosa.feature.melspectrogram(
        y=y,
        sr=sr,
        n_fft=cfg_dict["n_fft"],
        hop_length=cfg_dict["hop_length"],
        n_mels=cfg_dict["n_mels"],
        fmin=cfg_dict["f_min"],
        fmax=cfg_dict["f_max"],
        power=2.0,
        center=True,
        pad_mode="constant",
    )
    np.save(out, librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None).T)


def bench_features(tmp: Path, n_clips: int, reps: int, threads: int) -> None:
    """Clips/s of decode + resample + log-mel + store: ours on 1 thread and on `threads` (clips in parallel inside each
    stage, as `--threads` runs the stages) against librosa as a plain loop in one process, and librosa over a process
    pool of the same size. The goal is judged on ours at `threads` over the plain librosa loop; all ratios are shown."""
    import concurrent.futures
    import functools
    import multiprocessing

    from threadpoolctl import threadpool_limits  # a dependency of librosa's (via scikit-learn)

    from sedrepro.audio import resample_dataset
    from sedrepro.features import FeatureConfig, extract_dataset
    from sedrepro.io import write_tsv

    settings = logmel_settings(sconfig.load([REPO / "config.yaml"]))
    cfg = FeatureConfig.from_dict(settings)
    raw, index = tmp / "raw", tmp / "index"
    raw.mkdir()
    files = make_clips(raw, n_clips)
    write_tsv(index / "files.tsv", files)
    outs = {k: tmp / k for k in ("ours_1", "ours_n", "librosa_1", "librosa_n")}

    def clear(key: str) -> Callable[[], None]:
        # untimed: removing the previous round's outputs (unlinking ~20 MB costs tens of ms on ext4; not feature work)
        def run() -> None:
            shutil.rmtree(outs[key], ignore_errors=True)
            outs[key].mkdir()

        return run

    def ours(key: str, n: int) -> Callable[[], None]:
        def run() -> None:
            resample_dataset(index, raw, outs[key] / "audio", cfg.sample_rate, n)
            extract_dataset(outs[key] / "audio", outs[key] / "features", cfg, n)

        return run

    def librosa_loop() -> None:
        # BLAS on one thread too: numpy's default (a thread per core) makes librosa's mel matmul several times slower
        # on a loaded machine, which would flatter us; the loop is then single-threaded, like ours on 1 thread
        with threadpool_limits(1, user_api="blas"):
            for rec in files.itertuples(index=False):
                librosa_clip(raw / rec.audio, outs["librosa_1"] / f"{rec.file_id}.npy", settings)

    # one pool for the whole benchmark, started and warmed up untimed (favours librosa: our threads start per call)
    pool = concurrent.futures.ProcessPoolExecutor(
        threads, mp_context=multiprocessing.get_context("spawn"), initializer=_one_blas_thread
    )

    def librosa_pool() -> None:
        jobs = [(raw / r.audio, outs["librosa_n"] / f"{r.file_id}.npy") for r in files.itertuples(index=False)]
        list(pool.map(functools.partial(_librosa_job, cfg_dict=settings), jobs))

    fns = {
        "ours_1": ours("ours_1", 1),
        "ours_n": ours("ours_n", threads),
        "librosa_1": librosa_loop,
        "librosa_n": librosa_pool,
    }
    prepare = {k: clear(k) for k in fns}
    outer = torch.get_num_threads()
    torch.set_num_threads(1)  # our stages on 1 thread each, or `threads` clips at once with 1 torch thread each
    try:
        for k, fn in fns.items():  # warm-up (imports, FFT plans, resampling filters, pool workers)
            prepare[k]()
            fn()
        log(
            f"feature preparation, {n_clips} clips of 10 s, ours on 1 and {threads} threads, librosa in 1 and "
            f"{threads} processes, {reps} interleaved reps"
        )
        med = interleaved(fns, reps, prepare)
    finally:
        pool.shutdown()
        torch.set_num_threads(outer)
    t = threads
    add("features_clips_per_s_ours_1thread", n_clips / med["ours_1"], "clips/s (1 thread)")
    add(
        f"features_clips_per_s_ours_{t}threads",
        n_clips / med["ours_n"],
        f"clips/s ({t} clips at once, 1 torch thread each)",
    )
    add(
        "features_clips_per_s_librosa_1process",
        n_clips / med["librosa_1"],
        "clips/s (plain loop, one process, BLAS on 1 thread)",
    )
    add(
        f"features_clips_per_s_librosa_{t}processes",
        n_clips / med["librosa_n"],
        f"clips/s (process pool of {t}, 1 BLAS thread each)",
    )
    add("features_ours_1thread_over_librosa_1process_throughput", med["librosa_1"] / med["ours_1"], "ratio")
    add(
        "features_ours_over_librosa_throughput",
        med["librosa_1"] / med["ours_n"],
        f"ratio (ours {t} threads / librosa plain loop in 1 process; goal >= 2)",
    )
    add(f"features_ours_{t}threads_over_librosa_{t}processes_throughput", med["librosa_n"] / med["ours_n"], "ratio")
    # parity on these clips: same decode, different resamplers (torchaudio sinc vs librosa soxr_hq)
    store = np.load(outs["ours_1"] / "features" / "features.npy")
    same = np.array_equal(store, np.load(outs["ours_n"] / "features" / "features.npy"))
    add("features_ours_threads_identical_store", "yes" if same else "NO", f"features.npy of 1 vs {t} threads, bytes")
    ref = np.load(outs["librosa_1"] / f"{files.file_id[0]}.npy")
    n = min(len(ref), store.shape[0] // n_clips)
    diff = np.abs(store[:n] - ref[:n])
    loud = ref[:n] > -60  # bins well above the floor
    add("features_parity_median_abs_db_resampled", float(np.median(diff[loud])), "dB (torchaudio sinc vs soxr_hq)")
    add("features_parity_p99_abs_db_resampled", float(np.percentile(diff[loud], 99)), "dB (bins > -60 dB)")


def _one_blas_thread() -> None:
    """In each librosa pool worker: BLAS on one thread, so that `threads` workers use `threads` cores, not more."""
    from threadpoolctl import threadpool_limits  # a dependency of librosa's (via scikit-learn)

    global _BLAS_LIMIT
    _BLAS_LIMIT = threadpool_limits(1, user_api="blas")


_BLAS_LIMIT = None


def _librosa_job(job: tuple[Path, Path], cfg_dict: dict) -> None:
    librosa_clip(job[0], job[1], cfg_dict)


# ----------------------------------------------------------------------------------------------- 3-4. data, eval


def synthetic_setup(
    root: Path, n_train: int, n_validate: int, n_test: int, seconds: float = 10.0
) -> tuple[Path, Path, Path]:
    """Features, splits and index folders as the workflow writes them, with random features and events."""
    from sedrepro.datasets import get as get_dataset
    from sedrepro.io import save_npy, write_tsv
    from sedrepro.splits import chunk_starts, frame_labels

    rng = np.random.default_rng(1)
    classes = list(get_dataset("urban_sed").classes)
    hop_s, length, hop = 256 / 22050, 172, 43
    n = 1 + int(seconds * 22050) // 256
    files, events, frames = [], [], []
    start = 0
    for split, count in (("train", n_train), ("validate", n_validate), ("test", n_test)):
        for i in range(count):
            fid = f"{split}{i:03d}"
            files.append({"file_id": fid, "split": split, "duration_s": seconds, "audio": f"{fid}.wav"})
            frames.append({"file_id": fid, "split": split, "start": start, "n_frames": n})
            start += n
            for _ in range(rng.integers(1, 9)):
                on = float(rng.uniform(0, seconds - 0.5))
                events.append(
                    {
                        "file_id": fid,
                        "onset": on,
                        "offset": min(seconds, on + float(rng.uniform(0.3, 4))),
                        "label": str(rng.choice(classes)),
                    }
                )
    feat, split_dir, index = root / "features", root / "splits", root / "index"
    frames_df, events_df = pd.DataFrame(frames), pd.DataFrame(events)
    save_npy(feat / "features.npy", rng.normal(-40, 15, size=(start, MELS)).astype(np.float32))
    write_tsv(feat / "frames.tsv", frames_df)
    write_tsv(split_dir / "assignment.tsv", frames_df[["file_id", "split"]])
    write_tsv(index / "files.tsv", pd.DataFrame(files))
    write_tsv(index / "events.tsv", events_df)
    save_npy(split_dir / "labels.npy", frame_labels(events_df, frames_df, tuple(classes), hop_s))
    chunks = {
        s: np.concatenate(
            [
                chunk_starts(int(r.start), int(r.n_frames), length, hop)
                for r in frames_df[frames_df.split == s].itertuples()
            ]
        )
        for s in ("train", "validate", "test")
    }
    with open(split_dir / "chunks.npz", "wb") as fh:
        np.savez(fh, **chunks)
    write_json(split_dir / "norm.json", {"mean": -40.0, "std": 15.0})
    write_json(
        split_dir / "splits.json",
        {"dataset": "urban_sed", "classes": classes, "chunk_frames": length, "hop_frames": hop, "frame_hop_s": hop_s},
    )
    return feat, split_dir, index


def read_classes(split_dir: Path) -> list[str]:
    from sedrepro.io import read_json

    return list(read_json(split_dir / "splits.json")["classes"])


def bench_loader(tmp: Path, step_s: dict[str, float], reps: int) -> None:
    from sedrepro.data import SplitData

    feat, split_dir, _ = synthetic_setup(tmp / "loader", 64, 4, 4)
    data = SplitData.load(feat, split_dir)
    chunks = data.chunks["train"]
    order = np.random.default_rng(0).permutation(len(chunks))
    n_batches = len(chunks) // BATCH

    def epoch() -> None:
        for b in range(n_batches):
            sel = chunks[order[b * BATCH : (b + 1) * BATCH]]
            data.gather(sel[:, 0], sel[:, 1])

    epoch()
    s = interleaved({"gather": epoch}, reps)["gather"] / n_batches
    add("loader_samples_per_s_gather", BATCH / s, "samples/s")
    for m in ("crnn_uni", "hcrnn128"):
        add(f"train_samples_per_s_{m}_pool_time", BATCH / step_s[m], "samples/s")
        add(f"loader_over_train_throughput_{m}_pool_time", step_s[m] / s, "ratio (>> 1: loading is not the bottleneck)")


def bench_eval(tmp: Path, reps: int) -> None:
    """Default (narrow) config, model hcrnn128, half the default URBAN-SED split sizes (16 train, 4 validate, 6 test
    clips of 10 s, random features and events): scoring 10 checkpoints vs one training epoch (with its validation)."""
    from sedrepro.evaluate import Settings, checkpoint_inputs, epoch_files, score_predictions
    from sedrepro.metrics import psds_thresholds
    from sedrepro.models import build_model
    from sedrepro.predict import predict_run
    from sedrepro.train import model_record, train

    cfg = sconfig.load([REPO / "config.yaml"])
    ds = cfg["datasets"]["urban_sed"]["embedded"]
    feat, split_dir, index = synthetic_setup(tmp / "eval", ds["n_train"] // 2, ds["n_validate"] // 2, ds["n_test"] // 2)
    model_cfg = sconfig.model_config(cfg, "hcrnn128")
    training = {**sconfig.model_training(cfg, "hcrnn128"), "max_epochs": 1, "device": "cpu"}
    run = tmp / "eval" / "run"
    (run / "checkpoints").mkdir(parents=True)
    for e in range(1, 11):  # ten checkpoints (random weights: scoring cost does not depend on training)
        torch.manual_seed(e)
        torch.save(
            build_model(model_cfg["cnn"], model_cfg["rnn"], MELS, len(read_classes(split_dir))).state_dict(),
            run / "checkpoints" / f"epoch{e:03d}.pt",
        )
    pd.DataFrame({"epoch": range(1, 11), "train_loss": 1.0, "val_loss": np.linspace(1, 2, 10)}).to_csv(
        run / "history.csv", index=False
    )
    # prediction rebuilds the network from the run's record, as the train stage writes it
    write_json(run / "train.json", {"model": model_record(model_cfg, MELS, len(read_classes(split_dir)))})
    ev = cfg["evaluation"]
    sets = ["test"]  # the one evaluation set synthetic_setup makes
    settings = Settings.from_config(
        {**{k: ev[k] for k in ("threshold", "segment_s", "postprocess", "metrics")}, "sets": sets}
    )

    def one_epoch() -> None:
        r = tmp / "eval" / "epoch_run"
        shutil.rmtree(r, ignore_errors=True)
        train(r, feat, split_dir, model_cfg, training, 0)

    def score_all() -> None:
        pred = tmp / "eval" / "pred"
        shutil.rmtree(pred, ignore_errors=True)
        predict_run(
            run,
            feat,
            split_dir,
            pred,
            model_cfg,
            ev["n_checkpoints"],
            ev["selection"],
            ev["batch_size"],
            "cpu",
            sets,
            torch.get_num_threads(),  # as the workflow runs it: --threads of the job
        )
        score_predictions(pred, index, settings, "urban_sed", "hcrnn128", 0)

    # warm-up, untimed: first calls pay thread pools, the allocator and kernel selection (channels_last pooling)
    one_epoch()
    score_all()
    log(f"evaluation vs one epoch, {reps} interleaved reps after a warm-up of each")
    med = interleaved({"epoch": one_epoch, "score10": score_all}, reps)
    add("eval_10_checkpoints_s", med["score10"], "s")
    add("train_one_epoch_s", med["epoch"], "s (incl. validation and checkpoint)")
    add("eval_10_checkpoints_over_one_epoch", med["score10"] / med["epoch"], "ratio")

    # PSDS's cost: psds_eval at its operating points against event F1, both on the first checkpoint's predictions
    # just scored, with evaluation.metric_params (the DCASE evaluation's: 50 thresholds); each call builds the chain
    # anew, so each pays for its own events
    mp = ev["metric_params"]
    entries = [{"name": name, "params": mp[name]} for name in ("event_f1", "psds")]
    dcase = Settings.from_config(
        {**{k: ev[k] for k in ("threshold", "segment_s", "postprocess")}, "metrics": {"frames": entries}, "sets": sets}
    )
    npz = epoch_files(tmp / "eval" / "pred" / "test")[0][1]
    (f1, f1_params), (ps, ps_params) = dcase.metrics_for("frames")

    def event_f1() -> None:
        f1.compute(checkpoint_inputs(npz, index, dcase), f1_params)

    def psds() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # psds_eval's deprecation warnings, once per operating point
            ps.compute(checkpoint_inputs(npz, index, dcase), ps_params)

    n = max(3, reps)  # seconds each on 6 clips: a median of 3 at least
    log(f"PSDS ({len(psds_thresholds(ps_params['thresholds']))} operating points) vs event F1, {n} interleaved reps")
    med = interleaved({"event_f1": event_f1, "psds": psds}, n)
    add("event_f1_one_checkpoint_s", med["event_f1"], "s")
    add("psds_one_checkpoint_s", med["psds"], "s")
    add("psds_over_event_f1_one_checkpoint", med["psds"] / med["event_f1"], "ratio")


# ----------------------------------------------------------------------------------------------- main


def write_summary(out: Path, started: float) -> None:
    mach = machine()
    df = pd.DataFrame(rows, columns=["metric", "value", "unit"]).assign(machine=mach)
    write_csv(out / "summary.csv", df)
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {mach}. Date: {time.strftime('%Y-%m-%d')}. Wall time {time.time() - started:.0f} s.",
        f"Rerun: `{' '.join(['python', 'benchmarks/run.py', *sys.argv[1:]])}` (or `snakemake --cores all benchmarks`).",
        "",
        "| metric | value | unit |",
        "|---|---|---|",
        *[f"| {r['metric']} | {r['value']} | {r['unit']} |" for r in rows],
        "",
    ]
    write_text(out / "summary.md", "\n".join(lines))
    provenance.write_sidecar(
        out / "summary.md", {"argv": sys.argv[1:], "metrics": [r["metric"] for r in rows]}, inputs=[Path(__file__)]
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(REPO / "results" / "benchmarks"))
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--reps", type=int, default=3, help="interleaved reps of the training steps without time pooling")
    p.add_argument("--reps-pool", type=int, default=5, help="interleaved reps of the training steps with time pooling")
    p.add_argument("--reps-small", type=int, default=5, help="interleaved reps of the cheaper measurements")
    p.add_argument("--reps-eval", type=int, default=3, help="interleaved reps of evaluation vs one epoch")
    p.add_argument(
        "--clips",
        type=int,
        default=32,
        help="10 s clips for the feature benchmark (a stage's fixed cost is spread over them as over a dataset)",
    )
    p.add_argument("--quick", action="store_true", help="fewer reps and clips (a smoke run; noisier numbers)")
    p.add_argument("--skip", nargs="*", default=[], choices=["train", "rnn", "features", "loader", "eval", "gpu"])
    p.add_argument(
        "--dessed",
        action="store_true",
        help="also time the dessed paper's polyphonic models at paper width (about 2 more minutes on 2 cores)",
    )
    p.add_argument(
        "--dessed-batch", type=int, default=2, help="batch of the dessed step timing (the paper trained with 16)"
    )
    args = p.parse_args()
    if args.quick:
        args.reps, args.reps_pool, args.reps_small, args.reps_eval, args.clips = 1, 2, 3, 1, 8
    torch.set_num_threads(args.threads)
    started = time.time()
    cpu = torch.device("cpu")
    with tempfile.TemporaryDirectory(prefix="sedrepro-bench-") as t:
        tmp = Path(t)
        if "rnn" not in args.skip:
            bench_recurrent(args.reps_small, cpu, "")
            if args.threads > 1:  # also on one thread: nn.LSTM (one fused oneDNN kernel) gains more from threads
                torch.set_num_threads(1)
                bench_recurrent(args.reps_small, cpu, "1thread_", goal=False, variants=False)
                torch.set_num_threads(args.threads)
        if "features" not in args.skip:
            bench_features(tmp, args.clips, args.reps_small, args.threads)
        if "eval" not in args.skip:
            bench_eval(tmp, args.reps_eval)
        step = None
        if "train" not in args.skip:
            step = bench_train_steps({"pool_time": args.reps_pool, "no_pool_time": args.reps}, cpu, "")
        if "loader" not in args.skip and step is not None:
            bench_loader(tmp, step, args.reps_small)
        if args.dessed:
            bench_dnd_steps(args.reps, args.dessed_batch, cpu)
        if torch.cuda.is_available() and "gpu" not in args.skip:
            gpu = torch.device("cuda")
            bench_recurrent(20, gpu, "gpu_")
            bench_train_steps({"pool_time": 10, "no_pool_time": 10}, gpu, "gpu_")
        else:
            for m in ("gpu_hcrnn128_over_crnn_uni_train_step_worst", "gpu_hyper128_rnn_over_lstm_rnn_layer"):
                add(m, "not measured", "no GPU on this machine")
    write_summary(Path(args.out), started)
    log(f"wrote {args.out}/summary.csv and summary.md in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
