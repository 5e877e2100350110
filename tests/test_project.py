"""The project's own promises: conda and pip agree, notebooks carry no outputs, personal data
stays out of git."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pip_section(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    items = []
    for line in lines[start + 1:]:
        match = re.match(r"\s+- (.+)$", line)
        if not match:
            break
        items.append(match.group(1).strip())
    return items


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    listed = [p for p in _pip_section((ROOT / "environment.yml").read_text()) if p != "-e ."]
    assert sorted(listed) == sorted(wanted)
    python = project["requires-python"].removeprefix(">=")
    assert f"python={python}" in (ROOT / "environment.yml").read_text()


def _tracked(pattern: str) -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", pattern], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / line for line in out.splitlines() if line]


def test_committed_notebooks_have_no_outputs() -> None:
    notebooks = _tracked("*.ipynb")
    assert notebooks, "the project's notebooks are tracked"
    for path in notebooks:
        cells = json.loads(path.read_text())["cells"]
        for cell in cells:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{path.name} is committed with outputs"
                assert cell.get("execution_count") is None, f"{path.name} has execution counts"


def test_no_personal_data_paths_are_tracked() -> None:
    for path in _tracked("*"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.endswith(("README.md", ".gitkeep")):
            continue
        assert not rel.startswith(("workspace/", "reports/", "data/")), rel
        assert not rel.endswith((".duckdb", ".duckdb.wal")), rel


def test_gitignore_covers_workspaces_data_and_reports() -> None:
    probes = ["workspace/workbench.duckdb", "data/demo/mollie/x.csv", "reports/annual.html",
              "elsewhere/my.duckdb"]
    result = subprocess.run(["git", "check-ignore", *probes], cwd=ROOT, capture_output=True,
                            text=True)
    if result.returncode not in (0, 1):
        pytest.skip("not a git checkout")
    assert sorted(result.stdout.split()) == sorted(probes)


def test_ruff_is_clean() -> None:
    ruff = ROOT / ".venv" / "bin" / "ruff"
    if not ruff.exists():
        pytest.skip("ruff not installed in .venv")
    result = subprocess.run([str(ruff), "check", "workbench", "tests", "benchmarks"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
