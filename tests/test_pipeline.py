"""The main job end to end: `workbench demo` answers one demo access request, and notebook 03
answers a request when papermill runs it with parameters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from workbench import pipeline
from workbench.demo import story
from workbench.errors import WorkbenchError
from workbench.rights import answers, requests
from workbench.store.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "03_subject_request.ipynb"


def _demo(folder: Path, annual: bool = False) -> pipeline.Run:
    return pipeline.run_demo(folder / "exports", Workspace(folder / "workspace"), folder / "reports",
                             annual=annual)


@pytest.mark.slow
def test_run_demo_answers_one_demo_access_request(tmp_path: Path) -> None:
    client = story.demo_client()
    assert client.kind == "consumer" and not client.flags and len(client.services) >= 3
    assert story.demo_client() == client  # always the same client

    done = _demo(tmp_path, annual=True)
    assert {p.name for p in done.annual} >= {"annual-report.html", "annual-report.pdf"}
    assert all(p.parent.parent == tmp_path / "reports" for p in done.annual if p.suffix == ".html")
    answer = done.request
    folder = tmp_path / "reports" / story.DEMO_REQUEST
    assert answer.package.out == folder and (folder / "index.html").is_file()
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    assert manifest["request_id"] == answer.request["id"] and manifest["request_type"] == "access"
    assert answer.email == client.person.email and len(answer.subjects) == 1
    assert answer.candidates.subject_id.tolist() == answer.subjects
    assert answer.package.confirmation and "found" in answer.systems().status.tolist()
    assert {"index.html", "manifest.json"} <= set(answer.files().path) | {"manifest.json"}
    assert client.person.email in (folder / "index.html").read_text("utf-8")
    # the story: each of today's requests answered with its letters, sent through the gates
    assert [kind for _, kind, _ in done.story] == ["receipt", "access", "receipt", "erasure", "receipt",
                                                   "refusal"]
    row, _, _ = requests.show(done.workspace, answer.request["id"])
    assert row["status"] == "completed" and manifest["letter_date"] == str(row["responded"])
    listed = requests.listing(done.workspace)  # the demo's history leaves two requests open
    assert set(listed.request_id) <= set(done.history)

    # run again: the same request is written again, as a draft, in a fresh folder
    (folder / "stale.txt").write_text("from the previous run")
    before = len(requests.listing(done.workspace, include_closed=True))
    again = _demo(tmp_path).request
    assert again.request["id"] == answer.request["id"] and again.package.draft
    assert again.package.out == folder and not (folder / "stale.txt").exists()
    assert (folder / "manifest.json").is_file()
    assert len(requests.listing(done.workspace, include_closed=True)) == before  # no duplicate


@pytest.mark.slow
def test_run_demo_refuses_a_file_where_the_package_goes(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / story.DEMO_REQUEST).write_text("not a package")
    with pytest.raises(WorkbenchError, match="not a folder"):
        _demo(tmp_path)


def test_open_request_registers_and_checks(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "workspace")
    with pytest.raises(WorkbenchError, match="e-mail address or the id"):
        answers.open_request(ws)
    request = answers.open_request(ws, email="jan@example.nl")
    assert request["type"] == "access" and request["email"] == "jan@example.nl" and request["due"]
    assert answers.open_request(ws, request_id=request["id"]) == request
    with pytest.raises(WorkbenchError, match="another e-mail address"):
        answers.open_request(ws, request_id=request["id"], email="eva@example.nl")
    erasure = requests.new(ws, type="erasure", email="eva@example.nl").request_id
    with pytest.raises(WorkbenchError, match="erasure request"):
        answers.open_request(ws, request_id=erasure)


@pytest.mark.slow
def test_notebook_03_answers_a_request_with_papermill(tmp_path: Path) -> None:
    pm = pytest.importorskip("papermill")
    email = story.demo_client(nth=1).person.email  # another client than the demo's own
    executed = tmp_path / "request.ipynb"
    package_dir = tmp_path / "package"
    pm.execute_notebook(str(NOTEBOOK), str(executed), kernel_name="python3", progress_bar=False,
                        cwd=str(tmp_path), parameters={"email": email, "out": str(package_dir), "lang": "en"})
    cells = json.loads(executed.read_text("utf-8"))["cells"]
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in cells)
    printed = "".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code"
                      for o in c.get("outputs", []) if o.get("output_type") == "stream")
    reported = re.search(r"^package (\S+) for \[.+\]: (.+)$", printed, re.M)
    assert reported, printed
    folder = Path(reported.group(2))
    assert folder == package_dir and folder.is_dir()
    assert (folder / "index.html").is_file() and (folder / "manifest.json").is_file()
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    assert manifest["request_id"] == reported.group(1) and manifest["language"] == "en"
    assert email in (folder / "index.html").read_text("utf-8")
