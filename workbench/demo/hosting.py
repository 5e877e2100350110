"""The demo website's IIS logs (DNN on IIS, W3C extended format), one file per month.

Four months up to the demo's today, so that the register's three months of retention has lines
to find past it. Anonymous visitors from IPv4 and IPv6 addresses; web shop clients who log in
(DNN uses the e-mail address as user name, so IIS logs it in ``cs-username``), browse on, and
pay through the checkout close to their Mollie payment, after which Mollie calls the shop's
webhook; a newsletter sign-up whose e-mail address ends up in the query string. In the second
month the server restarts with more fields logged: a new ``#Fields:`` line mid-file. IIS writes
UTC; the clients' own times (as Mollie has them) are Europe/Amsterdam. The supplier's nginx in
front of IIS serves the static files; its ``access.log`` (combined format, local time with its
offset) covers the last week.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from workbench.demo import TODAY, Business, Client

SERVICE = "hosting"
START = date(2026, 7, 1)  # four months before the demo's today
LOCAL = ZoneInfo("Europe/Amsterdam")
SERVER_IP = "10.0.0.4"
MOLLIE_IP = "87.233.217.10"
FIELDS_BEFORE = ["date", "time", "s-ip", "cs-method", "cs-uri-stem", "cs-uri-query", "s-port", "cs-username",
                 "c-ip", "cs(User-Agent)", "sc-status", "sc-substatus", "sc-win32-status", "time-taken"]
FIELDS_AFTER = ["date", "time", "s-ip", "cs-method", "cs-uri-stem", "cs-uri-query", "s-port", "cs-username",
                "c-ip", "cs(User-Agent)", "cs(Referer)", "sc-status", "sc-substatus", "sc-win32-status",
                "sc-bytes", "time-taken"]
RESTART = datetime(2026, 8, 14, 3, 12, 5, tzinfo=UTC)  # more fields logged from here on
PAGES = ["/", "/Default.aspx", "/Diensten", "/Diensten/Websitebeheer", "/Diensten/Hosting", "/Contact",
         "/Webwinkel", "/Webwinkel/Laptops", "/Webwinkel/Microsoft-365", "/Over-ons", "/Privacy"]
AGENTS = ["Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/130.0",
          "Mozilla/5.0+(Macintosh;+Intel+Mac+OS+X+14_6)+AppleWebKit/605.1.15+(KHTML,+like+Gecko)+Safari/605.1",
          "Mozilla/5.0+(iPhone;+CPU+iPhone+OS+18_0+like+Mac+OS+X)+AppleWebKit/605.1.15+Mobile/15E148",
          "Mozilla/5.0+(X11;+Linux+x86_64;+rv:131.0)+Gecko/20100101+Firefox/131.0"]


def write(business: Business, out: Path) -> list[Path]:
    """The monthly logs ``u_exYYMM.log`` in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    hits = _hits(business)
    by_month: dict[str, list[dict]] = defaultdict(list)
    for hit in sorted(hits, key=lambda h: (h["at"], h["c-ip"], h["cs-uri-stem"])):
        by_month[f"{hit['at']:%y%m}"].append(hit)
    files = []
    for month, month_hits in sorted(by_month.items()):
        path = out / f"u_ex{month}.log"
        path.write_bytes(_log(month_hits).encode("utf-8"))
        files.append(path)
    nginx = out / "access.log"
    nginx.write_bytes(_combined(hits).encode("utf-8"))
    return [*files, nginx]


def client_ip(business: Business, client: Client) -> str:
    """The client's home address, the same on every visit (one in five on IPv6)."""
    rng = business.rng(SERVICE, "ip", client.number)
    if rng.random() < 0.2:
        return ":".join(["2001:db8", *(f"{rng.randrange(1, 0xffff):x}" for _ in range(2))]) + \
            f"::{rng.randrange(2, 0xffff):x}"
    return ".".join(str(n) for n in (rng.choice([77, 83, 86, 145, 212]), rng.randrange(1, 255),
                                     rng.randrange(1, 255), rng.randrange(2, 255)))


def _hits(business: Business) -> list[dict]:
    end = datetime.combine(TODAY, datetime.min.time(), LOCAL)
    start = datetime.combine(START, datetime.min.time(), LOCAL)
    hits = _anonymous(business, start, end)
    shop = {c.number: c for c in business.clients_of("mollie")}
    for payment in business.payments:
        paid = payment.created.replace(tzinfo=LOCAL)
        if start <= paid < end and payment.client_number in shop:
            hits += _checkout(business, shop[payment.client_number], paid, payment.id)
    for client in business.clients:
        hits += _logins(business, client, start, end)
    hits += _newsletter(business, start)
    return hits


def _anonymous(business: Business, start: datetime, end: datetime) -> list[dict]:
    rng = business.rng(SERVICE, "anonymous")
    octets = ((1, 223), (0, 255), (0, 255), (1, 255))
    visitors = [".".join(str(rng.randrange(low, high)) for low, high in octets) for _ in range(120)]
    visitors += [f"2a02:a4{rng.randrange(10, 99)}:{rng.randrange(1, 0xffff):x}::{rng.randrange(1, 0xffff):x}"
                 for _ in range(30)]
    hits, day = [], start
    while day < end:
        for _ in range(rng.randrange(8, 20)):
            at = day + timedelta(seconds=rng.randrange(0, 86400))
            ip, agent = rng.choice(visitors), rng.choice(AGENTS)
            for step in range(rng.randrange(1, 4)):
                hits.append(_hit(at + timedelta(seconds=20 * step), "GET", rng.choice(PAGES), ip, agent))
        day += timedelta(days=1)
    return hits


