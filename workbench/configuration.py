"""Configuration is reviewed data: TOML files validated by typed pydantic models.

Every configuration file the workbench reads (the register, the DPIA judgements, the policy's
claims, the header tables, the per-system steps) is parsed with :func:`load` into a model, the
way fideslang validates its resources. A file that does not fit raises one :class:`ConfigError`
that lists every problem as ``file: key: message``, so a reviewer fixes them in one pass instead
of one per run.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictStr, ValidationError

from workbench.errors import WorkbenchError, printable

M = TypeVar("M", bound=BaseModel)


class ConfigModel(BaseModel):
    """Base of every configuration model: unknown keys are mistakes, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfigError(WorkbenchError):
    """Configuration that does not validate; ``problems`` holds one ``file: key: message`` each."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("configuration is invalid:\n  " + "\n  ".join(printable(p) for p in self.problems))


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file at ``path`` as a dict; a missing or malformed file is a :class:`ConfigError`."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError([f"{path}: file is missing"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML ({exc})"]) from None


def validate(data: Any, model: type[M], source: Path | str) -> M:
    """``data`` as a ``model``; every validation problem is reported against ``source``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems(exc, source)) from None


def load(path: Path, model: type[M]) -> M:
    """The TOML file at ``path`` validated as ``model``."""
    return validate(read_toml(path), model, path)


def problems(exc: ValidationError, source: Path | str) -> list[str]:
    """One ``file: key: message`` line per error pydantic found; input values are left out, since
    a configuration may hold names."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"{source}: {key}: {error['msg']}")
    return lines


def _filled(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty; give the text")
    return value


def _compiles(value: str) -> str:
    if not value:
        raise ValueError("is empty; give a pattern")
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a valid regular expression ({exc})") from None
    return value


Text = Annotated[StrictStr, AfterValidator(_filled)]  # a text that says something
Regex = Annotated[StrictStr, AfterValidator(_compiles)]  # a pattern written as reviewed data
