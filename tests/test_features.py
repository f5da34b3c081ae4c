"""Log-mel features: torchaudio against librosa on the same audio, and the frame bookkeeping. (MFCCs and the config
dict: test_features_mfcc.py.)"""

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from sedrepro.audio import BlockResampler, load_mono, resample
from sedrepro.features import FeatureConfig, FeatureTransform, extract_dataset
from sedrepro.io import InputError, write_tsv

CFG = FeatureConfig(
    kind="logmel",
    sample_rate=22050,
    n_mels=96,
    n_fft=1024,
    hop_length=256,
    f_min=50.0,
    f_max=11025.0,
    n_mfcc=None,
    top_db=None,
)
# Stated tolerance: torchaudio and librosa agree within 0.01 dB on every bin above -100 dB (float32 FFTs differ
# only in rounding); bins near the 1e-10 floor are compared on the clipped value.
TOL_DB = 0.01


def test_logmel_matches_librosa():
    rng = np.random.default_rng(0)
    t = np.arange(int(1.5 * CFG.sample_rate)) / CFG.sample_rate
    wave = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    ours = FeatureTransform(CFG)(torch.from_numpy(wave)).numpy()  # (frames, mels)
    mel = librosa.feature.melspectrogram(
        y=wave,
        sr=CFG.sample_rate,
        n_fft=CFG.n_fft,
        hop_length=CFG.hop_length,
        n_mels=CFG.n_mels,
        fmin=CFG.f_min,
        fmax=CFG.f_max,
        power=2.0,
        center=True,
        pad_mode="constant",
    )
    ref = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None).T
    assert ours.shape == ref.shape == (CFG.n_frames(len(wave)), 96)
    assert np.abs(ours - ref).max() < TOL_DB


def test_nyquist_is_checked():
    with pytest.raises(InputError, match="f_max"):
        FeatureConfig("logmel", 16000, 64, 512, 160, 0.0, 11025.0)


def test_resample_and_mono(tmp_path):
    stereo = np.stack([np.ones(44100), -np.ones(44100) * 0.5], axis=1).astype(np.float32)
    sf.write(tmp_path / "a.wav", stereo, 44100)
    wave, sr, channels = load_mono(tmp_path / "a.wav")
    assert (sr, channels) == (44100, 2) and np.allclose(wave, 0.25, atol=1e-4)  # 16-bit PCM
    assert len(resample(wave, 44100, 22050)) == 22050


def test_empty_and_garbage_audio_fail_clearly(tmp_path):
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    with pytest.raises(InputError, match="junk.wav: expected an audio file"):
        load_mono(tmp_path / "junk.wav")
    sf.write(tmp_path / "empty.wav", np.zeros((0, 1), dtype=np.float32), 22050)
    with pytest.raises(InputError, match="empty.wav: expected at least one audio sample"):
        load_mono(tmp_path / "empty.wav")


def test_extract_dataset_concatenates_clips(tmp_path):
    rows = []
    for i, n in enumerate([22050, 30000]):
        sf.write(
            tmp_path / f"c{i}.wav",
            np.random.default_rng(i).standard_normal(n).astype(np.float32) * 0.1,
            22050,
            subtype="FLOAT",
        )
        rows.append({"file_id": f"c{i}", "split": "train", "path": f"c{i}.wav", "n_samples": n})
    write_tsv(tmp_path / "audio.tsv", pd.DataFrame(rows))
    frames = extract_dataset(tmp_path, tmp_path / "out", CFG)
    store = np.load(tmp_path / "out" / "features.npy", mmap_mode="r")
    assert list(frames.n_frames) == [CFG.n_frames(22050), CFG.n_frames(30000)]
    assert list(frames.start) == [0, CFG.n_frames(22050)]
    assert store.shape == (sum(frames.n_frames), 96)
    wave, _ = sf.read(tmp_path / "c1.wav", dtype="float32")
    expected = FeatureTransform(CFG)(torch.from_numpy(wave)).numpy()
    assert np.array_equal(store[frames.start[1] :], expected)


