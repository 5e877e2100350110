"""Panel dashboards: processor flows, the client explorer, the request tracker and the inventory
with its findings.

The aggregations are plain functions that return small DataFrames (computed in DuckDB over the
workspace, so only summaries reach the browser); the Panel components below them are built from
those. ``workbench dashboard`` serves :func:`template` with ``panel serve`` on 127.0.0.1
(``workbench/dashboard_app.py``); ``notebooks/04_dashboards.ipynb`` shows :func:`tabs` inline.
Nothing is fetched from outside: no CDN, no web fonts (``BootstrapTemplate``, not
``FastListTemplate``).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import secrets
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workbench import datamap, inventory, linkage, package, pipeline, policy_audit, requests
from workbench.errors import WorkbenchError
from workbench.register import Register
from workbench.workspace import RAW_VALUES_SQL, Workspace

PACKAGES = "dashboard-packages"  # folder under the reports area for packages written from the dashboard
STAGES = ("category → system", "system → processor", "processor → location")
GREEN, AMBER, RED = "green", "amber", "red"
COLOURS = {GREEN: "#c8e6c9", AMBER: "#ffe0b2", RED: "#ffcdd2"}
SEARCH_FIELDS = {"email": "E-mail", "name": "Name", "iban": "IBAN", "phone": "Phone",
                 "customer_id": "Customer number"}


# --- aggregation (no browser needed) -------------------------------------------------------------

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
            found = {c for c in found if any(c == d or c.startswith(d + ".") or d.startswith(c + ".")
                                             for d in declared)}
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


def colour(days_left: object) -> str:
    """green (10 days or more), amber (under 10), red (under 5 or overdue); "" when closed."""
    if days_left is None or pd.isna(days_left):
        return ""
    days = int(days_left)
    return GREEN if days >= 10 else AMBER if days >= 5 else RED


def tracker(ws: Workspace, today: dt.date | None = None) -> pd.DataFrame:
    """The open requests with days left and their colour, soonest due first."""
    frame = requests.listing(ws, today=today)
    frame.insert(frame.columns.get_loc("days_left") + 1, "colour", frame.days_left.map(colour))
    frame["extended"] = frame.flag.str.contains("extended", regex=False)
    return frame


def year_totals(ws: Workspace, today: dt.date | None = None) -> pd.DataFrame:
    """Per request type, this year's requests: received, open, overdue, extended, answered on time
    and late, refused."""
    today = today or dt.date.today()
    every = requests.listing(ws, today=today, include_closed=True)
    columns = ["type", "received", "open", "overdue", "extended", "on_time", "late", "refused"]
    if every.empty:
        return pd.DataFrame(columns=columns)
    year = every[pd.to_datetime(every.received).dt.year == today.year]
    rows = []
    for kind, group in year.groupby("type", sort=True):
        closed = group.status.isin(requests.CLOSED)
        rows.append([kind, len(group), int((~closed).sum()), int(group.flag.str.contains("OVERDUE").sum()),
                     int(group.flag.str.contains("extended").sum()),
                     int(group.flag.str.contains("on time").sum()),
                     int(group.flag.str.contains("late").sum()), int((group.status == "refused").sum())])
    frame = pd.DataFrame(rows, columns=columns)
    total = frame.drop(columns="type").sum().to_dict()
    return pd.concat([frame, pd.DataFrame([{"type": "total", **total}])], ignore_index=True)


def unmapped(ws: Workspace, fields: pd.DataFrame) -> pd.DataFrame:
    """Columns the reviewed header mappings do not know, with what the detectors made of them."""
    cols = ws.columns()
    missing = cols[cols.unmapped][["service", "export_kind", "column"]].drop_duplicates()
    return missing.merge(fields[["service", "export_kind", "column", "category", "classified_by",
                                 "confidence"]], on=["service", "export_kind", "column"], how="left")


def invalid_identifiers(ws: Workspace) -> pd.DataFrame:
    """Per system, export and kind: identifiers that fail their check (IBAN, e-mail, phone, ...)."""
    if not ws.exists:
        return pd.DataFrame(columns=["service", "export_kind", "kind", "invalid", "checked"])
    return ws.query("""SELECT service, export_kind, kind, count(*) FILTER (WHERE NOT valid) AS invalid,
                              count(*) AS checked
                       FROM identifiers GROUP BY ALL HAVING invalid > 0 ORDER BY ALL""")


def reports_dir(ws: Workspace) -> Path:
    """The reports area beside the workspace (``reports/`` next to ``workspace/``)."""
    return ws.path.parent / "reports"


LOGIN_USER = "analyst"
LOGIN_TEMPLATE = Path(__file__).parent / "templates" / "dashboard_login.html.j2"


def login_file() -> tuple[Path, str]:
    """A password made for one run of the server, in an owner-only JSON file for Panel's
    ``--basic-auth`` (user -> password); returns the file and the password."""
    password = secrets.token_urlsafe(18)
    folder = Path(tempfile.mkdtemp(prefix="workbench-dashboard-"))  # mode 0700
    users = folder / "users.json"
    fd = os.open(users, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({LOGIN_USER: password}, handle)
    return users, password


def answerable(ws: Workspace, request_id: str) -> dict:
    """The register's request when a package may go out for it: an access or portability request,
    open, whose requester's identity check passed; else a clear refusal."""
    row, _, _ = requests.show(ws, request_id.strip())
    if row["type"] not in ("access", "portability"):
        raise WorkbenchError(f"request {row['request_id']} is a {row['type']} request, not access or "
                             "portability")
    if row["status"] in requests.CLOSED:
        raise WorkbenchError(f"request {row['request_id']} is {row['status']}")
    if row.get("verify_outcome") != "passed":
        raise WorkbenchError(f"the requester's identity of {row['request_id']} is not verified: record "
                             "the check first ('workbench request update --verify ...')")
    return row


