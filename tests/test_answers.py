"""The request workflows as application services, called the way a notebook or the dashboard calls
them (the command line's output of the same workflows: tests/test_erasure.py, tests/test_cli.py)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from workbench.audit import trail
from workbench.demo import story
from workbench.errors import WorkbenchError
from workbench.reference import register as registry
from workbench.rights import answers, erasure, requests
from workbench.store.workspace import Workspace

TODAY = date(2026, 11, 25)


@pytest.fixture
def ws(demo_run, tmp_path: Path) -> Workspace:
    return Workspace(shutil.copytree(demo_run.workspace.path, tmp_path / "workspace"))


def _request(ws: Workspace, kind: str, nth: int) -> str:
    email = story.demo_client(nth=nth).person.email
    return requests.new(ws, type=kind, email=email, received=date(2026, 11, 20), today=TODAY).request_id


def test_erasure_planned_then_carried_out_once(ws: Workspace, tmp_path: Path) -> None:
    reg = registry.load()
    request_id = _request(ws, "erasure", 3)
    planned = answers.erase(ws, reg, request_id, today=TODAY, out=tmp_path / "plan.csv")
    assert planned.purge is None and not planned.noted and len(planned.subjects) == 1
    assert planned.written == tmp_path / "plan.csv" and planned.written.is_file()
    assert set(planned.plan.subject_id) == set(planned.subjects)
    entry = list(trail.entries(ws))[-1]
    assert entry.action == "plan" and "plan.csv" in entry.files

    done = answers.erase(ws, reg, request_id, today=TODAY, execute=True)
    assert done.purge is not None and not done.purge.already and done.noted
    _, _, notes = requests.show(ws, request_id)
    assert notes.note.str.startswith("workspace purged:").any()
    again = answers.erase(ws, reg, request_id, today=TODAY, execute=True)
    assert again.plan is None and again.purge.already  # reported, not purged twice
    assert [e.action for e in trail.entries(ws)][-3:] == ["plan", "plan", "purge"]


def test_rights_todo_is_logged_and_noted(ws: Workspace) -> None:
    reg = registry.load()
    request_id = _request(ws, "rectification", 4)
    todo = answers.rights_todo(ws, reg, request_id)
    assert todo.type == "rectification" and todo.noted and not todo.steps.empty
    entry = list(trail.entries(ws))[-1]
    assert entry.action == "rights-todo" and entry.details["list_sha256"] == erasure.frame_digest(todo.steps)
    with pytest.raises(WorkbenchError, match="rectification request"):
        answers.erase(ws, reg, request_id)


def test_erasure_letter_states_the_plan(ws: Workspace, tmp_path: Path) -> None:
    request_id = _request(ws, "erasure", 5)
    written = answers.write_letter(ws, registry.load(), request_id, "erasure", tmp_path / "letters",
                                   draft=True, today=TODAY)
    assert written.html.is_file() and written.html.parent == tmp_path / "letters"
