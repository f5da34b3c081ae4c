"""The stages' shared entry point: what reaches the terminal and what only the log file."""

import logging
import os
import subprocess
import sys

import pytest

from sedrepro import cli
from sedrepro.config import REPO


def _stage(args):
    logging.getLogger("sedrepro.stage").info("an info line")
    logging.getLogger("sedrepro.stage").warning("a warning line")


def test_with_a_log_file_the_terminal_gets_only_warnings(tmp_path, capsys):
    log = tmp_path / "stage.log"
    cli.run(_stage, cli.parser("stage"), ["--log", str(log)])
    terminal = capsys.readouterr().err
    assert "a warning line" in terminal and "an info line" not in terminal and "done in" not in terminal
    text = log.read_text()
    assert "an info line" in text and "a warning line" in text and "done in" in text


def test_without_a_log_file_the_terminal_gets_everything(capsys):
    cli.run(_stage, cli.parser("stage"), [])
    terminal = capsys.readouterr().err
    assert "an info line" in terminal and "a warning line" in terminal and "done in" in terminal


def test_a_stage_imports_the_plugins_named_in_the_environment(tmp_path, monkeypatch, capsys):
    (tmp_path / "glue_test_plugin.py").write_text("import sys\nsys.modules[__name__].imported = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "glue_test_plugin", raising=False)
    monkeypatch.setenv(cli.PLUGINS_ENV, "glue_test_plugin")
    seen = []
    cli.run(lambda args: seen.append("glue_test_plugin" in sys.modules), cli.parser("stage"), [])
    assert seen == [True]  # imported before the stage ran


def test_a_plugin_that_cannot_be_imported_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv(cli.PLUGINS_ENV, "no_such_glue_plugin")
    with pytest.raises(SystemExit) as exit_:
        cli.run(_stage, cli.parser("stage"), [])
    assert exit_.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert lines == [
        "error: environment variable SEDREPRO_PLUGINS: expected an importable module, found "
        "'no_such_glue_plugin' (No module named 'no_such_glue_plugin')"
    ]


def test_a_stage_cli_imports_the_plugins_in_its_own_process(tmp_path):
    """As in a workflow job: `python -m sedrepro.<stage>` with the variable the job's shell exports."""
    marker = tmp_path / "imported.txt"
    (tmp_path / "glue_test_marker.py").write_text(
        f"import pathlib, sys\npathlib.Path({str(marker)!r}).write_text(' '.join(sys.argv))\n"
    )
    env = {
        **os.environ,
        cli.PLUGINS_ENV: "glue_test_marker",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO / "src")]),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sedrepro.datasets.stats",
            "--dataset",
            "urban_sed",
            "--index",
            str(tmp_path / "missing"),
            "--data-note",
            "x",
            "--md",
            str(tmp_path / "a.md"),
            "--html",
            str(tmp_path / "a.html"),
            "--csv",
            str(tmp_path / "a.csv"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "missing/files.tsv: expected the index table" in proc.stderr, proc.stderr[-2000:]
    assert "sedrepro/datasets/stats.py" in marker.read_text()
