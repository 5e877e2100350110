"""The demo business: deterministic, every format of every service, detected by content and
imported with the overlaps and traps real data has."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from workbench import demo
from workbench.ingest import sources
from workbench.store.workspace import Workspace

pytestmark = pytest.mark.slow  # the full demo written twice and imported


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return demo.write(tmp_path_factory.mktemp("demo") / "exports")


@pytest.fixture(scope="module")
def demo_workspace(demo_files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("ws") / "workspace")
    ws.import_files(demo_files)
    return ws


def _digest(files: list[Path], root: Path) -> dict[str, str]:
    return {f.relative_to(root).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in files}


def test_same_seed_gives_identical_files(demo_files: list[Path], tmp_path: Path) -> None:
    again = demo.write(tmp_path / "exports")
    root = demo_files[0].parents[1]
    assert _digest(again, tmp_path / "exports") == _digest(demo_files, root)


def test_every_file_is_detected_as_its_own_service(demo_files: list[Path]) -> None:
    kinds = set()
    for path in demo_files:
        module, kind = sources.detect(path)
        assert kind.service == path.parent.name, f"{path.name} detected as {kind.key}"
        kinds.add(kind.key)
    # API responses and bank statements come from real files (tests/test_real_api.py,
    # tests/test_real_banks.py); every export the demo firm downloads from a service's screens is here.
    screens = {k.key for k in sources.all_kinds() if not k.name.startswith("api") and k.service != "bank"}
    assert kinds >= screens, f"not in the demo: {sorted(screens - kinds)}"


def test_about_300_clients_spread_over_four_services(demo_workspace: Workspace) -> None:
    per_service = demo_workspace.query(
        "SELECT service, count(DISTINCT party_key) AS n FROM parties GROUP BY service")
    counts = {s: n for s, n in zip(per_service.service, per_service.n, strict=True) if s in demo.SERVICES}
    assert set(counts) == {"mollie", "moneybird", "factuursturen", "exact"}  # the website's aside
    assert all(n >= 100 for n in counts.values()), counts


def test_the_mess_survives_import(demo_workspace: Workspace) -> None:
    business = demo.build()
    bsn_client = next(c for c in business.clients if "bsn_in_exact" in c.flags)
    bsn = demo_workspace.query(
        "SELECT value, valid FROM identifiers WHERE kind = 'bsn' AND service = 'exact'")
    assert bsn_client.person.bsn in bsn.value.tolist() and bsn.valid.all()
    spaced = demo_workspace.query(
        "SELECT count(*) AS n FROM identifiers WHERE kind = 'iban' AND raw_value LIKE '% %' "
        "AND valid").n[0]
    assert spaced > 0  # IBANs typed with spaces are normalised, not lost
    namesakes = [c for c in business.clients if "namesake" in c.flags]
    names = demo_workspace.query(
        "SELECT DISTINCT party_key FROM parties WHERE service = 'moneybird' AND family_name = ?",
        [namesakes[0].person.family_name])
    assert len(names) >= 2  # two different people with one name stay two parties
