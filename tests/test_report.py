"""`snakemake --report report.html` on the shared tiny run: one self-contained page with every table, figure and audit,
opened in headless Chromium and clicked through as a reader would."""

import os
import re
from pathlib import Path

import pytest
from browser import Browser, chromium, file_url
from test_workflow import RESULTS, snakemake

pytestmark = pytest.mark.workflow

MENU = "[...document.querySelectorAll('#app a')]"
ROWS = "[...document.querySelectorAll('#app tbody tr')]"


@pytest.fixture(scope="module")
def report(built) -> Path:
    snakemake(built, "--report", "report.html")
    return built / "report.html"


@pytest.fixture(scope="module")
def browser():
    executable = chromium()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("chromium not found, and CI is set (.ci/run installs it)")
        pytest.skip("chromium not found (Debian: apt-get install chromium)")
    with Browser(executable) as b:
        yield b


def test_report_contains_every_table(report):
    html = report.read_text(encoding="utf-8")
    for name in ["table1.html", "table2.html", "table1.png", "table2.png", "audit.html", "figure10.png"]:
        assert name in html, f"report.html does not mention {name}"
    for dataset in ["tut_sed_synthetic_2016", "urban_sed"]:
        assert f"{dataset}.html" in html
    # the captions (report/*.rst) and the workflow description (report/workflow.rst) are rendered in
    assert "paper / reproduced (delta)" in html
    assert "Hypernetworks for Sound Event Detection" in html


def open_category(b: Browser, report: Path, category: str) -> tuple[str, list[list[str]]]:
    """A fresh page of the report with one category of results listed: the session and the rows' label cells."""
    session = b.open(file_url(report))
    b.wait_for(session, f"{MENU}.some(a => a.textContent.trim() === {category!r})")
    b.evaluate(session, f"{MENU}.find(a => a.textContent.trim() === {category!r}).click()")
    b.wait_for(session, f"{ROWS}.length > 0")
    rows = b.evaluate(session, f"{ROWS}.map(r => [...r.querySelectorAll('td')].map(td => td.innerText.trim()))")
    return session, [[cell for cell in row if cell] for row in rows]


def shown(b: Browser, report: Path, category: str, labels: list[str]) -> str:
    """Click the eye icon of the entry with these labels; the text the report then shows beside the list."""
    session, rows = open_category(b, report, category)
    assert labels in rows, f"no entry {labels} in {category}: {rows}"
    index = rows.index(labels)
    b.evaluate(session, f"{ROWS}[{index}].querySelector('div[role=group] a').click()")
    b.wait_for(session, "document.querySelector('#app iframe') !== null")
    (text,) = b.frame_text(session)
    return text


def cells(md: Path) -> list[list[str]]:
    return [
        [c.strip() for c in line.strip("|").split("|")] for line in md.read_text().splitlines() if line.startswith("| ")
    ]


def test_tables_audits_and_datasets_show_inside_the_report(built, report, browser):
    out = built / RESULTS
    table = cells(out / "hypernetworks" / "table1.md")
    text = shown(browser, report, "Tables", ["hypernetworks", "Table 1"])
    rain = next(row for row in table if row[0] == "Rain")
    assert "\t".join(rain) in text  # a row of paper / reproduced (delta) cells, as in table1.md
    assert "Data: embedded synthetic stand-in data" in text  # and the notes

    text = shown(browser, report, "Audit", ["dessed"])
    size = next(row for row in cells(out / "dessed" / "audit.md") if row[:2] == ["table4", "Baseline"])
    assert "\t".join(size) in text and "bytes per parameter" in size[-1]  # a finding
    assert "Model size on disk vs number of parameters" in text

    text = shown(browser, report, "Datasets", ["urban_sed"])
    split = next(row for row in cells(out / "datasets" / "urban_sed.md") if row[0] == "test")
    assert "Dataset statistics: urban_sed" in text and "\t".join(split) in text


def test_figures_are_listed_by_number(report, browser):
    _, rows = open_category(browser, report, "Figures")
    dessed = [re.sub(r"\s+", " ", label) for paper, label in rows if paper == "dessed"]
    assert dessed == [f"Figure {n}" for n in (1, 4, 9, 10, 11, 12, 13, 14, 15)] + [f"Table {n}" for n in (1, 2, 3, 4)]


def test_parameters_are_shown_without_shell_quoting(report, browser):
    session, rows = open_category(browser, report, "Audit")
    index = rows.index(["dessed"])
    browser.evaluate(session, f"{ROWS}[{index}].querySelectorAll('div[role=group] a')[1].click()")  # information
    note = (
        "note=embedded synthetic stand-in data packed like TUT-SED-synthetic-2016.meta.zip"  # plain, not shell-quoted
    )
    browser.wait_for(session, f"document.body.innerText.includes({note!r})")
    assert "'\"'\"'" not in browser.evaluate(session, "document.body.innerText")
