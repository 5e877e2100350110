"""The main job, end to end: exports in ``data/`` -> workspace -> subjects -> data map in
``reports/``. The command line and the notebooks both run it from here."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from workbench import datamap, demo, linkage
from workbench import register as registry
from workbench.workspace import ImportResult, Workspace


@dataclass
class Run:
    workspace: Workspace
    imported: list[ImportResult]
    linked: linkage.LinkReport
    datamap: list[Path]


def run(files: list[Path], workspace: Workspace, reports: Path, register_dir: Path | None = None) -> Run:
    """Import the exports, link parties into subjects, and write the data map."""
    imported = workspace.import_files(files)
    linked = linkage.link(workspace)
    written = datamap.write(workspace, registry.load(register_dir), Path(reports) / "datamap.xlsx")
    return Run(workspace, imported, linked, written)


def run_demo(exports: Path, workspace: Workspace, reports: Path, seed: int = 2026,
             clients: int = 300, register_dir: Path | None = None) -> Run:
    """The main job on the seeded demo business."""
    return run(demo.write(Path(exports), seed=seed, clients=clients), workspace, reports, register_dir)


def demo_workspace(folder: Path | None = None) -> Run:
    """The demo business imported, linked and mapped in a folder of its own (a temporary one by
    default), for notebooks and exploration that must not touch the user's workspace."""
    folder = Path(folder or tempfile.mkdtemp(prefix="workbench-demo-"))
    return run_demo(folder / "exports", Workspace(folder / "workspace"), folder / "reports")
