"""The dashboards: the aggregations on the demo workspace, then the served page in a real browser
(Debian chromium through Playwright), with every request outside 127.0.0.1 refused and counted."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import pyzipper

from workbench import pipeline
from workbench.datamap import flows, linkage
from workbench.demo import story
from workbench.errors import WorkbenchError
from workbench.reference import register as registry
from workbench.reports import render
from workbench.rights import answers, letters, requests
from workbench.store.workspace import Workspace
from workbench.ui import dashboard

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")


@pytest.fixture(scope="module")
def demo(demo_run: pipeline.Run) -> pipeline.Run:
    return demo_run


@pytest.fixture(scope="module")
def board(demo):
    return dashboard.Dashboard(demo.workspace, registry.load())


def test_flows_sum_to_record_counts(demo, board):
    ws, reg = demo.workspace, board.register
    frame = flows.flows(ws, reg, board.fields)
    stages = dict(tuple(frame.groupby("stage")))
    assert set(stages) == set(flows.STAGES)
    held = flows.holdings(ws, board.fields)
    # system -> processor: the records of the system holding personal data, summed over its exports
    per_system = held[held.category == "*"].groupby("service").records.sum()
    got = stages["system → processor"].set_index("system").value
    assert got.to_dict() == per_system[per_system > 0].to_dict()
    # those records go on to where the processor keeps them, none lost
    assert stages["processor → location"].value.sum() == got.sum()
    rows = ws.query("""SELECT sum(rows) FROM imports WHERE import_id IN
                       (SELECT max(import_id) FROM imports GROUP BY service, export_kind)""").iloc[0, 0]
    assert 0 < got.sum() <= rows
    # a category never holds more records than its system has
    cats = stages["category → system"]
    assert (cats.value <= cats.system.map(per_system)).all()
    # the bookkeeping stays in the Netherlands; the web host and the analytics are in the US
    assert {t.split()[0] for t in stages["processor → location"].target} == {"NL", "US"}


def test_one_category_flows_through_unchanged(demo, board):
    selection = flows.Selection(category="user.contact.email")
    frame = flows.flows(demo.workspace, board.register, board.fields, selection)
    into = frame[frame.stage == "category → system"].set_index("system").value
    out = frame[frame.stage == "system → processor"].set_index("system").value
    assert into.to_dict() == out.to_dict() and into.sum() > 0
    edge = frame[frame.stage == "category → system"].iloc[0].to_dict()
    fields = flows.flow_fields(board.fields, board.register, edge, selection)
    assert not fields.empty and set(fields.service) == {edge["system"]}
    assert fields.category.str.startswith("user.contact.email").all()


def test_activity_and_processor_filters(demo, board):
    frame = flows.flows(demo.workspace, board.register, board.fields, flows.Selection(activity="payments"))
    assert set(frame.system.replace("", pd.NA).dropna()) == {"mollie"}
    frame = flows.flows(demo.workspace, board.register, board.fields,
                        flows.Selection(processor="exact_online"))
    assert set(frame[frame.stage == "processor → location"].processor) == {"exact_online"}
    analytics = flows.flows(demo.workspace, board.register, board.fields,
                            flows.Selection(processor="google_analytics"))
    assert set(analytics.system.replace("", pd.NA).dropna()) == {"analytics"}  # its client ids
    assert flows.flows(demo.workspace, board.register, board.fields,
                       flows.Selection(processor="house_bank")).empty  # no bank statements


@pytest.mark.parametrize(("days", "colour"), [(30, "green"), (10, "green"), (9, "amber"), (5, "amber"),
                                              (4, "red"), (0, "red"), (-3, "red"), (None, "")])
def test_colour_thresholds(days, colour):
    assert dashboard.colour(days) == colour


def test_tracker_with_a_fixed_today(demo):
    ws = demo.workspace
    received = dt.date(2026, 3, 2)
    due = requests.due_dates(received).due
    earlier = ws.query("SELECT count(*) AS n FROM requests WHERE type = 'erasure' "
                       "AND year(received) = 2026")["n"].iloc[0]  # the demo's history and answer
    rid = requests.new(ws, type="erasure", email="tracker@example.nl", received=received).request_id
    for today, colour in [(due - dt.timedelta(days=10), "green"), (due - dt.timedelta(days=9), "amber"),
                          (due - dt.timedelta(days=4), "red"), (due + dt.timedelta(days=1), "red")]:
        row = dashboard.tracker(ws, today).set_index("request_id").loc[rid]
        assert row.colour == colour, today
    totals = dashboard.year_totals(ws, due + dt.timedelta(days=1)).set_index("type")
    assert totals.loc["erasure", "received"] == earlier + 1 and totals.loc["erasure", "overdue"] == 1
    assert totals.loc["total", "received"] == totals.drop("total").received.sum()


def test_findings(demo, board):
    assert not dashboard.unmapped(demo.workspace, board.fields).empty
    invalid = dashboard.invalid_identifiers(demo.workspace)
    assert (invalid.invalid > 0).all() and (invalid.invalid <= invalid.checked).all()
    others = flows.undeclared_systems(board.register, flows.holdings(demo.workspace, board.fields))
    held = set(flows.holdings(demo.workspace, board.fields).service)
    assert "Bank" in set(others.system)  # the demo has no bank statements
    assert set(others.system) == {s.name for k, s in board.register.systems.items() if k not in held}


def _verified_request(ws: Workspace, email: str) -> str:
    """An access request whose identity check passed and whose systems without an export were
    searched by hand, as a final package needs."""
    created = requests.new(ws, type="access", email=email)
    requests.update(ws, created.request_id, verify="known_email:passed")
    imported = set(ws.query("SELECT DISTINCT service FROM imports")["service"])
    for system in letters.client_systems(registry.load()):
        if system not in imported:
            requests.record_search(ws, created.request_id, system=system, result="not_found")
    return created.request_id


def test_package_only_for_a_registered_verified_request(demo, board, tmp_path):
    email = story.demo_client().person.email
    subject = linkage.find(demo.workspace, email=email).subject_id.iloc[0]
    with pytest.raises(WorkbenchError, match="not in the register"):
        answers.encrypted_package(demo.workspace, board.register, subject, "R-1999-0001", tmp_path)
    unverified = requests.new(demo.workspace, type="access", email=email).request_id
    with pytest.raises(WorkbenchError, match="not verified"):
        answers.encrypted_package(demo.workspace, board.register, subject, unverified, tmp_path)
    assert not (tmp_path / answers.ENCRYPTED_PACKAGES).exists()
    request_id = _verified_request(demo.workspace, email)
    result = answers.encrypted_package(demo.workspace, board.register, subject, request_id, tmp_path)
    assert result.zip_path.parent == tmp_path / answers.ENCRYPTED_PACKAGES and result.passphrase
    assert not result.out.exists()  # only the encrypted zip: no plain copy
    with pyzipper.AESZipFile(result.zip_path) as archive:
        with pytest.raises(RuntimeError):
            archive.read("index.html")
        archive.setpassword(result.passphrase.encode())
        assert b"<html" in archive.read("index.html").lower()


def _password(server: subprocess.Popen) -> str:
    """The password the dashboard prints at start-up."""
    for line in server.stdout:
        text = line.decode()
        if "password" in text:
            return text.split("password ", 1)[1].split()[0]
    raise AssertionError("the dashboard printed no password")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed; "
                    "`make test` installs it")
@pytest.mark.browser
def test_served_dashboard_in_a_browser(demo, tmp_path):
    from playwright.sync_api import sync_playwright

    port = _free_port()
    url = f"http://127.0.0.1:{port}/dashboard_app"
    reports = tmp_path / "reports"
    workbench = Path(sys.executable).with_name("workbench")
    started = time.monotonic()
    email = story.demo_client().person.email
    request_id = _verified_request(demo.workspace, email)
    server = subprocess.Popen([str(workbench), "--workspace", str(demo.workspace.path), "dashboard",
                               "--port", str(port), "--reports", str(reports)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    outside: list[str] = []
    try:
        password = _password(server)
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    assert answer.status == 200 and "/login" in answer.url  # nothing without logging in
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()
                assert time.monotonic() - started < 60, "the dashboard did not answer within 60 s"
                time.sleep(0.3)

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
            page.route("**/*", render.refuse_outside(LOCAL, outside))
            opened = time.monotonic()
            page.goto(url, wait_until="networkidle", timeout=60000)
            page.locator("input[name='username']").fill(dashboard.LOGIN_USER)
            page.locator("input[name='password']").fill(password)
            page.locator("button[type='submit'], input[type='submit']").first.click()
            page.locator("h2", has_text="Processor flows").first.wait_for(timeout=60000)
            page.locator(".tabulator-cell", has_text="category → system").first.wait_for(timeout=30000)
            page.locator("p", has_text="records with personal data").first.wait_for(timeout=30000)
            # the Sankey: a Bokeh plot with a canvas, after the filters
            page.locator(".bk-Canvas canvas, canvas").first.wait_for(state="attached", timeout=30000)
            first_render = time.monotonic() - opened
            page.screenshot(path=str(tmp_path / "flows.png"), full_page=True)

            page.locator(".bk-tab", has_text="Client explorer").first.click()
            page.locator("input[placeholder='e-mail']").first.fill(email)
            page.locator("button", has_text="Search").first.click()
            subject = linkage.find(demo.workspace, email=email).subject_id.iloc[0]
            page.locator(".tabulator-cell", has_text=subject).first.wait_for(timeout=30000)
            page.locator(".tabulator-col-title", has_text="retention").first.wait_for(timeout=30000)
            page.locator("input[placeholder='R-2026-0001']").first.fill(request_id)
            page.locator("input[placeholder='R-2026-0001']").first.press("Enter")
            page.locator("button", has_text="Write access package").first.click()
            link = page.locator("text=Download ").first
            link.wait_for(timeout=60000)
            page.screenshot(path=str(tmp_path / "client.png"), full_page=True)
            with page.expect_download(timeout=30000) as download:
                link.click()
            saved = tmp_path / download.value.suggested_filename
            download.value.save_as(saved)

            page.locator(".bk-tab", has_text="Request tracker").first.click()
            page.locator(".tabulator-cell", has_text="green").first.wait_for(timeout=30000)
            page.screenshot(path=str(tmp_path / "requests.png"), full_page=True)
            page.locator(".bk-tab", has_text="Inventory and findings").first.click()
            page.locator("h2", has_text="Inventory and findings").first.wait_for(timeout=30000)
            page.screenshot(path=str(tmp_path / "inventory.png"), full_page=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=15)
    print(f"dashboard: first answer {opened - started:.1f} s after start, "
          f"page rendered in {first_render:.1f} s")
    assert outside == [], f"requests left 127.0.0.1: {outside}"
    written = list((reports / answers.ENCRYPTED_PACKAGES).glob("*.zip"))
    assert len(written) == 1 and saved.name == written[0].name and saved.stat().st_size > 0
    assert (tmp_path / "flows.png").stat().st_size > 0


def test_components_render_without_a_browser(demo, board):
    """The page's Bokeh models build (the Sankey included), as panel serve and the notebook build them."""
    from bokeh.document import Document

    page = board.tabs()
    root = page.get_root(Document())
    assert len(page) == 4 and root is not None


