"""One module per service, each with the same small interface.

* ``detect(path, mappings=None) -> ExportKind | None``: which of the service's exports the file
  is, judged from its content (header row, XML root, JSON shape), never from its name;
* ``read(path, kind=None, mappings=None) -> Extract``: the file in the canonical model;
* ``KINDS``: the exports the module reads.

``mappings`` is the workspace's ``mappings.toml`` with the user's extra header synonyms.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from workbench import headers
from workbench.errors import InputError
from workbench.model import ExportKind, Extract
from workbench.sources import exact, factuursturen, mollie, moneybird
from workbench.sources._common import load

SERVICES: dict[str, ModuleType] = {
    "mollie": mollie,
    "moneybird": moneybird,
    "factuursturen": factuursturen,
    "exact": exact,
}


def all_kinds() -> list[ExportKind]:
    return [kind for module in SERVICES.values() for kind in module.KINDS]


def resolve(source: str) -> tuple[ModuleType, ExportKind | None]:
    """``--source SERVICE`` or ``--source SERVICE/KIND`` as module and kind."""
    service, _, name = source.partition("/")
    if service not in SERVICES:
        raise InputError(Path(source), "unknown source", expected=f"one of {sorted(SERVICES)}")
    module = SERVICES[service]
    if not name:
        return module, None
    kind = next((k for k in module.KINDS if k.name == name), None)
    if kind is None:
        names = ", ".join(f"{service}/{k.name}" for k in module.KINDS)
        raise InputError(Path(source), "unknown export kind", expected=f"one of {names}")
    return module, kind


def detect(path: Path, mappings: headers.MappingsLike = None) -> tuple[ModuleType, ExportKind]:
    """The service and export a file is, or an error listing the closest known exports."""
    found = [(m, k) for m in SERVICES.values() if (k := m.detect(path, mappings)) is not None]
    if len(found) > 1:
        names = ", ".join(k.title for _, k in found)
        raise InputError(path, f"fits more than one export ({names})",
                         expected="one export; choose with --source SERVICE/KIND")
    if not found:
        raise InputError(path, "not recognised as a known export",
                         expected=f"one of the closest known exports: {closest(path, mappings)}")
    return found[0]


def read(path: Path, source: str | None = None, mappings: headers.MappingsLike = None) -> Extract:
    """Detect (or take ``source``) and read one file."""
    if source:
        module, kind = resolve(source)
        if kind is None:
            kind = module.detect(path, mappings)
            if kind is None:
                raise InputError(path, f"not recognised as a {source} export",
                                 expected=f"one of {closest(path, mappings, source)}")
        return module.read(path, kind, mappings)
    module, kind = detect(path, mappings)
    return module.read(path, kind, mappings)


def closest(path: Path, mappings: headers.MappingsLike = None, service: str | None = None) -> str:
    """The three known exports the file comes nearest to, with what it lacks for each."""
    loaded = load(path)
    services = [service] if service else list(SERVICES)
    if loaded.format in ("csv", "xlsx"):
        scored = [
            (t.score(loaded.columns), t)
            for s in services for t in headers.tables(s, mappings)
        ]
        scored.sort(key=lambda pair: -pair[0])
        return "; ".join(
            f"{t.kind.title} (lacks {', '.join(t.missing(loaded.columns)) or 'nothing'})"
            for _, t in scored[:3]
        )
    titles = [
        k.title for s in services for k in SERVICES[s].KINDS
        if loaded.format in getattr(SERVICES[s], "FORMATS", {}).get(k.name, ())
    ]
    return "; ".join(titles) or "no known export comes in this format"
