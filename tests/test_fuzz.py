"""Mutated real and demo exports through the command line: every run ends in exit 0 or in a
clean exit 2 that names the file, never in "internal error" or a traceback.

The seeds are the real files in ``../shared/fixtures/real/`` (when the research folder is next to
the repository) and a small demo business. Each example mutates one seed the way files get
damaged or edited in practice (truncated, bytes flipped, rows reordered, columns dropped or
renamed, re-encoded, wrapped in more nesting) and imports it into a fresh workspace.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import SHARED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import demo
from workbench.errors import printable
from workbench.ui.cli import main

pytestmark = pytest.mark.slow  # hundreds of imports, each into a fresh workspace

FUZZ = settings(max_examples=30, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _real_files() -> list[Path]:
    folder = SHARED / "fixtures" / "real"
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "README.md") \
        if folder.exists() else []


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """One of each kind of demo export (a small business) and every real file."""
    written = demo.write(tmp_path_factory.mktemp("demo-seeds"), clients=40)
    one_per_kind = {(p.parent.name, p.suffix): p for p in written}
    return sorted(one_per_kind.values()) + _real_files()


def run_import(path: Path) -> tuple[int, str]:
    """``workbench import FILE`` in this process with a fresh workspace: exit code and stderr."""
    workspace = Path(tempfile.mkdtemp(prefix="ws-", dir=path.parent))
    err, out = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main(["--workspace", str(workspace / "ws"), "import", str(path)])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    return code, err.getvalue()


def assert_clean(path: Path, code: int, err: str) -> None:
    assert "internal error" not in err and "Traceback" not in err, err
    assert code in (0, 2), (code, err)
    if code == 2:
        assert printable(path.name) in err, err  # the message names the file


# --------------------------------------------------------------------------------------------
# mutations: each takes the file's bytes and hypothesis's data and returns new bytes


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def truncate(data: bytes, draw: st.DataObject) -> bytes:
    return data[: draw.draw(st.integers(0, max(len(data) - 1, 0)))]


def flip_bytes(data: bytes, draw: st.DataObject) -> bytes:
    out = bytearray(data)
    for _ in range(draw.draw(st.integers(1, 8))):
        if out:
            at = draw.draw(st.integers(0, len(out) - 1))
            out[at] ^= draw.draw(st.integers(1, 255))
    return bytes(out)


def reorder_rows(data: bytes, draw: st.DataObject) -> bytes:
    lines = _lines(data)
    return b"".join(draw.draw(st.permutations(lines))) if len(lines) < 400 else b"".join(lines[::-1])


def _delimiter(header: bytes) -> bytes:
    return max([b",", b";", b"\t"], key=header.count)


def drop_column(data: bytes, draw: st.DataObject) -> bytes:
    lines = _lines(data)
    if not lines:
        return data
    sep = _delimiter(lines[0])
    at = draw.draw(st.integers(0, max(lines[0].count(sep), 0)))
    return b"".join(sep.join(p for i, p in enumerate(line.split(sep)) if i != at) for line in lines)


CAPTIONS = st.sampled_from(["", "E-mail", "Naam", "IBAN", "\x1b[31mred", "a\u202eb", "x\ny", "\"",
                            "=cmd()", "Zoë", "id", "Amount", "Datum"])


def rename_column(data: bytes, draw: st.DataObject) -> bytes:
    lines = _lines(data)
    if not lines:
        return data
    sep = _delimiter(lines[0])
    fields = lines[0].split(sep)
    fields[draw.draw(st.integers(0, len(fields) - 1))] = draw.draw(CAPTIONS).encode()
    return b"".join([sep.join(fields), *lines[1:]])


def rename_key(data: bytes, draw: st.DataObject) -> bytes:
    """A JSON key or XML element renamed (the structural twin of a renamed column)."""
    names = re.findall(rb'"([A-Za-z_]+)"\s*:|<([A-Za-z]+)[ >]', data[:20000])
    if not names:
        return data
    old = b"".join(draw.draw(st.sampled_from(names)))
    return data.replace(old, draw.draw(CAPTIONS).encode("utf-8") or b"x")


def reencode(data: bytes, draw: st.DataObject) -> bytes:
    text = data.decode("utf-8", errors="replace")
    encoding = draw.draw(st.sampled_from(["cp1252", "utf-16", "latin-1", "utf-8-sig", "ascii"]))
    return text.encode(encoding, errors="replace")


def nest(data: bytes, draw: st.DataObject) -> bytes:
    depth = draw.draw(st.sampled_from([2, 50, 200, 5000]))
    stripped = data.lstrip(b"\xef\xbb\xbf \r\n\t")
    if stripped.startswith((b"[", b"{")):
        return b'{"a":[' * depth + stripped + b"]}" * depth
    if stripped.startswith(b"<"):
        body = re.sub(rb"^<\?xml[^>]*\?>", b"", stripped)
        return b"<n>" * depth + body + b"</n>" * depth
    return b"[" * depth + data + b"]" * depth


def huge_values(data: bytes, draw: st.DataObject) -> bytes:
    """A number or amount no system writes: 4,300 digits, Infinity, 1e999, an exponent."""
    value = draw.draw(st.sampled_from([b"9" * 4400, b"Infinity", b"NaN", b"1e999", b"1e5",
                                       b"99999999999999999999.99", b"-0", b"99999"]))
    numbers = list(re.finditer(rb"(?<![\w.])\d+(?:[.,]\d+)?(?![\w])", data[:50000]))
    if not numbers:
        return data + value
    found = draw.draw(st.sampled_from(numbers))
    return data[: found.start()] + value + data[found.end():]


MUTATIONS: list[Callable[[bytes, st.DataObject], bytes]] = [
    truncate, flip_bytes, reorder_rows, drop_column, rename_column, rename_key, reencode, nest,
    huge_values,
]


def _mutated(seeds: list[Path], data: st.DataObject, folder: Path) -> Path:
    seed = data.draw(st.sampled_from(seeds), label="seed")
    content = seed.read_bytes()
    for mutation in data.draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=2),
                              label="mutations"):
        content = mutation(content, data)
    target = folder / f"m-{seed.parent.name}-{seed.name}"
    target.write_bytes(content)
    return target


@FUZZ
@given(data=st.data())
def test_mutated_exports_end_cleanly(seeds: list[Path], tmp_path: Path, data: st.DataObject) -> None:
    path = _mutated(seeds, data, tmp_path)
    assert_clean(path, *run_import(path))


@pytest.mark.parametrize("name", ["a\x1b[2Jb.csv", "r\u202egnp.csv", "new\nline.csv"])
def test_file_names_are_printed_escaped(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"not,an,export\n1,2,3\n")
    code, err = run_import(path)
    assert code == 2 and printable(name) in err
    assert "\x1b" not in err and "\u202e" not in err and "new\nline" not in err
