"""The command line: what a user sees for good and bad input."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from conftest import CliResult, payments_csv, snapshot


@pytest.fixture
def run(cli: Callable[..., CliResult]) -> Callable[..., CliResult]:
    """``workbench --workspace WS ARGS...`` in this process."""
    return lambda workspace, *args: cli("--workspace", workspace, *args)


def test_import_reports_per_file(run, tmp_path: Path, payments: Path) -> None:
    result = run(tmp_path / "ws", "import", str(payments))
    assert result.returncode == 0, result.stderr
    assert "Mollie payments / settlement CSV [mollie/payments_csv]" in result.stdout
    assert "rows: 4" in result.stdout
    assert "unmapped columns (0)" in result.stdout
    assert "personal data in: Description, Consumer name, Consumer bank account" in result.stdout
    assert result.stderr == ""  # quiet in pipes: no progress lines


def test_unknown_column_is_kept_and_reported(run, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    text = payments_csv(path).read_text(encoding="utf-8-sig").splitlines()
    text = [text[0] + ",Klantkenmerk"] + [line + ",K-77" for line in text[1:]]
    path.write_text("\n".join(text) + "\n")
    result = run(tmp_path / "ws", "import", str(path))
    assert "unmapped columns (1): Klantkenmerk" in result.stdout


def test_status_changes_only_with_the_workspace(run, tmp_path: Path, payments: Path) -> None:
    ws = tmp_path / "ws"
    assert "nothing imported yet" in run(ws, "status").stdout
    run(ws, "import", str(payments))
    first, second = run(ws, "status").stdout, run(ws, "status").stdout
    assert first == second
    assert "mollie/payments_csv" in first and "settlement.csv: 4 rows" in first
    again = run(ws, "import", str(payments))
    assert "already imported" in again.stdout and "nothing changed" in again.stdout
    assert run(ws, "status").stdout == first


def _truncated_xlsx(path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["Klantnummer", "Bedrijfsnaam"])
    book.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 200])


BAD_INPUTS = {
    "empty": (lambda p: p.write_bytes(b""), "the file is empty"),
    "binary": (lambda p: p.write_bytes(bytes(range(256)) * 4), "binary content"),
    "truncated_xlsx": (_truncated_xlsx, "not a readable XLSX"),
    "unknown_headers": (lambda p: p.write_text("Foo;Bar\n1;2\n"),
                        "not recognised as a known export; expected one of the closest known"),
    "ragged": (lambda p: p.write_text(payments_csv(p).read_text(encoding="utf-8-sig") + "x,y\n"),
               "row 6: has 2 fields; expected 14 fields like the header"),
    "bad_encoding": (lambda p: p.write_bytes(
        payments_csv(p).read_bytes() + b"2026-10-01 10:12:00,ideal,EUR,\x81\x8d\n"),
        "unreadable encoding"),
    "bad_amount": (lambda p: payments_csv(p, [
        "2026-10-01 10:12:00,ideal,EUR,tien,paid,tr_1,x,Jan Jansen,,,EUR,,,"]),
        "row 2, column 'Amount': not an amount"),
    "directory": (lambda p: p.mkdir(), "is a directory"),
    "missing": (lambda p: None, "no such file"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_exit_2_clear_message_workspace_unchanged(run, tmp_path: Path, payments: Path,
                                                           name: str) -> None:
    ws = tmp_path / "ws"
    run(ws, "import", str(payments))
    before = snapshot(ws)
    make, message = BAD_INPUTS[name]
    bad = tmp_path / f"bad_{name}.csv"
    make(bad)
    result = run(ws, "import", str(bad))
    assert result.returncode == 2
    assert str(bad) in result.stderr and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert "Jan Jansen" not in result.stderr  # no personal data in messages
    assert snapshot(ws) == before


def test_wrong_service_forced(run, tmp_path: Path, payments: Path) -> None:
    result = run(tmp_path / "ws", "import", "--source", "moneybird", str(payments))
    assert result.returncode == 2
    assert "not recognised as a moneybird export" in result.stderr
    assert not (tmp_path / "ws").exists()


@pytest.mark.slow  # a process of its own: the interpreter and every import start afresh
def test_console_script_runs_a_command(tmp_path: Path, payments: Path) -> None:
    """The one test of the installed entry point as a process of its own; every other command
    line test runs ``workbench.ui.cli.main`` in the test process (the ``cli`` fixture)."""
    script = Path(sys.executable).parent / "workbench"
    if not script.exists():
        pytest.skip("console script not installed")
    done = subprocess.run([str(script), "--workspace", str(tmp_path / "ws"), "import", str(payments)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert "mollie/payments_csv" in done.stdout
    assert done.stderr == ""  # stderr is a pipe here, not a terminal: no progress lines


def test_help_names_the_commands(cli: Callable[..., CliResult]) -> None:
    result = cli("--help")
    assert result.returncode == 0
    assert "import" in result.stdout and "status" in result.stdout and "demo" in result.stdout
