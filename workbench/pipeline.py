"""The main job, end to end: exports in ``data/`` -> workspace -> subjects -> data map in
``reports/``; on the demo business, its year of requests too (:mod:`workbench.demo.story`). The
command line and the notebooks both run it from here."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from workbench import demo
from workbench.datamap import linkage, mail
from workbench.ingest.headers import PROPOSED, store_system, systems
from workbench.ingest.sources import generic
from workbench.reference import register as registry
from workbench.store.safe_files import owner_only
from workbench.store.workspace import ImportResult, Workspace

if TYPE_CHECKING:  # a type only: its module would slow every command's start
    from workbench.rights.answers import Answer

# what became of another system's column mapping on import (see mapping_proposal)
CONFIRMED, PROPOSED_NOW, AWAITING = "confirmed", "proposed", "awaiting review"

@dataclass
class Run:
    workspace: Workspace
    imported: list[ImportResult]
    linked: linkage.LinkReport
    datamap: list[Path]
    request: Answer | None = field(default=None)  # the demo's answered access request
    story: list[tuple[str, str, Path]] = field(default_factory=list)  # (request, letter kind, file) sent
    history: list[str] = field(default_factory=list)  # ids of the demo's earlier requests
    annual: list[Path] = field(default_factory=list)  # the annual report's files
    mail: list[mail.MailImport] = field(default_factory=list)  # the mailboxes imported


def run(files: list[Path], workspace: Workspace, reports: Path, register_dir: Path | None = None) -> Run:
    """Import the exports, link parties into subjects, and write the data map."""
    # imported here: 'workbench import' never needs the data map's export and starts sooner
    from workbench.datamap import export

    imported, mailed = import_exports(workspace, files)
    linked = linkage.link(workspace)
    written = export.write(workspace, registry.load(register_dir), Path(reports) / "datamap.xlsx")
    return Run(workspace, imported, linked, written, mail=mailed)


def import_exports(workspace: Workspace, files: list[Path], source: str | None = None,
                   progress: Callable[[Path, int], None] | None = None,
                   ) -> tuple[list[ImportResult], list[mail.MailImport]]:
    """Import exports and mailboxes: the exports all or nothing, each mailbox streamed into the
    mail index in a transaction of its own (unless ``source`` names another service)."""
    mailboxes = [f for f in files if source in (None, mail.SERVICE) and mail.is_mail(f)]
    exports = [f for f in files if f not in mailboxes]
    imported = workspace.import_files(exports, source, progress) if exports else []
    return imported, [mail.import_mail(workspace, f) for f in mailboxes]


def mapping_proposal(workspace: Workspace, system: str, paths: list[Path]) -> tuple[str, list]:
    """Whether the column mapping of another system is confirmed; if not, what its columns look
    like (:func:`workbench.ingest.sources.generic.propose`), stored as a proposal in ``mappings.toml``
    unless one awaits the analyst there already."""
    stored = systems(workspace.mappings).get(system)
    if stored is not None and stored.confirmed:
        return CONFIRMED, []
    matches = generic.propose(paths, workspace.header_mappings())
    if stored is not None:
        return AWAITING, matches
    proposal, notes = generic.as_mapping(system, matches, PROPOSED)
    store_system(workspace.mappings, proposal, notes)
    return PROPOSED_NOW, matches


def run_demo(exports: Path, workspace: Workspace, reports: Path, seed: int = 2026,
             clients: int = 300, register_dir: Path | None = None, answer: bool = True,
             annual: bool = True) -> Run:
    """The main job on the seeded demo business, then its story (:func:`workbench.demo.story.play`):
    a request history for the year (into an empty register only) and, unless ``answer`` is false,
    today's requests, one client's access request answered in ``reports/demo-request/`` (replacing
    the previous package). Unless ``annual`` is false, the year's annual compliance report follows
    in ``reports/annual-<year>/``."""
    # imported here: 'workbench import' never needs the story or the report and starts sooner
    from workbench.demo import story
    from workbench.reports import render

    if answer:
        story.request_folder(reports)  # refused before anything is written
    with owner_only():  # the demo's people are invented, but its files look like the real thing
        files = demo.write(Path(exports), seed=seed, clients=clients)
        files += demo.write_mail(Path(exports), seed=seed, clients=clients)
    done = run(files, workspace, reports, register_dir)
    done.history, done.request, done.story = story.play(workspace, registry.load(register_dir), Path(reports),
                                                        seed, clients, answer)
    if annual:
        year = demo.TODAY.year
        done.annual = render.annual_report(workspace.path, year, Path(reports) / f"annual-{year}",
                                           register_dir=register_dir)
    return done


def demo_workspace(folder: Path | None = None, answer: bool = True) -> Run:
    """The demo business imported, linked and mapped, with its request history, in a folder of its
    own (a temporary one by default), for notebooks and exploration that must not touch the user's
    workspace. Its demo access request is answered in ``reports/demo-request/`` there, unless
    ``answer`` is false. No annual report: the report's notebook runs on this."""
    folder = Path(folder or tempfile.mkdtemp(prefix="workbench-demo-"))
    return run_demo(folder / "exports", Workspace(folder / "workspace"), folder / "reports", answer=answer,
                    annual=False)
