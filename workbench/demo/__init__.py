"""A deterministic demo business: about 300 clients of a small Dutch ICT firm, spread over
Mollie, MoneyBird, FactuurSturen and Exact Online with the overlaps and the mess real data has.

Everything comes from one seeded ``random.Random`` and Faker ``nl_NL``, so the same seed gives
byte-identical exports. :func:`build` makes the business; each service's writer in this package
(``workbench.demo.<service>.write(business, out)``) writes that service's exports in exactly the
formats the service produces; :func:`write` runs them all.

The mess, on purpose (see :meth:`Business.as_typed`): e-mail addresses typed in another case,
IBANs with spaces, typos in names, a client who moved (one system still has the old address),
partners in one household sharing an address and an IBAN, two different people with the same
name, missing phones and e-mails, and a BSN typed into an Exact contact.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib import import_module
from pathlib import Path

from faker import Faker

SERVICES = ("mollie", "moneybird", "factuursturen", "exact")
TODAY = date(2026, 11, 1)  # the demo is fixed in time so that its exports never change


@dataclass(frozen=True)
class Person:
    given_name: str
    name_prefix: str  # tussenvoegsel
    family_name: str
    gender: str  # "M", "V" or "O"
    birth_date: date
    email: str
    phone: str
    street: str
    house_number: str
    postcode: str
    city: str
    iban: str
    bic: str
    bsn: str
    country: str = "NL"

    @property
    def family(self) -> str:
        return f"{self.name_prefix} {self.family_name}".strip()

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family}"

    @property
    def address(self) -> str:
        return f"{self.street} {self.house_number}"


@dataclass(frozen=True)
class Client:
    number: int  # the firm's own client number, the same in every system that has one
    kind: str  # "consumer", "sole_trader" or "company"
    person: Person  # the consumer, the sole trader, or the company's main contact
    company: str = ""
    kvk: str = ""
    vat: str = ""
    contacts: tuple[Person, ...] = ()  # a company's other contact persons
    since: date = TODAY
    services: frozenset[str] = frozenset()
    old_address: Person | None = None  # the person before a move; one system still has it
    flags: frozenset[str] = frozenset()  # "namesake", "household", "bsn_in_exact", ...

    @property
    def display_name(self) -> str:
        return self.company or self.person.full_name


@dataclass(frozen=True)
class Payment:
    id: str  # tr_...
    client_number: int
    created: datetime
    amount: Decimal
    method: str  # ideal, creditcard, banktransfer, paypal, directdebit, refund
    status: str  # paid, paidout, refunded, failed, expired, open
    description: str
    settlement: str


@dataclass(frozen=True)
class Invoice:
    number: str
    client_number: int
    service: str  # the system that issued it
    date: date
    due_date: date
    amount_excl: Decimal
    vat_amount: Decimal
    description: str
    status: str  # open, paid, late

    @property
    def amount_incl(self) -> Decimal:
        return self.amount_excl + self.vat_amount


@dataclass
class Business:
    seed: int
    clients: list[Client]
    payments: list[Payment] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)

    def clients_of(self, service: str) -> list[Client]:
        return [c for c in self.clients if service in c.services]

    def client(self, number: int) -> Client:
        return next(c for c in self.clients if c.number == number)

    def rng(self, *salt: object) -> random.Random:
        """A generator of its own for one purpose, so writers do not disturb each other."""
        return random.Random(f"{self.seed}:{':'.join(map(str, salt))}")

    def as_typed(self, client: Client, service: str, person: Person | None = None) -> Person:
        """The person as this service has them typed in: the same human, with the mess."""
        person = person or client.person
        rng = self.rng("typed", client.number, service, person.given_name)
        if client.old_address is not None and service == "exact" and person is client.person:
            person = replace(person, street=client.old_address.street,
                             house_number=client.old_address.house_number,
                             postcode=client.old_address.postcode, city=client.old_address.city)
        changes: dict[str, str] = {}
        if rng.random() < 0.25:
            changes["email"] = _recase(person.email, rng)
        if rng.random() < 0.4:
            changes["iban"] = " ".join(person.iban[i:i + 4] for i in range(0, len(person.iban), 4))
        if rng.random() < 0.06:
            changes["family_name"] = _typo(person.family_name, rng)
        if rng.random() < 0.25:
            changes["phone"] = ""
        if rng.random() < 0.05:
            changes["email"] = ""
        if rng.random() < 0.3:
            changes["postcode"] = person.postcode.replace(" ", "")
        return replace(person, **changes)


def _recase(email: str, rng: random.Random) -> str:
    local, _, domain = email.partition("@")
    return (local.title() if rng.random() < 0.5 else local.upper()) + "@" + domain


def _typo(name: str, rng: random.Random) -> str:
    if not name:  # nothing to mistype
        return name
    if len(name) < 4:
        return name + name[-1]
    i = rng.randrange(1, len(name) - 2)
    return name[:i] + name[i + 1] + name[i] + name[i + 2:]


# --------------------------------------------------------------------------------------------
# building the business


def _person(fake: Faker, rng: random.Random, family: tuple[str, str] | None = None) -> Person:
    gender = rng.choice("MV")
    given = fake.first_name_male() if gender == "M" else fake.first_name_female()
    prefix, last = family or (rng.choice(["", "", "", "van", "de", "van der", "van den"]),
                              fake.last_name().split()[-1])
    local = f"{given}.{prefix.replace(' ', '')}{last}".lower().replace(" ", "")
    local = "".join(ch for ch in local if ch.isascii() and (ch.isalnum() or ch in "._"))
    domain = rng.choice(["gmail.com", "hotmail.com", "outlook.com", "ziggo.nl", "kpnmail.nl",
                         "xs4all.nl", "live.nl"])
    return Person(
        given_name=given, name_prefix=prefix, family_name=last, gender=gender,
        birth_date=fake.date_of_birth(minimum_age=19, maximum_age=85),
        email=f"{local}@{domain}",
        phone=rng.choice(["06-", "+31 6 ", "06"]) + f"{rng.randrange(10**7, 6 * 10**7)}",
        street=fake.street_name(), house_number=str(rng.randrange(1, 250)) + rng.choice(
            ["", "", "", "a", "-2", " bis"]),
        postcode=fake.postcode(), city=fake.city(), iban=fake.iban(),
        bic=rng.choice(["ABNANL2A", "RABONL2U", "INGBNL2A", "SNSBNL2A", "TRIONL2U", "ASNBNL21"]),
        bsn=fake.ssn(),
    )


def _services(rng: random.Random) -> frozenset[str]:
    chosen = {s for s in SERVICES if rng.random() < 0.5}
    return frozenset(chosen or {rng.choice(SERVICES)})


def build(seed: int = 2026, clients: int = 300) -> Business:
    """The demo business: clients, their payments in Mollie and invoices in the three
    bookkeeping systems, all deterministic for a seed."""
    fake = Faker("nl_NL")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    result: list[Client] = []
    for number in range(1001, 1001 + clients):
        kind = rng.choices(["consumer", "sole_trader", "company"], [0.5, 0.25, 0.25])[0]
        person = _person(fake, rng)
        since = TODAY - timedelta(days=rng.randrange(30, 365 * 9))
        client = Client(number=number, kind=kind, person=person, since=since,
                        services=_services(rng))
        if kind == "sole_trader":
            trade = rng.choice(["ICT", "Advies", "Bouw", "Design", "Klussen"])
            client = replace(client, company=f"{person.family_name} {trade}",
                             kvk=fake.numerify("########"), vat=f"NL{fake.ssn()}B01")
        elif kind == "company":
            contacts = tuple(_person(fake, rng) for _ in range(rng.randrange(0, 3)))
            client = replace(client, company=fake.company(), kvk=fake.numerify("########"),
                             vat=f"NL{fake.ssn()}B01", contacts=contacts)
        result.append(client)
    _add_traps(result, fake, rng)
    business = Business(seed, result)
    business.payments = _payments(business)
    business.invoices = _invoices(business)
    return business


def _add_traps(clients: list[Client], fake: Faker, rng: random.Random) -> None:
    """The cases that decide whether a package goes to the wrong person."""
    # a client who moved: Exact still has the old address
    moved = clients[3]
    clients[3] = replace(moved, old_address=_person(fake, rng),
                         services=moved.services | {"exact", "moneybird"}, flags=frozenset({"moved"}))
    # two different people with the same name (namesakes), in the same systems
    a, b = clients[10], clients[11]
    twin = replace(b.person, given_name=a.person.given_name, name_prefix=a.person.name_prefix,
                   family_name=a.person.family_name, gender=a.person.gender)
    clients[10] = replace(a, kind="consumer", company="", kvk="", vat="", contacts=(),
                          services=a.services | {"mollie", "moneybird"}, flags=frozenset({"namesake"}))
    clients[11] = replace(b, kind="consumer", person=twin, company="", kvk="", vat="", contacts=(),
                          services=b.services | {"mollie", "moneybird"}, flags=frozenset({"namesake"}))
    # partners in one household: same address and joint IBAN, different first names
    c, d = clients[20], clients[21]
    partner = replace(d.person, family_name=c.person.family_name, name_prefix=c.person.name_prefix,
                      street=c.person.street, house_number=c.person.house_number,
                      postcode=c.person.postcode, city=c.person.city, iban=c.person.iban,
                      bic=c.person.bic)
    clients[20] = replace(c, kind="consumer", company="", kvk="", vat="", contacts=(),
                          services=c.services | {"mollie"}, flags=frozenset({"household"}))
    clients[21] = replace(d, kind="consumer", person=partner, company="", kvk="", vat="",
                          contacts=(), services=d.services | {"mollie"},
                          flags=frozenset({"household"}))
    # a BSN typed into an Exact contact
    e = clients[30]
    clients[30] = replace(e, services=e.services | {"exact"}, flags=frozenset({"bsn_in_exact"}))


def _payments(business: Business) -> list[Payment]:
    rng = business.rng("payments")
    methods = ["ideal"] * 6 + ["creditcard", "banktransfer", "paypal", "directdebit"]
    payments = []
    for client in business.clients_of("mollie"):
        for _ in range(rng.randrange(1, 6)):
            created = datetime.combine(client.since, datetime.min.time()) + timedelta(
                days=rng.randrange(0, max((TODAY - client.since).days, 1)),
                seconds=rng.randrange(0, 86400))
            amount = Decimal(rng.choice([25, 49, 75, 121, 250, 605, 1210, 2450])) + \
                Decimal(rng.randrange(0, 100)) / 100
            method = rng.choice(methods)
            status = rng.choices(["paidout", "paid", "failed", "expired", "refunded"],
                                 [70, 15, 5, 5, 5])[0]
            payments.append(Payment(
                id="tr_" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789")
                                   for _ in range(10)),
                client_number=client.number, created=created, amount=amount, method=method,
                status=status, description=f"Factuur {client.number}-{rng.randrange(100, 999)}",
                settlement=f"1182161.{created:%y%m}.{rng.randrange(1, 4):02d}",
            ))
    return sorted(payments, key=lambda p: p.created)


def _invoices(business: Business) -> list[Invoice]:
    rng = business.rng("invoices")
    invoices = []
    for service, prefix in [("moneybird", "MB"), ("factuursturen", "FS"), ("exact", "EX")]:
        sequence = 1
        for client in business.clients_of(service):
            for _ in range(rng.randrange(1, 5)):
                day = client.since + timedelta(days=rng.randrange(0, max((TODAY - client.since).days, 1)))
                excl = Decimal(rng.randrange(2000, 250000)) / 100
                invoices.append(Invoice(
                    number=f"{prefix}{day:%Y}-{sequence:04d}", client_number=client.number,
                    service=service, date=day, due_date=day + timedelta(days=14),
                    amount_excl=excl, vat_amount=(excl * Decimal("0.21")).quantize(Decimal("0.01")),
                    description=rng.choice(["Websitebeheer", "Hosting", "Laptop installatie",
                                            "Netwerkonderhoud", "Microsoft 365 licenties",
                                            "Support uren"]),
                    status=rng.choices(["paid", "open", "late"], [80, 15, 5])[0],
                ))
                sequence += 1
    return sorted(invoices, key=lambda i: (i.service, i.number))


def write(out: Path, seed: int = 2026, clients: int = 300) -> list[Path]:
    """Write every service's demo exports under ``out/<service>/`` and return the files."""
    business = build(seed, clients)
    files: list[Path] = []
    for service in SERVICES:
        writer = import_module(f"workbench.demo.{service}")
        files.extend(writer.write(business, Path(out) / service))
    for website in ("hosting", "smtpcom", "analytics"):  # the web server's logs, its mail relay, GA4
        files.extend(import_module(f"workbench.demo.{website}").write(business, Path(out) / website))
    return files


def write_mail(out: Path, seed: int = 2026, clients: int = 300) -> list[Path]:
    """The demo firm's mailbox, a Google Takeout mbox, under ``out/mail/``. Apart from
    :func:`write`: a mailbox is streamed into the workspace's mail index (``workbench.datamap.mail``),
    not imported as an export of tables."""
    return import_module("workbench.demo.gmail").write(build(seed, clients), Path(out) / "mail")