def _logins(business: Business, client: Client, start: datetime, end: datetime) -> list[dict]:
    """A few visits with a login to "Mijn account" by a web shop client or a client with
    several services (the e-mail address as DNN has it typed)."""
    if "mollie" not in client.services and len(client.services) < 3:
        return []
    rng = business.rng(SERVICE, "logins", client.number)
    ip, agent = client_ip(business, client), rng.choice(AGENTS)
    user = business.as_typed(client, "hosting").email or client.person.email
    hits = []
    for _ in range(rng.randrange(2, 5)):
        at = start + timedelta(seconds=rng.randrange(0, int((end - start).total_seconds()) - 3600))
        hits.append(_hit(at, "GET", "/Login", ip, agent, query="returnurl=%2fMijn-account"))
        hits.append(_hit(at + timedelta(seconds=25), "POST", "/Login", ip, agent, user=user, status="302"))
        for step, page in enumerate(["/Mijn-account", "/Mijn-account/Facturen", rng.choice(PAGES)]):
            hits.append(_hit(at + timedelta(seconds=40 + 60 * step), "GET", page, ip, agent, user=user))
        hits.append(_hit(at + timedelta(minutes=12), "GET", rng.choice(PAGES), ip, agent))  # logged out
    return hits


def _checkout(business: Business, client: Client, paid: datetime, payment_id: str) -> list[dict]:
    rng = business.rng(SERVICE, "checkout", payment_id)
    ip, agent = client_ip(business, client), rng.choice(AGENTS)
    order = f"{rng.randrange(10000, 99999)}"
    before = paid - timedelta(seconds=rng.randrange(60, 240))
    return [
        _hit(before - timedelta(seconds=90), "GET", "/Webwinkel/Winkelwagen", ip, agent),
        _hit(before, "POST", "/Webwinkel/Afrekenen", ip, agent, status="302"),
        _hit(paid + timedelta(seconds=4), "POST", "/DesktopModules/Webwinkel/API/Mollie/Webhook", MOLLIE_IP,
             "Mollie.nl+HTTP", query=f"id={payment_id}"),
        _hit(paid + timedelta(seconds=rng.randrange(10, 50)), "GET", "/Webwinkel/Bestelling/Bedankt", ip,
             agent, query=f"orderid={order}"),
    ]


def _newsletter(business: Business, start: datetime) -> list[dict]:
    """Sign-ups by GET: the form puts the e-mail address in the query string."""
    rng = business.rng(SERVICE, "newsletter")
    chosen = rng.sample(business.clients, 6)
    hits = []
    for client in chosen:
        at = start + timedelta(days=rng.randrange(0, 110), seconds=rng.randrange(0, 86400))
        query = f"email={quote(client.person.email, safe='')}&lijst=nieuws"
        hits.append(_hit(at, "GET", "/Nieuwsbrief/Aanmelden", client_ip(business, client),
                         rng.choice(AGENTS), query=query))
    return hits


def _hit(at: datetime, method: str, page: str, ip: str, agent: str, *, user: str = "-", query: str = "-",
         status: str = "200") -> dict:
    return {"at": at.astimezone(UTC), "cs-method": method, "cs-uri-stem": page, "cs-uri-query": query,
            "cs-username": user, "c-ip": ip, "cs(User-Agent)": agent, "sc-status": status}


def _log(hits: list[dict]) -> str:
    first = hits[0]["at"]
    fields = FIELDS_BEFORE if first < RESTART else FIELDS_AFTER
    lines = _header(first, fields)
    for hit in hits:
        if fields is FIELDS_BEFORE and hit["at"] >= RESTART:
            fields = FIELDS_AFTER
            lines += _header(hit["at"], fields)
        lines.append(" ".join(_values(hit, fields)))
    return "\r\n".join(lines) + "\r\n"


def _combined(hits: list[dict]) -> str:
    """The static files each page of the last week pulled through nginx, in its combined format."""
    since = datetime.combine(TODAY, datetime.min.time(), LOCAL) - timedelta(days=7)
    lines = []
    for hit in sorted(hits, key=lambda h: (h["at"], h["c-ip"], h["cs-uri-stem"])):
        if hit["at"] < since or hit["cs-method"] != "GET":
            continue
        at = hit["at"].astimezone(LOCAL)
        agent = hit["cs(User-Agent)"].replace("+", " ")
        size = 1200 + hash_of(hit["c-ip"]) % 9000
        lines.append(f'{hit["c-ip"]} - - [{at:%d/%b/%Y:%H:%M:%S %z}] "GET /Portals/0/skin.css HTTP/2.0" 200 '
                     f'{size} "https://dekaleict.nl{hit["cs-uri-stem"]}" "{agent}"')
    return "\n".join(lines) + "\n"


def _header(at: datetime, fields: list[str]) -> list[str]:
    return ["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0",
            f"#Date: {at:%Y-%m-%d %H:%M:%S}", "#Fields: " + " ".join(fields)]


def _values(hit: dict, fields: list[str]) -> list[str]:
    at = hit["at"]
    size = 1200 + (hash_of(hit["cs-uri-stem"]) % 40000)
    taken = 15 + hash_of(hit["c-ip"] + hit["cs-uri-stem"]) % 400
    known = {"date": f"{at:%Y-%m-%d}", "time": f"{at:%H:%M:%S}", "s-ip": SERVER_IP, "s-port": "443",
             "cs(Referer)": "-", "sc-substatus": "0", "sc-win32-status": "0", "sc-bytes": str(size),
             "time-taken": str(taken)}
    return [str(hit.get(f, known.get(f, "-"))) for f in fields]


def hash_of(text: str) -> int:
    """A number from text that is the same on every run (``hash`` is salted per process)."""
    return random.Random(text).randrange(1 << 30)