@pytest.mark.parametrize(
    ("orig", "target", "n"),
    [
        (44100, 22050, 441001),
        (48000, 22050, 48000),
        (16000, 22050, 16001),
        (44100, 22050, 1),
        (22050, 44100, 2205),
        (32000, 22050, 3200),
        (44100, 16000, 4411),
        (8000, 22050, 7),
    ],
)
def test_resample_equals_torchaudio(orig, target, n):
    """The block-matrix resampler is torchaudio.functional.resample up to float rounding, for down- and upsampling,
    rate pairs with one or many outputs per frame, and inputs shorter than one block."""
    import torchaudio.functional as AF

    wave = np.random.default_rng(orig + n).standard_normal(n).astype(np.float32) * 0.3
    ours = resample(wave, orig, target)
    ref = AF.resample(torch.from_numpy(wave), orig, target).numpy()
    assert ours.shape == ref.shape and ours.dtype == np.float32
    assert np.abs(ours - ref).max() < 5e-5  # torchaudio's own float32 conv1d is off by up to 1.6e-5 here
    exact = BlockResampler(orig, target)  # the same kernel and arithmetic in float64
    exact.block = exact.block.double()
    assert np.abs(ours - exact(torch.from_numpy(wave).double()).numpy()).max() < 1e-6


@pytest.mark.parametrize(
    ("fmt", "subtype"),
    [
        ("WAV", "PCM_16"),
        ("WAV", "PCM_24"),
        ("WAV", "PCM_32"),
        ("WAV", "PCM_U8"),
        ("WAV", "FLOAT"),
        ("FLAC", "PCM_16"),
        ("FLAC", "PCM_24"),
    ],
)
@pytest.mark.parametrize("channels", [1, 2])
def test_load_mono_equals_libsndfile_float_decode(tmp_path, fmt, subtype, channels):
    """Integer PCM is read as integers and scaled in numpy: the same float32 values as libsndfile's float decode,
    full-scale extremes included."""
    rng = np.random.default_rng(channels)
    data = np.clip(rng.standard_normal((4000, channels)) * 0.5, -1, 1)
    data[:2] = [[-1.0] * channels, [1.0] * channels]
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, data, 22050, format=fmt, subtype=subtype)
    ref, _ = sf.read(path, dtype="float32", always_2d=True)
    wave, sr, n_channels = load_mono(path)
    assert (sr, n_channels) == (22050, channels)
    assert wave.dtype == np.float32
    assert np.array_equal(wave, ref[:, 0] if channels == 1 else ref.mean(axis=1))


def test_resample_batch_equals_one_by_one():
    """Leading axes are clips: each row resampled alone gives the same bytes."""
    wave = np.random.default_rng(3).standard_normal((3, 4410)).astype(np.float32)
    batch = resample(wave, 44100, 22050)
    assert batch.shape == (3, 2205)
    for row, out in zip(wave, batch, strict=True):
        assert np.array_equal(resample(np.ascontiguousarray(row), 44100, 22050), out)


def test_extract_dataset_reads_resample_stage_npy(tmp_path):
    wave = np.random.default_rng(3).standard_normal(30000).astype(np.float32) * 0.1
    np.save(tmp_path / "c0.npy", wave)
    rows = [{"file_id": "c0", "split": "train", "path": "c0.npy", "n_samples": 30000, "sample_rate": 22050}]
    write_tsv(tmp_path / "audio.tsv", pd.DataFrame(rows))
    extract_dataset(tmp_path, tmp_path / "out", CFG)
    store = np.load(tmp_path / "out" / "features.npy")
    assert np.array_equal(store, FeatureTransform(CFG)(torch.from_numpy(wave)).numpy())
    write_tsv(tmp_path / "audio.tsv", pd.DataFrame([{**rows[0], "sample_rate": 16000}]))
    with pytest.raises(InputError, match="c0.npy: expected sample rate 22050, found 16000"):
        extract_dataset(tmp_path, tmp_path / "out2", CFG)
