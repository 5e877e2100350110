"""Panel dashboards: processor flows, the client explorer, the request tracker and the inventory
with its findings.

The aggregations are plain functions that return small DataFrames (computed in DuckDB over the
workspace, so only summaries reach the browser): the flows and holdings in :mod:`workbench.datamap.flows`,
the request tracker's here; the Panel components below them are built from those, and a package
is written through :mod:`workbench.rights.answers`. ``workbench dashboard`` serves :func:`template` with
``panel serve`` on 127.0.0.1 (``workbench/ui/dashboard_app.py``); ``notebooks/04_dashboards.ipynb``
shows :func:`tabs` inline.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pandas as pd

from workbench.audit import policy_audit
from workbench.datamap import export, inventory, linkage
from workbench.datamap.flows import (
    STAGES,
    Selection,
    category_label,
    flow_fields,
    flows,
    holdings,
    rollup,
    undeclared_systems,
)
from workbench.errors import WorkbenchError
from workbench.reference.register import Register
from workbench.rights import answers, requests
from workbench.store.workspace import Workspace

T = TypeVar("T")
GREEN, AMBER, RED = "green", "amber", "red"
COLOURS = {GREEN: "#c8e6c9", AMBER: "#ffe0b2", RED: "#ffcdd2"}
SEARCH_FIELDS = {"email": "E-mail", "name": "Name", "iban": "IBAN", "phone": "Phone",
                 "customer_id": "Customer number"}


# --- aggregation (no browser needed) -------------------------------------------------------------

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
LOGIN_TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "dashboard_login.html.j2"


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


# --- sharing work between the sessions of one server ---------------------------------------------

def workspace_state(ws: Workspace) -> tuple:
    """What changes when the workspace's data changes: its database file and write-ahead log."""
    files = [ws.db_path, ws.db_path.with_name(ws.db_path.name + ".wal")]
    return (str(ws.db_path), *((f.stat().st_mtime_ns, f.stat().st_size) if f.exists() else None
                               for f in files))


def shared(name: str, key: tuple, compute: Callable[[], T]) -> T:
    """``compute()``, once per ``name`` and ``key`` (the workspace's state and the register) for every
    session the server runs, in Panel's cache across sessions (``pn.state.as_cached``). It computes a
    key under a lock of its own, so a visitor who arrives while :func:`warm_when_listening` computes
    the first page waits for that result instead of computing it a second time; ``pn.cache`` would
    compute it twice, and hash the workspace by its identity rather than its state."""
    import panel as pn

    return pn.state.as_cached(f"workbench.ui.dashboard.{name}", lambda state: compute(), state=key)


def warm(ws: Workspace, register: Register) -> None:
    """Compute what the first page shows (the inventory, the unfiltered flows, the systems without
    records) and load the plotting libraries, into the caches every session shares. The flows and
    the holdings are counted at once, each in a thread of its own: DuckDB does that work, and
    releases Python's lock while it does."""
    import holoviews.plotting.bokeh  # noqa: F401  (the Sankey's backend: seconds to import)

    board = Dashboard(ws, register)
    held = threading.Thread(target=shared, name="dashboard-holdings", daemon=True, args=(
        "undeclared", board.key, lambda: undeclared_systems(register, holdings(ws, board.fields))))
    held.start()
    board._flows(Selection())
    held.join()


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
        self.fields = shared("fields", self.key, lambda: inventory.build(self.ws, self.register)).copy()

    def _flows(self, selection: Selection) -> pd.DataFrame:
        return shared("flows", (*self.key, selection.category, selection.processor, selection.activity),
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
        others = shared("undeclared", self.key,
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
            cells = export.subject_map(self.ws, self.register, event.new)
            subject_map.value = cells[["service", "export_kind", "source_row", "column", "category",
                                       "purpose", "retention"]].rename(columns={"service": "system"})
            make.disabled = False

        search.on_click(run_search)
        subject.param.watch(show, "value")
        make.on_click(lambda _: self._write_package(subject.value, request_id.value, message, download))
        return pn.Column(
            pn.pane.Markdown("## Client explorer\nSearch any of the fields; identifiers match exactly "
                             "(normalised), names fuzzily."),
            pn.Row(*inputs.values()), search, message, "### Candidates", candidates,
            pn.Row(subject, request_id, make), download, "### The subject's map", subject_map,
            name="Client explorer", sizing_mode="stretch_width")

    def _write_package(self, subject: str, request_id: str, message, download) -> None:
        """The client explorer's button: the encrypted package, offered for download with its
        passphrase shown once, or why none was written."""
        import panel as pn

        if not subject:
            return
        try:
            result = answers.encrypted_package(self.ws, self.register, subject, request_id, self.reports)
        except WorkbenchError as exc:
            message.object = f"Could not write the package: {html.escape(str(exc))}"
            return
        message.object = (f"Package {result.request_id}: encrypted zip `{result.zip_path.name}` "
                          f"({len(result.files)} files). Passphrase, shown once: "
                          f"`{result.passphrase}`")
        download.clear()
        download.append(pn.widgets.FileDownload(file=str(result.zip_path), filename=result.zip_path.name,
                                                label=f"Download {result.zip_path.name}", color="primary"))

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