def write_package(ws: Workspace, register: Register, subject_id: str, request_id: str,
                  reports: Path, lang: str = "nl") -> package.PackageResult:
    """The access package of one subject for a registered, verified request, through the same code
    as ``workbench package --request ID --encrypt``, as an AES-256 zip under
    ``reports/dashboard-packages/``; no plain copy stays."""
    row = answerable(ws, request_id)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    out = Path(reports) / PACKAGES / f"{stamp}-{row['request_id']}"
    result = pipeline.answer_request(ws, register, out=out, request_id=row["request_id"],
                                     subjects=[subject_id], lang=lang, encrypt=True).package
    if result.zip_path is None:
        raise WorkbenchError(f"the package in {result.out} lists cells to redact first; no zip was made")
    return result


# --- sharing work between the sessions of one server ---------------------------------------------

_SHARED: dict[tuple, object] = {}  # results per workspace state: a changed workspace is a new key
_SHARED_LIMIT = 64


def workspace_state(ws: Workspace) -> tuple:
    """What changes when the workspace's data changes: its database file and write-ahead log."""
    files = [ws.db_path, ws.db_path.with_name(ws.db_path.name + ".wal")]
    return (str(ws.db_path), *((f.stat().st_mtime_ns, f.stat().st_size) if f.exists() else None
                               for f in files))


def shared(key: tuple, compute):
    """``compute()``, once per key for every session the server runs (:func:`warm_when_listening`
    computes the first page's once the server listens; a visitor meanwhile waits for that result
    instead of computing it a second time)."""
    with _SHARED_LOCK:
        if key not in _SHARED:
            if len(_SHARED) >= _SHARED_LIMIT:
                _SHARED.clear()
            _SHARED[key] = compute()
        return _SHARED[key]


_SHARED_LOCK = threading.RLock()


def warm(ws: Workspace, register: Register) -> None:
    """Compute what the first page shows (the inventory, the unfiltered flows, the systems without
    records) and load the plotting libraries, into the caches every session shares."""
    import holoviews.plotting.bokeh  # noqa: F401  (the Sankey's backend: seconds to import)

    board = Dashboard(ws, register)
    board._flows(Selection())
    shared(("undeclared", *board.key), lambda: undeclared_systems(register, holdings(ws, board.fields)))


def warm_when_listening(ws: Workspace, register: Register, port: int,
                        wait: float = 120.0) -> threading.Thread:
    """Warm the caches in the background once the server on ``port`` accepts connections: the
    server answers its first page at once, and the data is ready (or being made) for the visitor."""
    def run() -> None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                time.sleep(0.05)
                continue
            try:
                warm(ws, register)
            except Exception as error:  # noqa: BLE001 - the first visitor then computes it and sees why
                print(f"workbench: the dashboard's warm-up stopped ({type(error).__name__})",
                      file=sys.stderr, flush=True)
            return

    thread = threading.Thread(target=run, name="dashboard-warm-up", daemon=True)
    thread.start()
    return thread


# --- Panel components ------------------------------------------------------------------------------

def _table(frame: pd.DataFrame, **kwargs):
    import panel as pn

    options = {"disabled": True, "show_index": False, "pagination": "local", "page_size": 15,
               "sizing_mode": "stretch_width", **kwargs}
    return pn.widgets.Tabulator(frame, **options)


