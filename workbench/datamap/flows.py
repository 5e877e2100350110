"""Where personal data flows and who holds it: per export, how many records hold each data
category; the flows category -> system -> processor -> location weighted by those records; the
inventory rows behind one flow; the register's systems with no records to weigh. Computed in DuckDB
over the newest import of each export, so only small summaries leave the workspace. The dashboards,
the DPIA and the annual report draw on these."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from workbench.reference.register import Register
from workbench.reference.taxonomy import related
from workbench.store.workspace import RAW_VALUES_SQL, Workspace

STAGES = ("category → system", "system → processor", "processor → location")


def rollup(category: str, depth: int = 3) -> str:
    """A fideslang category cut to ``depth`` levels: user.contact.address.street -> user.contact.address."""
    return ".".join(category.split(".")[:depth])


def category_label(register: Register, key: str) -> str:
    info = register.categories.get(key)
    return info.label_nl if info else key


def holdings(ws: Workspace, fields: pd.DataFrame, categories: set[str] | None = None) -> pd.DataFrame:
    """Per export (the newest import of each) and rolled-up category: how many records hold a value
    of that category, plus one row per export with category ``"*"``: the records holding any of
    ``categories`` (every personal category when None). One pass per export, in DuckDB."""
    out_columns = ["service", "export_kind", "category", "records"]
    personal = fields[fields.personal.eq(True) & fields.category.notna()].copy()
    if personal.empty or not ws.exists:
        return pd.DataFrame(columns=out_columns)
    personal["rolled"] = personal.category.map(rollup)
    with ws.connect(read_only=True) as con:  # one connection: opening one costs more than a query
        newest = con.execute("""SELECT service, export_kind, max(import_id) AS import_id FROM imports
                                GROUP BY service, export_kind""").df()
        rows = [row for export in newest.itertuples()
                for row in _export_holdings(con, personal, export, categories)]
    return pd.DataFrame(rows, columns=out_columns)


def _export_holdings(con, personal: pd.DataFrame, export, categories: set[str] | None) -> list[list]:
    """The rows of :func:`holdings` for the newest import of one export, in one pass over it."""
    cols = personal[(personal.service == export.service) & (personal.export_kind == export.export_kind)]
    if cols.empty:
        return []
    names = cols.column.tolist()
    position = {name: i + 1 for i, name in enumerate(names)}  # DuckDB lists count from 1
    groups = {cat: [position[c] for c in g.column] for cat, g in cols.groupby("rolled")}
    wanted = [position[c] for c, cat in zip(cols.column, cols.rolled, strict=True)
              if categories is None or cat in categories]
    cats = sorted(groups)
    filters = [_any_filled(groups[cat]) for cat in cats] + [_any_filled(wanted)]
    sql = ("SELECT " + ", ".join(f"count(*) FILTER (WHERE {f}) AS c{i}" for i, f in enumerate(filters))
           + f" FROM (SELECT {RAW_VALUES_SQL.format(names='?::VARCHAR[]')} AS v FROM raw_records"
           " WHERE import_id = ?)")
    counts = con.execute(sql, [names, int(export.import_id)]).fetchall()[0]
    return [[export.service, export.export_kind, cat, int(n)]
            for cat, n in zip([*cats, "*"], counts, strict=True)]


def _any_filled(positions: list[int]) -> str:
    if not positions:
        return "false"
    return "(" + " OR ".join(f"coalesce(v[{p}], '') <> ''" for p in positions) + ")"


def location(register: Register, processor: str) -> str:
    """Where a processor keeps the data: NL, EU (country) or the third country with its safeguard."""
    p = register.processors[processor]
    if p.outside_eea:
        return f"{p.country} ({p.transfer_safeguard or 'no safeguard'})"
    return "NL" if p.country == "NL" else f"EU ({p.country})"


@dataclass
class Selection:
    """What the processor flows are filtered on; empty means everything."""

    category: str = ""
    processor: str = ""
    activity: str = ""

    def categories(self, register: Register, fields: pd.DataFrame) -> set[str]:
        found = {rollup(c) for c in fields[fields.personal.eq(True)].category.dropna()}
        if self.category:
            found &= {self.category}
        if self.activity:
            declared = register.activities[self.activity].data_categories
            found = {c for c in found if any(related(c, d) for d in declared)}
        return found

    def systems(self, register: Register) -> set[str]:
        keys = set(register.systems)
        if self.processor:
            keys = {k for k in keys if self.processor in register.systems[k].processors}
        if self.activity:
            keys &= set(register.activities[self.activity].systems)
        return keys


def flows(ws: Workspace, register: Register, fields: pd.DataFrame,
          selection: Selection | None = None) -> pd.DataFrame:
    """The Sankey's edges, weighted by records: data category -> system (records of the system
    holding the category), system -> each processor that runs it (records holding any selected
    category), processor -> location (the sum over its systems). Columns: stage, source, target,
    value and the keys behind the edge (category, system, processor)."""
    selection = selection or Selection()
    columns = ["stage", "source", "target", "value", "category", "system", "processor"]
    categories = selection.categories(register, fields)
    systems = selection.systems(register)
    if not categories or not systems:
        return pd.DataFrame(columns=columns)
    held = holdings(ws, fields, categories)
    held = held[held.service.isin(systems)]
    per = held.groupby(["service", "category"], as_index=False).records.sum()
    edges = []
    for row in per[per.category.isin(categories) & per.records.gt(0)].itertuples():
        edges.append([STAGES[0], category_label(register, row.category), register.systems[row.service].name,
                      row.records, row.category, row.service, ""])
    totals = per[per.category.eq("*") & per.records.gt(0)]
    by_processor: dict[str, int] = {}
    for row in totals.itertuples():
        runs = [p for p in register.systems[row.service].processors
                if not selection.processor or p == selection.processor]
        for key in runs:
            edges.append([STAGES[1], register.systems[row.service].name, _processor_label(register, key),
                          row.records, "", row.service, key])
            by_processor[key] = by_processor.get(key, 0) + row.records
    for key, n in sorted(by_processor.items()):
        edges.append([STAGES[2], _processor_label(register, key), location(register, key), n, "", "", key])
    frame = pd.DataFrame(edges, columns=columns)
    frame["value"] = frame["value"].astype(int)
    return frame


def _processor_label(register: Register, key: str) -> str:
    return f"{register.processors[key].name} (processor)"


def flow_fields(fields: pd.DataFrame, register: Register, edge: dict,
                selection: Selection | None = None) -> pd.DataFrame:
    """The inventory rows behind one edge of :func:`flows`."""
    selection = selection or Selection()
    personal = fields[fields.personal.eq(True) & fields.category.notna()]
    rolled = personal.category.map(rollup)
    chosen = personal[rolled.isin(selection.categories(register, fields))]
    if edge.get("category"):
        chosen = chosen[chosen.category.map(rollup) == edge["category"]]
    if edge.get("system"):
        chosen = chosen[chosen.service == edge["system"]]
    elif edge.get("processor"):
        held = [k for k, s in register.systems.items() if edge["processor"] in s.processors]
        chosen = chosen[chosen.service.isin(held)]
    return chosen[["service", "export_kind", "column", "field", "category", "fill_rate", "declared",
                   "examples"]].reset_index(drop=True)


def undeclared_systems(register: Register, held: pd.DataFrame) -> pd.DataFrame:
    """Systems of the register with no imported records (mail, hosting, analytics): their flows
    cannot be weighted, so they are listed with what the register declares for them."""
    with_data = set(held.service)
    rows = [{"system": s.name, "processors": ", ".join(_processor_label(register, p) for p in s.processors),
             "location": ", ".join(location(register, p) for p in s.processors),
             "declared categories": ", ".join(sorted({c for a in register.activities_for(k)
                                                      for c in a.data_categories}))}
            for k, s in register.systems.items() if k not in with_data]
    return pd.DataFrame(rows, columns=["system", "processors", "location", "declared categories"])
