"""Shared test helpers: small exports written on the fly, the demo business, the research
folder next to the repository, and a workspace snapshot."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import pytest

from workbench import demo, pipeline
from workbench.ingest import sources
from workbench.store.workspace import Workspace
from workbench.ui import cli as workbench_cli

SHARED = Path(__file__).resolve().parents[2] / "shared"
PAYMENTS_HEADER = ("Date,Payment method,Currency,Amount,Status,ID,Description,Consumer name,"
                   "Consumer bank account,Consumer BIC,Settlement currency,Settlement amount,"
                   "Settlement reference,Amount refunded")


def payments_csv(path: Path, rows: list[str] | None = None) -> Path:
    """A Mollie settlement CSV with the columns of Mollie's own export."""
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


# Tests that need the whole demo business imported, linked, mapped and answered (built once per
# session, close to a minute): ``slow``, whichever module they are in, so the inner loop
# (``pytest -m "not slow and not browser"``) never builds it.
DEMO_FIXTURES = {"demo_template"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if DEMO_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="write tests/golden/ again from what the demo exports yield now")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """Whether this run writes the golden files (``--update-golden``) instead of comparing."""
    return bool(request.config.getoption("--update-golden"))


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


@dataclass(frozen=True)
class CliResult:
    """What one ``workbench`` command gave back: its exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capfd: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> Callable[..., CliResult]:
    """Run ``workbench ARGS...`` in this process (``workbench.ui.cli.main``), far faster than a
    subprocess. The test process is shared, so each run starts in the test's own folder without
    ``WORKBENCH_DEBUG``, with the file cache emptied (a file rewritten within one clock tick would
    otherwise be read from the cache), and with output captured at the file-descriptor level, so a
    library's log handler bound to the real stderr is caught too. Only the console script itself
    is tested by a subprocess (``test_cli.py``)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WORKBENCH_DEBUG", raising=False)

    def run(*argv: str | Path) -> CliResult:
        sources.release()
        capfd.readouterr()
        try:
            code = workbench_cli.main([str(a) for a in argv])
        except SystemExit as exc:  # argparse rejects a command line this way
            code = exc.code if isinstance(exc.code, int) else 2
        out, err = capfd.readouterr()
        return CliResult(code, out, err)

    return run


def shared_file(relative: str) -> Path:
    """A file of the research folder next to the repository; the test skips without it."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"{relative} of the shared research folder is not next to the repository")
    return path


# Columns that say when a workspace was set up, not what it holds: two workspaces with the same
# content differ there, so a snapshot leaves them out.
SETUP_ONLY = {"schema_version": "version, description"}


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
                rows = con.execute(f'SELECT {SETUP_ONLY.get(name, "*")} FROM "{name}"').fetchall()
                tables[name] = sorted(map(repr, rows))
    return {"files": files, "tables": tables}