@dataclass
class Dashboard:
    """The four views over one workspace; ``today`` fixes the date the request tracker counts from."""

    ws: Workspace
    register: Register
    reports: Path | None = None
    today: dt.date | None = None
    fields: pd.DataFrame = field(init=False)
    key: tuple = field(init=False)  # the workspace's state and the register: what results are shared by

    def __post_init__(self) -> None:
        self.reports = Path(self.reports or reports_dir(self.ws))
        self.key = (workspace_state(self.ws), repr(self.register))
        self.fields = shared(("fields", *self.key), lambda: inventory.build(self.ws, self.register)).copy()

    def _flows(self, selection: Selection) -> pd.DataFrame:
        return shared(("flows", *self.key, selection.category, selection.processor, selection.activity),
                      lambda: flows(self.ws, self.register, self.fields, selection)).copy()

    def flows_view(self):
        import holoviews as hv
        import holoviews.plotting.bokeh  # noqa: F401  (the Bokeh backend, without notebook output)
        import panel as pn

        categories = sorted({rollup(c) for c in self.fields[self.fields.personal.eq(True)].category.dropna()})
        pick_cat = pn.widgets.Select(label="Category", options={"(all)": "", **{
            category_label(self.register, c): c for c in categories}})
        pick_proc = pn.widgets.Select(label="Processor", options={"(all)": "", **{
            p.name: k for k, p in self.register.processors.items()}})
        pick_act = pn.widgets.Select(label="Processing activity", options={"(all)": "", **{
            a.name_nl: k for k, a in self.register.activities.items()}})
        edges = _table(pd.DataFrame(), selectable=1, pagination=None, height=260)
        behind = _table(pd.DataFrame(), height=300)
        sankey = pn.pane.HoloViews(backend="bokeh", sizing_mode="stretch_width")
        note = pn.pane.Markdown("Select an edge in the table to list the fields behind it.")
        state: dict = {}

        def refresh(*_):
            selection = Selection(pick_cat.value, pick_proc.value, pick_act.value)
            frame = self._flows(selection)
            state.update(selection=selection, frame=frame)
            edges.value = frame[["stage", "source", "target", "value"]]
            behind.value = flow_fields(self.fields, self.register, {}, selection)
            if frame.empty:
                sankey.object = None
                note.object = "No records for this selection."
                return
            note.object = (f"{int(frame[frame.stage == STAGES[1]].value.sum()):,} records with personal "
                           "data. Select an edge in the table to list the fields behind it.")
            sankey.object = hv.Sankey(frame, kdims=["source", "target"], vdims=["value"]).opts(
                width=1100, height=560, label_position="right", node_color="index",
                edge_color="source", cmap="Category20", tools=["hover"])

        def chosen(event):
            frame = state.get("frame")
            if frame is None or not event.new:
                return
            edge = frame.iloc[event.new[0]].to_dict()
            behind.value = flow_fields(self.fields, self.register, edge, state["selection"])

        for widget in (pick_cat, pick_proc, pick_act):
            widget.param.watch(refresh, "value")
        edges.param.watch(chosen, "selection")
        refresh()
        others = shared(("undeclared", *self.key),
                        lambda: undeclared_systems(self.register, holdings(self.ws, self.fields)))
        return pn.Column(
            pn.pane.Markdown("## Processor flows\nData categories → systems → processors → where the "
                             "data is, weighted by records of the newest import of each export."),
            pn.Row(pick_cat, pick_proc, pick_act), note, sankey,
            pn.Row(pn.Column("### Edges", edges), pn.Column("### Fields behind the edge", behind)),
            pn.pane.Markdown("### Systems without imported records (declared in the register)"),
            _table(others), name="Processor flows", sizing_mode="stretch_width")

    def clients_view(self):
        import panel as pn

        inputs = {k: pn.widgets.TextInput(label=label, placeholder=label.lower())
                  for k, label in SEARCH_FIELDS.items()}
        search = pn.widgets.Button(label="Search", color="primary")
        candidates = _table(pd.DataFrame(columns=["subject_id", "score", "evidence", "systems"]), height=200)
        subject = pn.widgets.Select(label="Subject", options=[])
        subject_map = _table(pd.DataFrame(), height=400)
        request_id = pn.widgets.TextInput(label="Request id (registered, identity verified)",
                                          placeholder="R-2026-0001")
        make = pn.widgets.Button(label="Write access package", color="success", disabled=True)
        message = pn.pane.Markdown("")
        download = pn.Column()
        state: dict = {}

        def run_search(_=None):
            query = {k: w.value.strip() for k, w in inputs.items() if w.value.strip()}
            download.clear()
            if not query:
                message.object = "Type an e-mail address, name, IBAN, phone number or customer number."
                return
            state["query"] = query
            found = linkage.find(self.ws, **query)
            candidates.value = found
            subject.options = found.subject_id.tolist()
            message.object = (f"{len(found)} candidate(s)." if len(found) else "No subject found.")
            if found.empty:
                subject_map.value = pd.DataFrame()
                make.disabled = True

        def show(event):
            if not event.new:
                return
            cells = datamap.subject_map(self.ws, self.register, event.new)
            subject_map.value = cells[["service", "export_kind", "source_row", "column", "category",
                                       "purpose", "retention"]].rename(columns={"service": "system"})
            make.disabled = False

        def write(_=None):
            if not subject.value:
                return
            try:
                result = write_package(self.ws, self.register, subject.value, request_id.value,
                                       self.reports)
            except WorkbenchError as exc:
                message.object = f"Could not write the package: {html.escape(str(exc))}"
                return
            message.object = (f"Package {result.request_id}: encrypted zip `{result.zip_path.name}` "
                              f"({len(result.files)} files). Passphrase, shown once: "
                              f"`{result.passphrase}`")
            download.clear()
            download.append(pn.widgets.FileDownload(file=str(result.zip_path), filename=result.zip_path.name,
                                                    label=f"Download {result.zip_path.name}",
                                                    color="primary"))

        search.on_click(run_search)
        subject.param.watch(show, "value")
        make.on_click(write)
        return pn.Column(
            pn.pane.Markdown("## Client explorer\nSearch any of the fields; identifiers match exactly "
                             "(normalised), names fuzzily."),
            pn.Row(*inputs.values()), search, message, "### Candidates", candidates,
            pn.Row(subject, request_id, make), download, "### The subject's map", subject_map,
            name="Client explorer", sizing_mode="stretch_width")

    def requests_view(self):
        import panel as pn

        frame = tracker(self.ws, self.today)

        def paint(row):
            shade = COLOURS.get(row["colour"], "")
            return [f"background-color: {shade}" if shade and c in ("days_left", "colour") else ""
                    for c in row.index]

        table = _table(frame, height=300)
        table.style.apply(paint, axis=1)
        return pn.Column(
            pn.pane.Markdown("## Request tracker\nOpen requests; days left green (10 or more), amber "
                             "(under 10), red (under 5 or overdue)."),
            table, f"### Requests received in {(self.today or dt.date.today()).year}",
            _table(year_totals(self.ws, self.today), pagination=None),
            name="Request tracker", sizing_mode="stretch_width")

    def inventory_view(self):
        import panel as pn

        return pn.Column(
            pn.pane.Markdown(f"## Inventory and findings\n{len(self.fields)} columns in the newest import "
                             "of each export."),
            _table(self.fields, page_size=20),
            "### Unmapped columns", _table(unmapped(self.ws, self.fields)),
            "### Invalid identifiers", _table(invalid_identifiers(self.ws), pagination=None),
            "### Categories found but declared nowhere for the system",
            _table(inventory.undeclared(self.fields), pagination=None),
            "### Records past every retention rule of their system",
            _table(policy_audit.past_retention(self.ws, self.register, dt.date.today()), pagination=None),
            name="Inventory and findings", sizing_mode="stretch_width")

    def tabs(self, lazy: bool = False):
        """The four views as tabs. ``lazy`` (the served page) builds a view when its tab is first
        opened, so the first table shows without waiting for the others; a notebook builds them
        all, for its saved output."""
        import panel as pn

        views = {"Processor flows": self.flows_view, "Client explorer": self.clients_view,
                 "Request tracker": self.requests_view, "Inventory and findings": self.inventory_view}
        if not lazy:
            return pn.Tabs(*(view() for view in views.values()), dynamic=False, sizing_mode="stretch_width")
        first, *others = views.items()
        return pn.Tabs((first[0], first[1]()),
                       *((title, pn.param.ParamFunction(lambda view=view: view(), lazy=True))
                         for title, view in others),
                       dynamic=True, sizing_mode="stretch_width")


def tabs(ws: Workspace, register: Register, reports: Path | None = None, today: dt.date | None = None):
    """The four views as tabs (for notebooks)."""
    return Dashboard(ws, register, reports, today).tabs()


def template(ws: Workspace, register: Register, reports: Path | None = None, today: dt.date | None = None):
    """The served page: the tabs, each built when first opened, in a ``BootstrapTemplate``, which
    loads nothing from outside."""
    import panel as pn

    return pn.template.BootstrapTemplate(title="Workbench: privacy dashboards",
                                         main=[Dashboard(ws, register, reports, today).tabs(lazy=True)])
