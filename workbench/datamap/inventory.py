"""The field inventory: every column of every imported export, what it holds and whether the
register declares it.

One row per (service, export kind, column) of the newest import of each export: the canonical
field it feeds, its data category (fideslang), whether it is personal data, whether it is a
special category or national identifier, how full it is, whether the register declares the
category for that system, how it was classified (mapping, detector or analyst), and a few
masked example values.
"""

from __future__ import annotations

import pandas as pd

from workbench.ingest import discovery
from workbench.ingest.masking import mask
from workbench.ingest.model import FIELDS
from workbench.reference.register import Register
from workbench.store.workspace import RAW_VALUES_SQL, Workspace

COLUMNS = ["service", "export_kind", "file_name", "column", "field", "category", "personal",
           "special_or_national_id", "fill_rate", "declared", "classified_by", "confidence",
           "examples"]
EXAMPLES = 3
DISCOVERY_COLUMNS = ["service", "export_kind", "column", "kind", "field", "confidence", "evidence",
                     "decided_by", "category", "personal"]


def build(ws: Workspace, register: Register) -> pd.DataFrame:
    """The field inventory of the workspace, judged against the register."""
    if not ws.exists:
        return pd.DataFrame(columns=COLUMNS)
    columns = ws.query("""
        SELECT i.import_id, i.service, i.export_kind, i.file_name, c.position, c.name AS column,
               c.field
        FROM columns c JOIN imports i USING (import_id)
        WHERE i.import_id IN (SELECT max(import_id) FROM imports GROUP BY service, export_kind)
        ORDER BY i.service, i.export_kind, c.position""")
    if columns.empty:
        return pd.DataFrame(columns=COLUMNS)
    found = discover(ws).set_index(["service", "export_kind", "column"])
    stats = pd.concat([_fill(ws, import_id, group["column"].tolist())
                       for import_id, group in columns.groupby("import_id")])
    rows = columns.merge(stats, on=["import_id", "column"], how="left")
    judged = pd.DataFrame([_judge(row, found, register) for row in rows.itertuples()], index=rows.index)
    return pd.concat([rows.drop(columns="field"), judged], axis=1)[COLUMNS]


def _fill(ws: Workspace, import_id: int, names: list[str]) -> pd.DataFrame:
    """Fill rate and masked examples of each column of one import, in one pass over its rows."""
    values_sql = RAW_VALUES_SQL.format(names="?::VARCHAR[]")
    stored = ws.query("SELECT names FROM raw_names WHERE import_id = ?", [import_id])["names"]
    stored = list(stored.iloc[0]) if len(stored) else []
    # one count per column in one scan of the cells (a column the file lacks counts none filled)
    filled = [f"count(*) FILTER (WHERE coalesce(cells[{stored.index(name) + 1}], '') <> '')"
              if name in stored else "0" for name in names]
    counts = ws.query(f"SELECT count(*) AS total, [{', '.join(filled)}] AS filled FROM raw_records "
                      "WHERE import_id = ?", [import_id]).iloc[0]
    # the first rows picked by their numbers alone: sorting a million rows' cells would take seconds
    sample = ws.query(f"""
        SELECT {values_sql} AS vals FROM raw_records WHERE import_id = ? AND source_row IN (
            SELECT source_row FROM raw_rows WHERE import_id = ? ORDER BY source_row LIMIT 200)
        ORDER BY source_row""", [names, import_id, import_id])
    values = pd.DataFrame(sample["vals"].tolist(), columns=names) if len(sample) else None
    out = []
    for idx, name in enumerate(names):
        filled, total = counts["filled"][idx], counts["total"]
        distinct = [] if values is None else [v for v in values[name].dropna().unique() if v][:EXAMPLES]
        out.append({"import_id": import_id, "column": name,
                    "fill_rate": round(filled / total, 3) if total else 0.0, "sample": distinct})
    return pd.DataFrame(out)


def _judge(row, found: pd.DataFrame, register: Register) -> dict:
    """Field, category, personal and how it was classified: the analyst wins, then the reviewed
    mapping, then the detector."""
    key = (row.service, row.export_kind, row.column)
    field = row.field if isinstance(row.field, str) else None  # NULL comes back as NaN
    how, confidence = "mapping", 1.0
    category = kind = None
    if key in found.index:
        hit = found.loc[key]
        how = "detector" if hit.decided_by == "detector" else "analyst"
        kind, field, confidence = hit.kind, hit.field, float(hit.confidence)
        category = getattr(hit, "category", None) or None
    if field == "other":  # the reviewed mapping knows the column and says it is not personal
        return _row(None, None, False, "mapping", row, register, 1.0, None)
    if field is None and kind is None:
        return _row(None, category, None, "unclassified", row, register, 0.0, None)
    category = category or register.category_of(field or kind)
    personal = FIELDS[field].personal if field in FIELDS else True
    return _row(field, category, personal, how, row, register, confidence, field or kind)


