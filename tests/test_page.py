"""sedrepro.page: the same blocks as Markdown and as a standalone HTML page; report labels that sort by number."""

import pytest

from sedrepro import page

BLOCKS = [
    page.Heading(1, "table9: a <caption> & more"),
    page.Paragraph("Computed from `config/x.tsv`."),
    page.Table(["Category", "A", "B"], [["Cat&dog", "1.0 / 2.0 (+1.0)", "\u2013 / 3"], ["Average", "n/a", ""]], "lrr"),
    page.Paragraph("Notes:"),
    page.Bullets(["first <note>", "second"]),
]


def test_markdown_of_the_blocks():
    assert page.markdown(BLOCKS) == (
        "# table9: a <caption> & more\n\nComputed from `config/x.tsv`.\n\n"
        "| Category | A | B |\n|:---|---:|---:|\n| Cat&dog | 1.0 / 2.0 (+1.0) | \u2013 / 3 |\n| Average | n/a |  |\n\n"
        "Notes:\n\n- first <note>\n- second\n"
    )


def test_html_of_the_same_blocks_is_escaped_and_standalone():
    html = page.html(BLOCKS, "table9")
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "<title>table9</title>" in html
    assert "<h1>table9: a &lt;caption&gt; &amp; more</h1>" in html
    assert "<p>Computed from <code>config/x.tsv</code>.</p>" in html
    assert "<th>Category</th>" in html and "<td>Cat&amp;dog</td>\n      <td>1.0 / 2.0 (+1.0)</td>" in html
    assert "<li>first &lt;note&gt;</li>" in html
    # right-aligned number columns, the label column left
    assert "#t1 td:nth-child(2), #t1 th:nth-child(2) { text-align: right; }" in html and "nth-child(1)" not in html


def test_table_shape_is_checked():
    with pytest.raises(ValueError, match="align 'lr'"):
        page.Table(["a", "b", "c"], [["1", "2", "3"]], "lr")
    with pytest.raises(ValueError, match="row lengths"):
        page.Table(["a", "b"], [["1"]], "lr")


def test_number_labels_sort_by_number_as_strings():
    names = ["figure10", "figure4", "figure1", "table2", "figure15", "figure9"]
    labels = [page.number_label(n) for n in names]
    assert page.number_label("figure4") == "Figure  4" and page.number_label("table12") == "Table 12"
    # by code point here; the report's own sort (localeCompare) is checked in Chromium (tests/test_report.py)
    assert [n for _, n in sorted(zip(labels, names, strict=True))] == [
        "figure1",
        "figure4",
        "figure9",
        "figure10",
        "figure15",
        "table2",
    ]
    with pytest.raises(ValueError, match="figure4 or table10"):
        page.number_label("audit")
