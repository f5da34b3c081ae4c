"""Audio rate per pipeline, precomputed features and dataset names in the workflow's plan (dry runs of a fresh copy)."""

import pytest
import yaml
from test_workflow import DATA, RESULTS, fresh_copy, planned_jobs, snakemake

pytestmark = pytest.mark.workflow

TUT = "tut_sed_synthetic_2016"


def _edit(path, change) -> None:
    cfg = yaml.safe_load(path.read_text())
    change(cfg)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def test_two_pipelines_at_two_rates_share_one_run(tmp_path):
    workdir = fresh_copy(tmp_path / "repo")
    _edit(
        workdir / "config" / "tiny.yaml",
        lambda cfg: cfg.setdefault("pipelines", {}).update(
            {"mfcc40_poly": {"sample_rate": 16000, "features": {"f_max": 8000.0}}}
        ),
    )
    targets = [f"{DATA}/features/{TUT}/{p}/features.npy" for p in ("logmel96", "mfcc40_poly")]
    assert planned_jobs(workdir, *targets)["resample_audio"] == 2  # one per rate
    proc = snakemake(workdir, "-n", "-p", *targets)
    out = proc.stdout + proc.stderr
    for rate, pipeline in ((22050, "logmel96"), (16000, "mfcc40_poly")):
        assert f"--out {DATA}/audio/{TUT}/{rate} --sample-rate {rate}" in out
        command = next(line for line in out.splitlines() if f"--out {DATA}/features/{TUT}/{pipeline} " in line)
        assert f"--audio={DATA}/audio/{TUT}/{rate} " in command and f'"sample_rate": {rate},' in command


def test_precomputed_features_plan_no_audio_jobs(tmp_path):
    workdir = fresh_copy(tmp_path / "repo")
    shipped = {"kind": "precomputed", "path": "features/mfcc", "hop_s": 0.01, "n_features": 40}
    _edit(workdir / "config.yaml", lambda cfg: cfg["pipelines"]["mfcc40_poly"].update(features=shipped))
    jobs = planned_jobs(workdir, f"{RESULTS}/dessed/table4.md")  # the mfcc40_poly models on TUT-SED only
    assert jobs["extract_features"] == 1 and jobs["make_splits"] == 1 and jobs["train_model"] == 5
    assert "resample_audio" not in jobs
    proc = snakemake(workdir, "-n", "-p", f"{DATA}/features/{TUT}/mfcc40_poly/features.npy")
    command = next(line for line in (proc.stdout + proc.stderr).splitlines() if "python -m sedrepro.features" in line)
    assert (
        f"--audio= --root={DATA}/datasets/{TUT}/extracted/TUT-SED-synthetic-2016 --index={DATA}/index/{TUT} " in command
    )
    assert '"kind": "precomputed"' in command and "sample_rate" not in command


def test_a_dataset_name_is_checked_against_the_registry(tmp_path):
    workdir = fresh_copy(tmp_path / "repo")
    _edit(workdir / "config.yaml", lambda cfg: cfg["datasets"].update(urbansound=cfg["datasets"]["urbansound8k"]))
    proc = snakemake(workdir, "-n", check=False)
    assert proc.returncode != 0
    assert (
        "config key 'datasets/urbansound': expected a registered dataset (audioset, desed, tut_sed_synthetic_2016, urban_sed, "
        "urbansound8k), found 'urbansound'"
    ) in proc.stdout + proc.stderr
