"""Shared test helpers: small exports written on the fly, the demo business, the research
folder next to the repository, and a workspace snapshot."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from workbench import demo, pipeline
from workbench.workspace import Workspace

SHARED = Path(__file__).resolve().parents[2] / "shared"
PAYMENTS_HEADER = ("Date,Payment method,Currency,Amount,Status,ID,Description,Consumer name,"
                   "Consumer bank account,Consumer BIC,Settlement currency,Settlement amount,"
                   "Settlement reference,Amount refunded")


def payments_csv(path: Path, rows: list[str] | None = None) -> Path:
    """A Mollie settlement CSV as the research notes describe it."""
    rows = rows if rows is not None else [
        "2026-10-01 10:12:00,ideal,EUR,100.00,paidout,tr_aaa111,Order 1001,Jan Jansen,"
        "NL91ABNA0417164300,ABNANL2A,EUR,100.00,1182161.2610.01,",
        "2026-10-02 11:00:00,paypal,EUR,\"1,050.00\",paidout,tr_bbb222,Order 1002,Eva Mulder,"
        "Eva.Mulder@Example.com,,EUR,1050.00,1182161.2610.01,",
        "2026-10-03 09:00:00,refund,EUR,-20.00,refunded,re_ccc333,Refund Order 1001,Jan Jansen,"
        "NL91ABNA0417164300,ABNANL2A,EUR,-20.00,1182161.2610.01,20.00",
        "2026-10-04 00:00:00,,EUR,-2.88,paidout,,Withheld fees,,,,EUR,-2.88,1182161.2610.01,",
    ]
    path.write_text("\n".join([PAYMENTS_HEADER, *rows]) + "\n", encoding="utf-8-sig")
    return path


@pytest.fixture
def payments(tmp_path: Path) -> Path:
    return payments_csv(tmp_path / "settlement.csv")


@pytest.fixture(scope="module")
def business() -> demo.Business:
    """The demo business; built once per test module, as the modules' writers each want it."""
    return demo.build()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pipeline.Run]:
    """The demo business imported, linked and mapped, its demo request answered: built once per
    test session, since building it takes seconds. Tests take a copy (:func:`demo_run`)."""
    folder = tmp_path_factory.mktemp("demo-template")
    return folder, pipeline.demo_workspace(folder)


@pytest.fixture(scope="module")
def demo_run(demo_template: tuple[Path, pipeline.Run],
             tmp_path_factory: pytest.TempPathFactory) -> pipeline.Run:
    """A test module's own copy of the session's demo business: the module may change it freely."""
    folder, built = demo_template
    target = tmp_path_factory.mktemp("demo")
    shutil.copytree(folder, target, dirs_exist_ok=True)
    return replace(built, workspace=Workspace(target / "workspace"), request=None,
                   datamap=[target / p.relative_to(folder) for p in built.datamap])


def shared_file(relative: str) -> Path:
    """A file of the research folder next to the repository; the test skips without it."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"{relative} of the shared research folder is not next to the repository")
    return path


def snapshot(workspace: Path) -> dict | None:
    """Everything a workspace holds: its files and the logical content of every table."""
    if not workspace.exists():
        return None
    files = {
        p.relative_to(workspace).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(workspace.rglob("*")) if p.is_file() and not p.name.endswith(
            (".duckdb", ".wal"))
    }
    tables = {}
    db = workspace / "workbench.duckdb"
    if db.exists():
        with duckdb.connect(str(db), read_only=True) as con:
            names = [r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables").fetchall()]
            for name in sorted(names):
                rows = con.execute(f'SELECT * FROM "{name}"').fetchall()
                tables[name] = sorted(map(repr, rows))
    return {"files": files, "tables": tables}
