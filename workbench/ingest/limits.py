"""Limits on every input file, as reviewed settings (``workbench/config/limits.toml``).

A workspace may override any of them in its own ``limits.toml`` (same ``[limits]`` table). The
settings are validated on load: an unknown key, a missing one or a value that is no positive
number is a :class:`~workbench.configuration.ConfigError` naming the file and the key.
:func:`current` is what readers check against; :func:`using` sets it for the duration of an
import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import ConfigDict, Field, StrictInt, field_validator

from workbench.configuration import ConfigError, ConfigModel, read_toml, validate
from workbench.errors import InputError

DEFAULTS = Path(__file__).resolve().parents[1] / "config" / "limits.toml"
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


PositiveInt = Annotated[StrictInt, Field(gt=0)]


class _Values(ConfigModel):
    """A ``[limits]`` table: every key optional, as a workspace's override names only what it changes."""

    model_config = ConfigDict(strict=True)
    max_bytes: PositiveInt | None = None
    max_rows: PositiveInt | None = None
    max_cells: PositiveInt | None = None
    max_xlsx_ratio: PositiveInt | Annotated[float, Field(gt=0)] | None = None
    max_xlsx_bytes: PositiveInt | None = None
    max_xml_depth: PositiveInt | None = None
    max_json_depth: PositiveInt | None = None


class _File(ConfigModel):
    limits: _Values


class _Defaults(_File):
    """The shipped file: every limit has its value."""

    @field_validator("limits")
    @classmethod
    def _complete(cls, values: _Values) -> _Values:
        missing = [name for name, value in values if value is None]
        if missing:
            raise ValueError(f"{', '.join(missing)} missing; every limit needs a value")
        return values


def _table(path: Path, model: type[_File] = _File) -> dict:
    """The limits the file at ``path`` names, validated."""
    try:
        data = read_toml(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: unreadable ({type(exc).__name__})"]) from None
    return validate(data, model, path).limits.model_dump(exclude_none=True)


@lru_cache(maxsize=1)
def defaults() -> Limits:
    """The reviewed defaults; every limit must be there."""
    return Limits(**_table(DEFAULTS, _Defaults))


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
