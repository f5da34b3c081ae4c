"""Provenance records and the one-configuration check of a results tree (no Snakemake)."""

import hashlib
import importlib.util
import json

import pytest

from sedrepro import config as sconfig
from sedrepro import provenance
from sedrepro.config import REPO
from sedrepro.io import InputError


def _record(tmp_path, monkeypatch, files, overrides=None, edit=None):
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    config = {
        "results_root": "results",
        "papers": ["a"],
        "training": {"threads": 2, "learning_rate": 0.1},
        "models": {"m": {"training": {"compile": True}}},
        "audio": {"threads": 4},
    }
    if edit:
        edit(config)
    return sconfig.configuration_record(config, [tmp_path / n for n in files], overrides or {})


def test_configuration_record_names_files_and_ignores_speed_and_selection(tmp_path, monkeypatch):
    rec = _record(tmp_path, monkeypatch, {"config.yaml": "a: 1\n"})
    assert rec["files"] == [{"path": "config.yaml", "sha256": hashlib.sha256(b"a: 1\n").hexdigest()}]
    assert rec["identity"] == {"files": ["config.yaml"], "overrides": {}, "results_root": "results"}
    same = _record(
        tmp_path,
        monkeypatch,
        {"config.yaml": "a: 1\n"},
        overrides={"papers": ["b"]},
        edit=lambda c: (c["training"].update(threads=8), c["audio"].update(threads=1), c.update(papers=["b"])),
    )
    assert same["settings_sha256"] == rec["settings_sha256"] and same["identity"] == rec["identity"]
    other = _record(
        tmp_path, monkeypatch, {"config.yaml": "a: 1\n"}, edit=lambda c: c["training"].update(learning_rate=0.2)
    )
    assert other["settings_sha256"] != rec["settings_sha256"]


def _sidecar(tmp_path, name, configuration):
    path = tmp_path / f"{name}.provenance.json"
    path.write_text(json.dumps({"configuration": configuration}))
    return path


def test_one_configuration_check(tmp_path, monkeypatch):
    tiny = _record(tmp_path, monkeypatch, {"config.yaml": "a: 1\n", "config/tiny.yaml": "b: 1\n"})
    real = _record(tmp_path, monkeypatch, {"config.yaml": "a: 1\n", "config/real.yaml": "b: 2\n"})
    a, b = _sidecar(tmp_path, "a", tiny), _sidecar(tmp_path, "b", tiny)
    assert provenance.check_one_configuration([a, b], tiny) == []
    c = _sidecar(tmp_path, "c", real)
    with pytest.raises(InputError) as err:
        provenance.check_one_configuration([a, b, c], tiny)
    assert "found 2: config.yaml, config/tiny.yaml (results root results): 2 outputs" in str(err.value)
    assert "config/real.yaml" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="expected outputs of config.yaml, config/tiny.yaml"):
        provenance.check_one_configuration([c], tiny)
    with pytest.raises(InputError, match="expected the configuration that made this output, found none"):
        provenance.check_one_configuration([_sidecar(tmp_path, "d", None)], tiny)
    edited = {**tiny, "settings_sha256": "0" * 64}
    warnings = provenance.check_one_configuration([_sidecar(tmp_path, "e", edited), a], tiny)
    assert len(warnings) == 1 and "e.provenance.json: made with other settings" in warnings[0]


def test_sidecar_lists_inputs_with_digests_and_the_configuration(tmp_path, monkeypatch):
    (tmp_path / "in.txt").write_text("x")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "f").write_text("y")
    monkeypatch.setenv(provenance.CONFIGURATION_ENV, json.dumps({"identity": {"files": ["c.yaml"]}}))
    out = provenance.write_sidecar(tmp_path / "table1.md", {"k": 1}, inputs=[tmp_path / "in.txt", tmp_path / "folder"])
    assert out == tmp_path / "table1.provenance.json"
    prov = json.loads(out.read_text())
    assert prov["configuration"] == {"identity": {"files": ["c.yaml"]}} and prov["config"] == {"k": 1}
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in prov["inputs"]}
    assert by_name["in.txt"]["sha256"] == hashlib.sha256(b"x").hexdigest() and by_name["folder"]["files"] == 1
    assert set(prov["git"]) == {"commit", "dirty"} and prov["machine"]["cpu"]
    monkeypatch.delenv(provenance.CONFIGURATION_ENV)
    assert provenance.collect({})["configuration"] is None  # run by hand: said, not guessed


def test_benchmark_summary_has_a_sidecar(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "benchmarks" / "run.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.add("example_ratio", 1.5, "ratio")
    bench.write_summary(tmp_path, 0.0)
    prov = json.loads((tmp_path / "summary.provenance.json").read_text())
    assert prov["config"]["metrics"] == ["example_ratio"] and prov["inputs"][0]["path"].endswith("run.py")
