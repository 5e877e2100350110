"""Limits on every input file, as reviewed settings (``workbench/config/limits.toml``).

A workspace may override any of them in its own ``limits.toml`` (same ``[limits]`` table). The
settings are validated on load: an unknown key, a missing one or a value that is no positive
number is an error naming the file and the key. :func:`current` is what readers check against;
:func:`using` sets it for the duration of an import.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path

from workbench.errors import InputError

DEFAULTS = Path(__file__).parent / "config" / "limits.toml"
FILE_NAME = "limits.toml"


@dataclass(frozen=True)
class Limits:
    """The largest input the workbench reads; see the toml for what each rests on."""

    max_bytes: int
    max_rows: int
    max_cells: int
    max_xlsx_ratio: float
    max_xlsx_bytes: int
    max_xml_depth: int
    max_json_depth: int


_NAMES = [f.name for f in fields(Limits)]


def _table(path: Path) -> dict:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(path, f"unreadable limits ({type(exc).__name__})",
                         expected="a TOML file with a [limits] table") from None
    table = data.get("limits")
    if not isinstance(table, dict) or set(data) - {"limits"}:
        raise InputError(path, "no [limits] table, or other tables beside it",
                         expected="a TOML file with a [limits] table only")
    for key, value in table.items():
        if key not in _NAMES:
            raise InputError(path, f"unknown limit {key!r}", expected=f"one of {', '.join(_NAMES)}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise InputError(path, f"limit {key!r} is no positive number", expected="a number above 0")
    return table


@lru_cache(maxsize=1)
def defaults() -> Limits:
    """The reviewed defaults; every limit must be there."""
    table = _table(DEFAULTS)
    missing = [name for name in _NAMES if name not in table]
    if missing:
        raise InputError(DEFAULTS, f"limits {', '.join(missing)} are missing",
                         expected="every limit with a value")
    return Limits(**table)


def for_workspace(folder: Path) -> Limits:
    """The defaults with what the workspace's own ``limits.toml`` changes."""
    override = Path(folder) / FILE_NAME
    if not override.is_file():
        return defaults()
    return replace(defaults(), **_table(override))


_ACTIVE: ContextVar[Limits | None] = ContextVar("limits", default=None)


def current() -> Limits:
    """The limits in force: those set by :func:`using`, else the defaults."""
    return _ACTIVE.get() or defaults()


@contextmanager
def using(limits: Limits) -> Iterator[Limits]:
    token = _ACTIVE.set(limits)
    try:
        yield limits
    finally:
        _ACTIVE.reset(token)


def refuse(path: Path, what: str, found: int | float, name: str) -> InputError:
    """The error for a file beyond a limit, naming the limit and where to change it."""
    limit = getattr(current(), name)
    return InputError(path, f"{what} ({found:,}) is beyond the limit {name} = {limit:,}",
                      expected=f"at most {limit:,}; a workspace may raise {name} in its {FILE_NAME}")
