"""Real downloads: the notice of what they need (once per dataset), retries with backoff, each try printed once."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_workflow import fresh_copy

from sedrepro import config as sconfig
from sedrepro.datasets import archive
from sedrepro.download import missing_copies, notice, notices
from sedrepro.io import InputError

PAPER = sconfig.load([sconfig.REPO / "config.yaml", sconfig.REPO / "config" / "paper.yaml"])


def test_notice_states_sizes_access_and_the_local_copy_from_config() -> None:
    tut = notice("tut_sed_synthetic_2016", PAPER["datasets"]["tut_sed_synthetic_2016"])
    assert "TUT-SED-synthetic-2016.audio.1.zip (1,026,369,647 bytes)" in tut
    assert "4,421,668,303 bytes in all" in tut  # the guide's meta + audio total, summed from the entries
    assert "licence UNCONFIRMED" in tut and "Needs signed form" in tut
    urban = notice("urban_sed", PAPER["datasets"]["urban_sed"])
    assert "(size UNCONFIRMED; a third-party script says about 6.5 GB)" in urban and "CC BY 4.0" in urban
    us8k = notice("urbansound8k", PAPER["datasets"]["urbansound8k"])
    assert "(6,023,741,708 bytes, third-party figure: four independent" in us8k and "non-commercial" in us8k
    for text, root in ((tut, "TUT-SED-synthetic-2016/"), (urban, "URBAN-SED_v2.0.0/"), (us8k, "UrbanSound8K/")):
        assert "\n" not in text and ".." not in text and root in text
        assert "source: local" in text and "local_path" in text


def test_notices_only_for_downloads_still_to_do(tmp_path: Path) -> None:
    names = ["tut_sed_synthetic_2016", "urban_sed", "urbansound8k"]
    assert [n.split(":")[0] for n in notices(PAPER, names, str(tmp_path))] == names
    default = sconfig.load([sconfig.REPO / "config.yaml"])
    assert notices(default, names, str(tmp_path)) == []  # embedded: nothing to download
    (tmp_path / "datasets" / "urban_sed" / "extracted").mkdir(parents=True)
    (tmp_path / "archives" / "urbansound8k").mkdir(parents=True)
    (tmp_path / "archives" / "urbansound8k" / "UrbanSound8K.tar.gz").write_bytes(b"")
    assert [n.split(":")[0] for n in notices(PAPER, names, str(tmp_path))] == ["tut_sed_synthetic_2016"]


def test_a_copy_on_disk_that_is_not_there_is_named_once_with_what_to_do(tmp_path: Path) -> None:
    cfg = {"datasets": {name: dict(PAPER["datasets"][name]) for name in ("desed", "urban_sed")}}
    cfg["datasets"]["desed"]["local_path"] = str(tmp_path / "no_such_folder")
    (line,) = missing_copies(cfg, ["desed", "urban_sed"])  # urban_sed downloads: not a copy on disk
    assert line.startswith("desed: datasets/desed/local_path is ") and "no_such_folder" in line and "\n" not in line
    assert "index_dataset will stop there" in line and "--config papers=" in line
    cfg["datasets"]["desed"]["local_path"] = "relative/nowhere"
    assert f"({Path.cwd() / 'relative' / 'nowhere'})" in missing_copies(cfg, ["desed"])[0]  # resolved as the run would
    cfg["datasets"]["desed"]["local_path"] = str(tmp_path)
    assert missing_copies(cfg, ["desed"]) == []


def test_retries_back_off_exponentially_and_log_each_try_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(archive.time, "sleep", waits.append)
    urls = [(tmp_path / "a.zip").as_uri(), (tmp_path / "b.zip").as_uri()]
    with caplog.at_level(logging.INFO), pytest.raises(InputError) as err:
        archive.fetch(urls, tmp_path / "out" / "x.zip", md5="0" * 32, sha256=None, retries=3, backoff_s=2.0)
    assert waits == [2.0, 4.0, 8.0]
    tries = [r.getMessage() for r in caplog.records if ", mirror " in r.getMessage()]
    assert len(tries) == 8 and len(set(tries)) == 8  # 4 rounds x 2 mirrors, each once
    assert sum("round 2 of 4 in 2 s" in r.getMessage() for r in caplog.records) == 1
    assert "8 failed tries (4 round(s)" in str(err.value) and "\n" not in str(err.value)


def test_a_mirror_that_comes_back_is_used_and_a_mismatch_is_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = b"archive bytes"
    src = tmp_path / "a.zip"

    def appear(seconds: float) -> None:  # the mirror answers again after the first wait
        src.write_bytes(payload)

    monkeypatch.setattr(archive.time, "sleep", appear)
    dest = tmp_path / "out" / "a.zip"
    archive.fetch([src.as_uri()], dest, md5=hashlib.md5(payload).hexdigest(), sha256=None, retries=2, backoff_s=1.0)
    assert dest.read_bytes() == payload
    dest.unlink()
    waits: list[float] = []
    monkeypatch.setattr(archive.time, "sleep", waits.append)
    with pytest.raises(InputError, match="expected md5 0000"):
        archive.fetch([src.as_uri()], dest, md5="0" * 32, sha256=None, retries=2, backoff_s=1.0)
    assert waits == []


# ---- through Snakemake, in a fresh copy of the workflow --------------------------------------------------------------


def run_snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_dry_run_of_the_paper_config_says_once_per_dataset_what_the_download_needs(tmp_path: Path) -> None:
    workdir = fresh_copy(tmp_path / "repo")
    proc = run_snakemake(workdir, "-n", "--configfile", "config/paper.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    lines = [line for line in out.splitlines() if line.startswith("Download needed: ")]
    named = sorted(line.split(":")[1].strip() for line in lines)
    assert named == ["audioset", "tut_sed_synthetic_2016", "urban_sed", "urbansound8k"]  # desed: source local
    for line in lines:
        assert out.count(line) == 1 and "Licence or access: " in line and "source: local" in line
    # DESED is read from disk (config/paper.yaml's local_path), which a fresh copy does not have: said once, up front
    missing = [line for line in out.splitlines() if line.startswith("Local copy missing: ")]
    assert len(missing) == 1 and missing[0].startswith("Local copy missing: desed: datasets/desed/local_path is ")


def test_failed_download_prints_each_try_once_and_the_error_once(tmp_path: Path) -> None:
    workdir = fresh_copy(tmp_path / "repo")
    missing = [(tmp_path / mirror / "UrbanSound8K.tar.gz").as_uri() for mirror in ("mirror1", "mirror2")]
    override = {
        "download": {"retries": 2, "backoff_s": 0.1},
        "papers": ["dessed"],
        "datasets": {
            "urbansound8k": {
                "source": "download",
                "archives": [{"name": "UrbanSound8K.tar.gz", "md5": "0" * 32, "bytes": 10, "urls": missing}],
            }
        },
    }
    (workdir / "config" / "broken.yaml").write_text(yaml.safe_dump(override))
    target = "data/archives/urbansound8k/UrbanSound8K.tar.gz"
    proc = run_snakemake(workdir, target, "--configfile", "config/broken.yaml")  # target before it: it takes several
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    tries = [line for line in out.splitlines() if ", mirror " in line]
    assert len(tries) == 6, out[-4000:]  # 3 rounds x 2 mirrors
    for n, url in ((1, missing[0]), (2, missing[1])):
        for r in (1, 2, 3):
            assert sum(f"round {r} of 3, mirror {n} of 2: {url}" in line for line in tries) == 1
    errors = [line for line in out.splitlines() if "expected a download from one of 2 URL(s)" in line]
    assert len(errors) == 1 and errors[0].startswith("error: ") and "6 failed tries" in errors[0]
    assert sum("every mirror failed; round 2 of 3 in 0.1 s" in line for line in out.splitlines()) == 1  # each wait once
    assert sum(line.startswith("Download needed: urbansound8k:") for line in out.splitlines()) == 1
    assert not (workdir / target).exists()


# ---- AudioSet: an archive and plain files, one of them without a published checksum ----------------------------------


def test_paper_config_pins_audioset_downloads_as_the_guide_gives_them() -> None:
    from sedrepro import workflow

    entries = {a["name"]: a for a in PAPER["datasets"]["audioset"]["archives"]}
    guide = {  # dataset guide section 5: sha256 (TF) and bytes
        "features.tar.gz": ("cd95d500ab2422d4233cb822e25cf73033633e2068eab64d39024e85125cb760", 2_588_881_044),
        "balanced_train_segments.csv": ("3b83e5ff9ed72cfda37d4e36ce08250e107c1ea70f109f6ab6668ac200db5e94", 1_211_931),
        "eval_segments.csv": ("f7055f53935f70e74e39494a5c8c4c78f1700fce275028bd36e31186f33d45db", 1_143_389),
        "unbalanced_train_segments.csv": (
            "bb2dfd5e4f1ced39db9480633c510f813d7899f4b7472aa83a411b4a43a12698",
            101_468_408,
        ),
    }
    for name, (sha, size) in guide.items():
        assert (entries[name]["sha256"], entries[name]["bytes"]) == (sha, size)
        assert f"--sha256 {sha}" in workflow.source_args(PAPER, "audioset", name, {})
    assert entries["features.tar.gz"]["kind"] == "archive" and len(entries["features.tar.gz"]["urls"]) == 3
    index = entries["class_labels_indices.csv"]
    assert "md5" not in index and "sha256" not in index and "index stage checks its content" in index["pinned_by"]
    assert "--sha256" not in workflow.source_args(PAPER, "audioset", "class_labels_indices.csv", {})
    assert workflow.plain_files(PAPER, "audioset") == {
        name: f"audioset_v1_embeddings/{name}" for name in entries if name != "features.tar.gz"
    }
    text = notice("audioset", PAPER["datasets"]["audioset"])
    assert "features.tar.gz (2,588,881,044 bytes, 12,228 TFRecord files" in text and "CC BY 4.0" in text
    assert "class_labels_indices.csv (size UNCONFIRMED; no checksum, pinned by: no published checksum" in text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("digests", "ok"),
    [({"sha256": "0" * 64}, True), ({"pinned_by": "a content check"}, True), ({}, False),
     ({"sha256": "0" * 64, "pinned_by": "a content check"}, False)],
    ids=["sha256", "pinned_by", "none", "both"],
)  # fmt: skip
def test_an_archive_entry_is_pinned_exactly_one_way(digests: dict, ok: bool) -> None:
    import jsonschema

    schema = yaml.safe_load((sconfig.REPO / "config/schema.yaml").read_text())
    entry = {"name": "a.csv", "urls": ["http://example.org/a.csv"], "kind": "file", **digests}
    validator = jsonschema.Draft202012Validator({**schema["$defs"]["archive"], "$defs": schema["$defs"]})
    assert validator.is_valid(entry) == ok