def test_served_tabs_build_a_view_when_first_opened(demo):
    from bokeh.document import Document

    lazy = dashboard.Dashboard(demo.workspace, registry.load())
    built: list[str] = []
    for name in ("clients_view", "requests_view", "inventory_view"):
        view = getattr(lazy, name)
        setattr(lazy, name, lambda view=view, name=name: built.append(name) or view())
    page = lazy.tabs(lazy=True)
    page.get_root(Document())
    assert len(page) == 4 and built == []  # only the processor flows are built for the first render
    page.active = 2
    assert built == ["requests_view"]


def test_sessions_share_work_until_the_workspace_changes(demo, board, tmp_path):
    ws = Workspace(shutil.copytree(demo.workspace.path, tmp_path / "ws"))  # this test writes to it
    before = dashboard.workspace_state(ws)
    again = dashboard.Dashboard(ws, board.register)
    assert again.key[0] == before and again.fields.equals(board.fields)
    computed: list[int] = []
    for _ in range(2):
        dashboard.shared("test", again.key, lambda: computed.append(1))
    assert computed == [1]
    requests.new(ws, type="access", email="shared@example.nl", received=dt.date(2026, 3, 2))
    assert dashboard.workspace_state(ws) != before
    assert dashboard.Dashboard(ws, board.register).key != again.key
