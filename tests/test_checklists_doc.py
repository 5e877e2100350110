"""Every checklist id the code, the tests and the notebooks name is explained in docs/checklists.md."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "checklists.md"
# A15-03, A12-01, A20-08, R30-11, D35-07 (article-numbered families) and NL-05 (Dutch specifics)
CHECK_ID = re.compile(r"\b(?:[A-Z]\d{2}|NL)-\d{2}\b")
SEARCHED = ("workbench", "tests", "notebooks", "benchmarks")
SUFFIXES = {".py", ".toml", ".j2", ".ipynb", ".md", ".yml", ".yaml", ".json", ".csv"}


def _used_ids() -> dict[str, str]:
    """Each id named in the searched folders, with one file that names it."""
    used: dict[str, str] = {}
    for folder in SEARCHED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in SUFFIXES or not path.is_file() or "golden" in path.parts:
                continue
            for found in CHECK_ID.findall(path.read_text(encoding="utf-8", errors="replace")):
                used.setdefault(found, path.relative_to(ROOT).as_posix())
    return used


def _explained_ids() -> set[str]:
    """The ids with a row of their own in a table of the page."""
    rows = re.findall(r"^\| ((?:[A-Z]\d{2}|NL)-\d{2}) \|", DOC.read_text(encoding="utf-8"), re.MULTILINE)
    return set(rows)


def test_every_used_checklist_id_is_explained() -> None:
    used = _used_ids()
    assert len(used) > 20  # the pattern still finds the ids the code is full of
    missing = {cid: where for cid, where in used.items() if cid not in _explained_ids()}
    assert not missing, f"checklist ids without an entry in docs/checklists.md: {missing}"


def test_each_explained_id_appears_once_with_its_basis() -> None:
    rows = re.findall(r"^\| ((?:[A-Z]\d{2}|NL)-\d{2}) \| (.+) \| (.+) \|$",
                      DOC.read_text(encoding="utf-8"), re.MULTILINE)
    ids = [cid for cid, _, _ in rows]
    assert len(ids) == len(set(ids)) == len(_explained_ids())
    for cid, requirement, basis in rows:
        assert requirement.strip() and basis.strip(), cid
        assert re.search(r"Art\.|AP |AWR|EDPB|Rijksmodel|WP 242", basis), (cid, basis)
