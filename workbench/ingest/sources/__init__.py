"""One module per service, each with the same small interface.

* ``detect(path, mappings=None) -> ExportKind | None``: which of the service's exports the file
  is, judged from its content (header row, XML root, JSON shape), never from its name;
* ``read(path, kind=None, mappings=None) -> Extract``: the file in the canonical model;
* ``KINDS``: the exports the module reads.

``mappings`` is the workspace's ``mappings.toml`` with the user's extra header synonyms.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import ModuleType

from workbench.errors import InputError
from workbench.ingest import headers
from workbench.ingest.model import ExportKind, Extract
from workbench.ingest.sources import (
    _recognise,
    bank,
    exact,
    factuursturen,
    ga4,
    generic,
    gmail,
    mollie,
    moneybird,
    smtpcom,
    webhosting,
)

# Loading a file once, shared by every module's detect and read; public because the workspace
# reads many small files together as one table with them.
from workbench.ingest.sources._common import FILE_STRIDE as FILE_STRIDE
from workbench.ingest.sources._common import Loaded, load
from workbench.ingest.sources._common import file_numbers as file_numbers
from workbench.ingest.sources._common import held as held
from workbench.ingest.sources._common import holding as holding
from workbench.ingest.sources._common import release as release

SERVICES: dict[str, ModuleType] = {
    "mollie": mollie,
    "moneybird": moneybird,
    "factuursturen": factuursturen,
    "exact": exact,
    "bank": bank,
    "hosting": webhosting,
    "smtpcom": smtpcom,
    "analytics": ga4,
}
# Read line by line (web server logs, GA4 events as NDJSON or Parquet): recognised by their own
# lines before any module parses the file as a table or a JSON document, which they are not.
STREAMED: tuple[ModuleType, ...] = (webhosting, ga4)

# Mail exports (an mbox, a folder of .eml files): streamed message by message into the mail index
# of the workspace (workbench.datamap.mail), never read whole into an Extract.
MAIL: tuple[ModuleType, ...] = (gmail,)

SYSTEM_PREFIX = "system:"  # ``source`` for another system's export: ``system:NAME``


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
    line_read = streamed(path, mappings=mappings)
    if line_read is not None:
        return line_read
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
    """Detect (or take ``source``) and read one file.

    A CSV or XLSX must start with a header row, also with ``--source``. One whose columns fit
    no export completely is taken as the export they fit best when that is clear (see
    :mod:`workbench.ingest.sources._recognise`); the extract's ``recognition`` says which and why.
    ``source`` ``system:NAME`` reads another system's export through the analyst's confirmed
    mapping in ``mappings.toml`` (:mod:`workbench.ingest.sources.generic`)."""
    if source and source.startswith(SYSTEM_PREFIX):
        return _system(path, source.removeprefix(SYSTEM_PREFIX), mappings)
    line_read = streamed(path, source, mappings)
    if line_read is not None:
        return line_read[0].read(path, line_read[1], mappings)
    loaded = load(path)
    tabular = loaded.format in ("csv", "xlsx")
    if tabular:
        _recognise.check_header(loaded, _recognise.known_captions(headers_services(), mappings))
    if source:
        return _read_as(path, loaded, source, mappings)
    try:
        module, kind = detect(path, mappings)
    except InputError:
        chosen = None
        if tabular and not _fits_fully(loaded, mappings):
            chosen = _recognise.choose(loaded, headers_services(), mappings, named=False)
        if not chosen:
            raise
        table, why = chosen
        return _partial(SERVICES[table.kind.service], path, table, why, mappings)
    return module.read(path, kind, mappings)


def _read_as(path: Path, loaded: Loaded, source: str, mappings: headers.MappingsLike) -> Extract:
    """The file read as the export ``source`` names (a service, or a service and its kind)."""
    tabular = loaded.format in ("csv", "xlsx")
    module, kind = resolve(source)
    if kind is None:
        kind = module.detect(path, mappings)
    chosen = None
    if kind is None and tabular and headers.has_tables(source):
        chosen = _recognise.choose(loaded, [source], mappings, named=True)
    if chosen:
        return _partial(module, path, *chosen, mappings)
    if kind is None:
        raise InputError(path, f"not recognised as a {source} export",
                         expected=f"one of {closest(path, mappings, source)}")
    table = _table(kind, mappings)
    if tabular and table is not None and loaded.format in table.formats:
        return _named(module, loaded, table, mappings)
    return module.read(path, kind, mappings)


def streamed(path: Path, source: str | None = None,
             mappings: headers.MappingsLike = None) -> tuple[ModuleType, ExportKind] | None:
    """A web server log or GA4 export (of the service ``source`` names, when it names one)."""
    service, _, name = (source or "").partition("/")
    for module in STREAMED:
        if service and service != module.SERVICE:
            continue
        kind = next((k for k in module.KINDS if k.name == name), None) if name else None
        found = kind or module.detect(path, mappings)
        if found is not None:
            return module, found
    return None


def _system(path: Path, name: str, mappings: headers.MappingsLike) -> Extract:
    generic.check_name(name)
    given = mappings if isinstance(mappings, headers.Mappings) else headers.Mappings(mappings)
    mapping = headers.systems(given.path).get(name)
    if mapping is None:
        raise InputError(path, f"system {name} has no mapping yet",
                         expected=f"a confirmed [system.{name}] in mappings.toml; run "
                         f"'workbench import --system {name} FILE' to propose one")
    return generic.read(path, mapping, mappings)


def _table(kind: ExportKind, mappings: headers.MappingsLike) -> headers.HeaderTable | None:
    tables = headers.tables(kind.service, mappings) if headers.has_tables(kind.service) else []
    return next((t for t in tables if t.kind == kind), None)


def headers_services() -> list[str]:
    """The services with header synonym tables (tabular exports)."""
    return [s for s in SERVICES if headers.has_tables(s)]


def _fits_fully(loaded: Loaded, mappings: headers.MappingsLike) -> bool:
    """Whether some export's header fits completely (then a refusal stands as it is: the file
    fits several, or it is wrong in another way)."""
    return any(loaded.format in t.formats and not t.missing(loaded.columns)
               for s in headers_services() for t in headers.tables(s, mappings))


def _named(module: ModuleType, loaded: Loaded, table: headers.HeaderTable,
           mappings: headers.MappingsLike) -> Extract:
    """A tabular export the user named with ``--source SERVICE/KIND``: its columns must still
    name or identify a party; the ones it lacks for a complete export are reported."""
    lacking = table.missing(loaded.columns)
    if not lacking:
        return module.read(loaded.path, table.kind, mappings)
    if not table.identifying(loaded.columns):
        raise InputError(loaded.path, f"none of its columns names or identifies a party the way a "
                         f"{table.kind.title} does", row=1,
                         expected="a header row with a name, e-mail, IBAN, customer number or "
                         f"other identifier column of a {table.kind.title}")
    why = (f"named with --source {table.kind.key}; {len(table.known(loaded.columns))} of "
           f"{len(loaded.columns)} columns known, lacks {', '.join(lacking)} for a complete export")
    return _partial(module, loaded.path, table, why, mappings)


def _partial(module: ModuleType, path: Path, table: headers.HeaderTable, why: str,
             mappings: headers.MappingsLike) -> Extract:
    """Read a file as ``table``'s export although it has only some of its columns."""
    given = mappings if isinstance(mappings, headers.Mappings) else headers.Mappings(mappings)
    relaxed = replace(given, relaxed=(*given.relaxed, (table.kind.service, table.kind.name)))
    extract = module.read(path, table.kind, relaxed)
    extract.recognition = why
    return extract


def closest(path: Path, mappings: headers.MappingsLike = None, service: str | None = None) -> str:
    """The three known exports the file comes nearest to, with what it lacks for each."""
    loaded = load(path)
    services = [service] if service else list(SERVICES)
    if loaded.format in ("csv", "xlsx") and any(headers.has_tables(s) for s in services):
        services = [s for s in services if headers.has_tables(s)]
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
