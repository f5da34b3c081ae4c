"""`snakemake --report report.html` on the shared tiny run: one self-contained page with every table, figure and audit."""

import pytest
from test_workflow import snakemake

pytestmark = pytest.mark.workflow


def test_report_contains_every_table(built):
    snakemake(built, "--report", "report.html")
    html = (built / "report.html").read_text(encoding="utf-8")
    for name in ["table1.md", "table2.md", "table1.png", "table2.png", "audit.md"]:
        assert name in html, f"report.html does not mention {name}"
    for dataset in ["tut_sed_synthetic_2016", "urban_sed"]:
        assert f"{dataset}.md" in html
    # the captions (report/*.rst) and the workflow description (report/workflow.rst) are rendered in
    assert "paper / reproduced (delta)" in html
    assert "Hypernetworks for Sound Event Detection" in html