def _row(field, category, personal, how, row, register: Register, confidence: float,
         shape: str | None) -> dict:
    info = register.categories.get(category) if category else None
    return {
        "field": field,
        "category": category,
        "personal": personal,
        "special_or_national_id": bool(info and (info.special or info.national_id)),
        "declared": bool(category and register.declared(category, row.service)),
        "classified_by": how,
        "confidence": round(confidence, 2),
        # only values known not to be personal are shown as they are
        "examples": ", ".join(str(v)[:20] if personal is False else mask(v, shape) for v in row.sample),
    }


def undeclared(inventory: pd.DataFrame) -> pd.DataFrame:
    """Categories found in the data that the register declares nowhere for that system (R30-11)."""
    personal = inventory[inventory.personal.eq(True) & inventory.category.notna()]
    missing = personal[~personal.declared]
    return (missing.groupby(["service", "category"], as_index=False)
            .agg(columns=("column", lambda c: ", ".join(sorted(set(c)))),
                 exports=("export_kind", lambda k: ", ".join(sorted(set(k))))))


# ---------------------------------------------------------------------------------------------
# discovery on the workspace: the analyst's decision on a column (table ``column_decisions``)
# always wins over the detector


def _unmapped(ws: Workspace) -> pd.DataFrame:
    return ws.query("""
        WITH current AS (
            SELECT import_id, service, export_kind FROM imports
            QUALIFY row_number() OVER (PARTITION BY service, export_kind ORDER BY import_id DESC) = 1)
        SELECT cur.import_id, cur.service, cur.export_kind, c.name AS column
        FROM current cur JOIN columns c USING (import_id)
        WHERE c.field IS NULL
        ORDER BY cur.service, cur.export_kind, c.position""")


def _column_values(ws: Workspace, import_id: int, names: list[str]) -> pd.DataFrame:
    """The values of the named columns of one import, one query for all of them."""
    picks = ", ".join(f"cells[list_position(names, ?)] AS c{i}" for i in range(len(names)))
    frame = ws.query(f"SELECT {picks} FROM raw_records WHERE import_id = ? ORDER BY source_row",
                     [*names, import_id])
    frame.columns = names
    return frame


def _detected(service: str, export_kind: str, column: str, found: discovery.Finding | None) -> dict:
    row = {"service": service, "export_kind": export_kind, "column": column, "decided_by": "detector",
           "category": None}
    if found is None:
        return row | {"kind": None, "field": None, "confidence": 0.0, "personal": None,
                      "evidence": "no kind recognised in the values and the name"}
    personal = FIELDS[found.field].personal if found.field else True
    return row | {"kind": found.kind, "field": found.field, "confidence": found.confidence,
                  "evidence": found.evidence, "personal": personal}


def _decided(row: dict, decision: pd.Series) -> dict:
    """The analyst's decision replaces the detector's finding; the finding stays as evidence."""
    said = (f"the detector said {row['kind']} ({row['confidence']:.2f})" if row["kind"]
            else "the detector recognised nothing")
    given = {k: (v if pd.notna(v) and v != "" else None) for k, v in decision.items()}
    when = pd.Timestamp(given["decided_at"]).strftime("%Y-%m-%d") if given["decided_at"] else "?"
    who = given["decided_by"] or "analyst"
    note = f": {given['note']}" if given["note"] else ""
    return row | {"kind": discovery.KIND_BY_FIELD.get(given["field"]), "field": given["field"],
                  "category": given["category"], "confidence": 1.0, "decided_by": who,
                  "personal": None if given["personal"] is None else bool(given["personal"]),
                  "evidence": f"decided by {who} on {when}{note}; {said}"}


def discover(ws: Workspace) -> pd.DataFrame:
    """Every unmapped column of the newest import of each export, with what it holds: the
    analyst's decision where there is one, else the detector's finding."""
    if not ws.exists:
        return pd.DataFrame(columns=DISCOVERY_COLUMNS)
    columns = _unmapped(ws)
    decisions = ws.query('SELECT * FROM column_decisions').set_index(["service", "export_kind", "column"])
    rows = []
    for (import_id, service, export_kind), group in columns.groupby(
            ["import_id", "service", "export_kind"], sort=False):
        names = group["column"].tolist()
        values = _column_values(ws, import_id, names)
        for name in names:
            row = _detected(service, export_kind, name, discovery.classify(name, values[name]))
            key = (service, export_kind, name)
            if key in decisions.index:
                row = _decided(row, decisions.loc[key])
            rows.append(row)
    # object columns keep None as None (a str column would turn it into NaN)
    return pd.DataFrame(rows, columns=DISCOVERY_COLUMNS, dtype=object).astype({"confidence": "float64"})
