"""Reports rendered from notebooks: executed with papermill, exported to HTML with nbconvert with
the code hidden, printed to PDF by Debian's chromium through Playwright. All of it offline.

The HTML must open on a machine without network access and leak nothing when it is opened on
one with it: no require.js or MathJax from a CDN (``require_js_url``/``mathjax_url`` set to
nothing), figures embedded as inline SVG or data URIs, and :func:`external_references` must find
nothing before the file is written. The PDF is printed from that file with every request that is
not a local file refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.store.safe_files import owner_only

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ANNUAL_NOTEBOOK = NOTEBOOKS / "annual_compliance_report.ipynb"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
KERNEL = "python3"
HIDDEN_TAG = "report-hide"  # a notebook cell for the analyst, left out of the rendered report
REPORT_LANG = "en"  # the annual report notebook narrates in English
# what makes a browser fetch from elsewhere (http(s) or protocol-relative): an attribute, CSS url()
# or @import, a script's import()
_EXTERNAL = re.compile(
    r"""(?:\b(?:src|href|data|action|poster|srcset)\s*=\s*["']?\s*|url\(\s*["']?\s*|@import\s+["']"""
    r"""|\bimport\(\s*["'])"""
    r"""((?:https?:)?//[^\s"'()>]+)""", re.IGNORECASE)


def refuse_outside(allowed: tuple[str, ...], refused: list[str]) -> Callable:
    """A Playwright route handler: requests to the ``allowed`` URL prefixes go through, every other
    one is refused and noted in ``refused`` (a report or dashboard must not reach outside)."""
    def route(request_route) -> None:
        if request_route.request.url.startswith(allowed):
            request_route.continue_()
        else:
            refused.append(request_route.request.url)
            request_route.abort()
    return route


def external_references(html: str) -> list[str]:
    """Every address outside the file that a browser would load from ``html`` (src, href, CSS
    url() and @import); links written as text do not count."""
    return sorted(set(_EXTERNAL.findall(html)))


def execute(notebook: Path, executed: Path, parameters: dict) -> Path:
    """Run ``notebook`` with papermill and its ``parameters`` into ``executed`` (owner-only: its
    outputs are the report's figures)."""
    import papermill as pm

    if not notebook.is_file():
        raise WorkbenchError(f"{notebook}: the report's notebook is missing (is the project installed "
                             "from its source folder with pip install -e?)")
    with owner_only():
        try:
            pm.execute_notebook(str(notebook), str(executed), parameters=parameters, kernel_name=KERNEL,
                                progress_bar=False, cwd=str(notebook.parent))
        except pm.PapermillExecutionError as exc:
            raise WorkbenchError(f"{notebook.name} failed in cell {exc.exec_count}: {exc.ename}: "
                                 f"{exc.evalue}; the executed notebook is {executed}") from None
    executed.chmod(0o600)
    return executed


def to_html(executed: Path, html_path: Path, title: str) -> Path:
    """The executed notebook as one self-contained HTML file: no code, no prompts, nothing loaded
    from outside. Refuses to write a file that still refers elsewhere."""
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()  # cells tagged for the analyst only stay out of the reader's copy
    config.TagRemovePreprocessor.remove_cell_tags = {HIDDEN_TAG}
    config.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(config=config, exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, require_js_url="", mathjax_url="",
                            mermaid_js_url="", mermaid_layout_elk_js_url="", embed_images=True)
    body, _ = exporter.from_notebook_node(nbformat.read(str(executed), as_version=4),
                                          resources={"metadata": {"name": title}})
    # the report's language, for screen readers and the PDF's /Lang (nbconvert sets none)
    body = re.sub(r"<html(?![^>]*\blang=)", f'<html lang="{REPORT_LANG}"', body, count=1)
    outside = external_references(body)
    if outside:
        raise WorkbenchError(f"{html_path.name} would load {len(outside)} address(es) from outside, "
                             f"e.g. {outside[0]}; the report must open offline")
    with owner_only():
        html_path.write_text(body, "utf-8")
    html_path.chmod(0o600)
    return html_path


def to_pdf(html_path: Path, pdf_path: Path) -> Path:
    """Print the HTML to an A4 PDF with Debian's chromium, refusing every request that is not a
    local file."""
    from playwright.sync_api import Error, sync_playwright

    if not Path(CHROMIUM).exists():
        raise WorkbenchError(f"{CHROMIUM} is missing: install Debian's chromium (make does) or pass --no-pdf")
    refused: list[str] = []
    try:
        with sync_playwright() as p, owner_only():
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.route("**/*", refuse_outside(("file:",), refused))
                page.goto(html_path.resolve().as_uri(), wait_until="load")
                page.emulate_media(media="print")
                page.pdf(path=str(pdf_path), format="A4", print_background=True, tagged=True,
                         margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"})
            finally:
                browser.close()
    except Error as exc:
        reason = exc.message.splitlines()[0]
        raise WorkbenchError(f"chromium could not print {html_path.name}: {reason}") from None
    if refused:
        raise WorkbenchError(f"{html_path.name} asked for {len(refused)} address(es) from outside while "
                             "printing; they were refused")
    pdf_path.chmod(0o600)
    return pdf_path


def annual_report(workspace_path: Path | str, year: int, out: Path | str, *, register_dir: Path | None = None,
                  policy: Path | None = None, today: date | None = None, pdf: bool = True,
                  previous: Path | None = None) -> list[Path]:
    """The annual compliance report of ``year`` in the folder ``out``: ``annual-report.ipynb``
    (executed), ``annual-report.html``, ``annual-report.pdf`` (unless ``pdf`` is false) and the
    tables as CSV. ``previous`` is an earlier year's report folder to diff the inventory against."""
    out = Path(out)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise WorkbenchError(f"--out {out} is not a folder")
    for given, what in ((policy, "--policy"), (previous, "--previous")):
        if given is not None and not Path(given).exists():
            raise WorkbenchError(f"{what} {given}: no such file or folder")
    with owner_only():
        out.mkdir(parents=True, exist_ok=True)
    parameters = {"workspace": str(Path(workspace_path).resolve()), "year": int(year),
                  "register": str(Path(register_dir).resolve()) if register_dir else "",
                  "policy": str(Path(policy).resolve()) if policy else "",
                  "today": today.isoformat() if today else "",
                  "previous": str(Path(previous).resolve()) if previous else "",
                  "out": str(out.resolve())}
    executed = execute(ANNUAL_NOTEBOOK, out / "annual-report.ipynb", parameters)
    html_path = to_html(executed, out / "annual-report.html", f"Annual compliance report {year}")
    written = [executed, html_path]
    if pdf:
        written.append(to_pdf(html_path, out / "annual-report.pdf"))
    return written + sorted(out.glob("*.csv"))
