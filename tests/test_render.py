"""`workbench report annual` end to end on the demo business: the notebook executed by papermill
with its parameters, the HTML with the code hidden and nothing loaded from outside, the PDF with
pages of text, every file owner-only."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell, new_notebook
from pypdf import PdfReader

from workbench import demo, pipeline
from workbench.errors import WorkbenchError
from workbench.reports import render
from workbench.ui import cli

YEAR = demo.TODAY.year
pytestmark = pytest.mark.skipif(not Path(render.CHROMIUM).exists(), reason="Debian chromium is missing")


@pytest.fixture(scope="module")
def report(demo_run: pipeline.Run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("annual") / f"annual-{YEAR}"
    status = cli.main(["--workspace", str(demo_run.workspace.path), "report", "annual", "--year", str(YEAR),
                       "--today", date.today().isoformat(), "--out", str(out)])
    assert status == 0
    return out


def test_the_report_files_are_written_owner_only(report: Path) -> None:
    names = {p.name for p in report.iterdir()}
    assert {"annual-report.ipynb", "annual-report.html", "annual-report.pdf", "inventory.csv",
            "summary.csv", "requests-per-type.csv"} <= names
    for path in report.iterdir():
        assert path.stat().st_mode & 0o077 == 0, path.name


def test_the_executed_notebook_has_the_injected_parameters(report: Path, demo_run: pipeline.Run) -> None:
    notebook = json.loads((report / "annual-report.ipynb").read_text("utf-8"))
    injected = [c for c in notebook["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1
    source = "".join(injected[0]["source"])
    assert f"year = {YEAR}" in source
    assert f'workspace = "{demo_run.workspace.path.resolve()}"' in source
    assert f'out = "{report.resolve()}"' in source
    errors = [o for c in notebook["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors


def test_the_html_hides_the_code(report: Path) -> None:
    html = (report / "annual-report.html").read_text("utf-8")
    code_cells = re.findall(r'class="(jp-Cell jp-CodeCell[^"]*)"', html)
    assert len(code_cells) > 10 and all("jp-mod-noInput" in c for c in code_cells)
    assert not re.search(r'class="[^"]*\bjp-(?:InputPrompt|OutputPrompt|CodeMirrorEditor)\b', html)
    assert "In&nbsp;[" not in html
    assert "from workbench import" not in html and "annual.figures(" not in html
    assert "For the analyst" not in html  # the cell tagged report-hide stays in the notebook only
    notebook = (report / "annual-report.ipynb").read_text("utf-8")
    assert "For the analyst" in notebook and render.HIDDEN_TAG in notebook
    assert "Management summary" in html and "R-2026-0008" in html  # narrated, with the overdue request
    assert html.count("src=\"data:image/svg+xml;base64,") >= 2  # the two charts, embedded


def test_the_html_refers_to_nothing_outside(report: Path) -> None:
    html = (report / "annual-report.html").read_text("utf-8")
    assert render.external_references(html) == []
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html, re.IGNORECASE)
    for cdn in ("require.min.js", "cdnjs.cloudflare.com", "mathjax.js", "cdn.jsdelivr.net", "unpkg.com"):
        assert cdn not in html.lower(), cdn
    assert not re.search(r"""src\s*=\s*["'][^"']*(?:mathjax|require)""", html, re.IGNORECASE)


def test_the_pdf_has_pages_of_text(report: Path) -> None:
    pdf = PdfReader(report / "annual-report.pdf")
    assert len(pdf.pages) >= 3
    text = "\n".join(page.extract_text() for page in pdf.pages)
    for heading in ("Annual compliance report", "Management summary", "Requests from data subjects",
                    "Retention", "privacy policy"):
        assert heading in text, heading
    box = pdf.pages[0].mediabox
    assert abs(float(box.width) - 595) < 2 and abs(float(box.height) - 842) < 2  # A4, in points


def test_the_pdf_is_tagged_for_screen_readers(report: Path) -> None:
    root = PdfReader(report / "annual-report.pdf").trailer["/Root"]
    assert "/StructTreeRoot" in root and root["/Lang"] == "en"
    assert root["/MarkInfo"]["/Marked"]
    assert '<html lang="en"' in (report / "annual-report.html").read_text("utf-8")


def test_html_with_an_outside_reference_is_refused(tmp_path: Path) -> None:
    notebook = new_notebook(cells=[new_markdown_cell('<img src="https://example.org/tracker.png">')])
    nbformat.write(notebook, tmp_path / "nb.ipynb")
    with pytest.raises(WorkbenchError, match="from outside"):
        render.to_html(tmp_path / "nb.ipynb", tmp_path / "nb.html", "test")
    assert not (tmp_path / "nb.html").exists()


def test_external_references_finds_what_a_browser_would_load() -> None:
    page = ('<script type="module">const m = (await import("https://cdn.example/m.mjs")).default;</script>'
            '<link href="//fonts.example/css"><div style="background: url(http://img.example/x.png)">'
            "see https://autoriteitpersoonsgegevens.nl (text only)</div><a href='#local'>here</a>")
    assert render.external_references(page) == ["//fonts.example/css", "http://img.example/x.png",
                                                "https://cdn.example/m.mjs"]


def test_the_command_refuses_an_empty_workspace(tmp_path: Path, capsys) -> None:
    status = cli.main(["--workspace", str(tmp_path / "none"), "report", "annual", "--year", str(YEAR),
                       "--out", str(tmp_path / "out")])
    assert status == 2 and "nothing imported yet" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
