"""The stages' shared entry point: what reaches the terminal and what only the log file."""

import logging

from sedrepro import cli


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
