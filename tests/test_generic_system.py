"""Another system's export (a webshop): a proposed mapping, the analyst's confirmation in
mappings.toml, and the system in the inventory, the data map, packages, erasure plans and the
register check."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path

import openpyxl
import pytest

from workbench.configuration import ConfigError
from workbench.datamap import export, linkage
from workbench.ingest import headers
from workbench.ingest.sources import _common, generic
from workbench.reference import register
from workbench.rights import erasure, package
from workbench.store.workspace import Workspace
from workbench.ui import cli

HEADER = ["Order ID", "Customer email", "First name", "Last name", "Zip", "Town", "Phone",
          "Product", "Total", "Newsletter Consent"]
ROWS = [
    ["1001", "anna@example.nl", "Anna", "de Vries", "1234 AB", "Haarlem", "+31612345678", "Mok",
     "12.50", "yes"],
    ["1002", "bob@example.com", "Bob", "Bakker", "2345 CD", "Leiden", "0687654321", "Shirt",
     "20.00", "no"],
]


def _csv(path: Path, rows: list[list[str]] = ROWS) -> Path:
    path.write_text("\n".join(",".join(r) for r in [HEADER, *rows]) + "\n")
    return path


def _run(capsys: pytest.CaptureFixture, ws: Path, *args: str) -> tuple[int, str, str]:
    _common.release()
    code = cli.main(["--workspace", str(ws), *args])
    out, err = capsys.readouterr()
    return code, out, err


def _confirmed(tmp_path: Path, capsys: pytest.CaptureFixture) -> tuple[Path, Path]:
    ws, path = tmp_path / "ws", _csv(tmp_path / "orders.csv")
    assert _run(capsys, ws, "import", "--system", "webshop", str(path))[0] == cli.PROPOSED_EXIT
    assert _run(capsys, ws, "mapping", "confirm", "--system", "webshop")[0] == 0
    code, out, err = _run(capsys, ws, "import", "--system", "webshop", str(path))
    assert code == 0, err
    return ws, path


def test_first_import_proposes_a_mapping_and_imports_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ws = tmp_path / "ws"
    code, out, err = _run(capsys, ws, "import", "--system", "webshop", str(_csv(tmp_path / "o.csv")))
    assert code == cli.PROPOSED_EXIT
    assert "Customer email -> email: its values look like email" in out
    assert "First name -> given_name: its name, in" in out
    assert "Zip -> postcode" in out and "Product -> (unmapped)" in out
    assert "nothing imported" in err and "mapping confirm --system webshop" in err
    assert "anna@example.nl" not in out + err and "Vries" not in out + err
    assert not Workspace(ws).exists
    stored = tomllib.loads((ws / "mappings.toml").read_text())["system"]["webshop"]
    assert stored["status"] == "proposed"
    assert stored["columns"]["email"] == ["Customer email"]
    assert stored["columns"]["family_name"] == ["Last name"]
    assert stat.S_IMODE((ws / "mappings.toml").stat().st_mode) == 0o600


def test_confirmed_mapping_is_used_on_every_later_import(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ws, _ = _confirmed(tmp_path, capsys)
    second = _csv(tmp_path / "orders-2.csv", [["1003", "carla@example.nl", "Carla", "Smit", "3456 EF",
                                               "Delft", "0611111111", "Pen", "3.00", "yes"]])
    code, out, err = _run(capsys, ws, "import", "--system", "webshop", str(second))
    assert code == 0, err
    assert "[webshop/list]" in out and "proposed" not in out
    assert "unmapped columns (3): Order ID, Product, Newsletter Consent" in out
    parties = Workspace(ws).query("SELECT * FROM parties WHERE service = 'webshop'")
    assert sorted(parties["email"]) == ["anna@example.nl", "bob@example.com", "carla@example.nl"]
    assert "de Vries" in parties["family_name"].tolist()


def test_analyst_edit_before_confirming_is_kept(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ws, path = tmp_path / "ws", _csv(tmp_path / "orders.csv")
    _run(capsys, ws, "import", "--system", "webshop", str(path))
    mappings = ws / "mappings.toml"
    mappings.write_text(mappings.read_text().replace('amount = ["Total"]', 'other = ["Total"]'))
    _run(capsys, ws, "import", "--system", "webshop", str(path))  # a second proposal keeps the edit
    assert _run(capsys, ws, "mapping", "confirm", "--system", "webshop")[0] == 0
    assert 'other = ["Total"]' in mappings.read_text()
    assert _run(capsys, ws, "import", "--system", "webshop", str(path))[0] == 0
    fields = Workspace(ws).query('SELECT name, field FROM columns').set_index("name")["field"]
    assert fields["Total"] == "other"  # the analyst's word, not the proposal's "amount"
    assert Workspace(ws).query("SELECT count(*) AS n FROM documents")["n"][0] == 0


def test_xlsx_and_json_lists_are_proposed_too(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    for row in [HEADER, *ROWS]:
        book.active.append(row)
    book.save(tmp_path / "o.xlsx")
    records = [dict(zip(HEADER, row, strict=True)) | {"customer": {"iban": "NL91ABNA0417164300"}}
               for row in ROWS]
    (tmp_path / "o.json").write_text(json.dumps({"orders": records}))
    for name in ("o.xlsx", "o.json"):
        fields = {m.column: m.field for m in generic.propose([tmp_path / name])}
        assert fields["Customer email"] == "email" and fields["Last name"] == "family_name"
    assert {m.column: m.field for m in generic.propose([tmp_path / "o.json"])}["customer.iban"] == "iban"


@pytest.mark.slow  # the whole way: import, link, data map, package, erasure plan
def test_system_in_inventory_datamap_package_and_erasure_plan(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ws_path, _ = _confirmed(tmp_path, capsys)
    ws, reg = Workspace(ws_path), register.load()
    sheets = export.sheets(ws, reg)
    inventory = sheets["Field inventory"]
    webshop = inventory[inventory.service.eq("webshop")].set_index("column")
    assert webshop.loc["Customer email", "field"] == "email"
    assert bool(webshop.loc["Customer email", "personal"]) and not webshop.loc["Zip", "declared"]
    # the dashboard's inventory tab shows these two tables
    assert "user.contact.email" in set(sheets["Undeclared categories"].query("service == 'webshop'").category)
    r30_11 = sheets["Checks"].set_index("id").loc["R30-11"]
    assert not r30_11["passed"]
    assert "system webshop holds personal data but the register declares no such system" in r30_11["detail"]

    linkage.link(ws)
    found = linkage.find(ws, email="anna@example.nl")
    subject = found["subject_id"].iloc[0]
    assert "webshop" in found["systems"].iloc[0]
    result = package.write_package(ws, reg, subject_ids=[subject], out=tmp_path / "pkg",
                                   identities={"email": "anna@example.nl"}, pdf=False)
    held = (result.out / "data" / "webshop" / "list.csv").read_text()
    assert "anna@example.nl" in held and "bob@example.com" not in held
    plan = erasure.plan(ws, reg, subject_ids=[subject])
    rows = plan[plan.service.eq("webshop")]
    assert len(rows) == 1 and rows["file_name"].iloc[0] == "orders.csv"


def test_register_check_passes_once_the_system_is_declared() -> None:
    reg = register.load()
    found = {("mollie", "user.contact.email")}
    r30_11 = next(c for c in register.check_ropa(reg, found) if c.id == "R30-11")
    assert "declares no such system" not in r30_11.detail
    r30_11 = next(c for c in register.check_ropa(reg, found | {("crm", "user.contact.email")})
                  if c.id == "R30-11")
    assert "system crm holds personal data but the register declares no such system" in r30_11.detail


@pytest.mark.parametrize("text,message", [
    ('[system.webshop]\nstatus = "maybe"\n',
     r"system\.webshop\.status: Input should be 'proposed' or 'confirmed'"),
    ('[system.webshop]\nstatus = "confirmed"\n[system.webshop.columns]\nmail = ["E"]\n',
     "'mail' is not a canonical field"),
    ('[system.webshop]\nstatus = "confirmed"\n[system.webshop.columns]\nemail = ["E"]\nname = ["e"]\n',
     "listed under both 'email' and 'name'"),
    ('[system.Web]\nstatus = "confirmed"\n', "a system name is lower-case"),
    ('[system.webshop]\nstatus = "confirmed"\nowner = "x"\n',
     r"system\.webshop\.owner: Extra inputs are not permitted"),
])
def test_bad_system_mapping_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "mappings.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        headers.systems(path)
    assert str(path) in str(info.value)
    with pytest.raises(ConfigError, match=message):
        headers.tables("mollie", path)  # every import reads the file, so every import checks it


def test_confirming_needs_a_name_or_identifier(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "mappings.toml").write_text('[system.news]\nstatus = "proposed"\n'
                                      '[system.news.columns]\ncity = ["Town"]\n')
    code, _, err = _run(capsys, ws, "mapping", "confirm", "--system", "news")
    assert code == 2 and "names no column as a name or identifier" in err


@pytest.mark.parametrize("args,message", [
    (["--system", "mollie"], "mollie is a known service"),
    (["--system", "Web Shop"], "expected a lower-case name"),
    (["--system", "webshop", "--source", "mollie"], "--system and --source exclude each other"),
])
def test_bad_system_option_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture,
                                      args: list[str], message: str) -> None:
    code, _, err = _run(capsys, tmp_path / "ws", "import", *args, str(_csv(tmp_path / "o.csv")))
    assert code == 2 and message in err
