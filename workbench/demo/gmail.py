"""The demo firm's mailbox as Google Takeout → Mail writes it: one mbox with Gmail's
``X-GM-THRID`` and ``X-Gmail-Labels`` headers on every message.

Conversations between demo clients and the firm (questions, quotes, complaints), with quoted
replies, a colleague or a supplier in cc (third parties the package must redact), a client who
writes from another address and signs with name and phone number, and a signed direct-debit form
(XLSX) holding a client's IBAN. Some conversations ended more than two years ago: past the
register's retention for e-mail. Everything is deterministic for a seed: Message-IDs, dates and
MIME boundaries are derived from it, the attachment is written without the current time.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

from openpyxl import Workbook

from workbench.demo import TODAY, Business, Client
from workbench.demo._files import xlsx_bytes

FIRM = ("de Kale ICT", "info@dekaleict.nl")
SUPPLIER = ("Kees Bakker", "kees.bakker@hardware-groothandel.example")
MBOX_NAME = "All mail Including Spam and Trash.mbox"
CONVERSATIONS = 40  # besides the ordinary consumers, who each get one
_POLICY = policy.default.clone(linesep="\n", max_line_length=78)
_TOPICS = [
    ("Offerte nieuwe laptop", "Kunt u mij een offerte sturen voor een nieuwe laptop met installatie?",
     "Hierbij de offerte zoals besproken. Laat u weten of het akkoord is?"),
    ("Storing internetverbinding", "Sinds gisteren doet mijn internet het niet meer. Kunt u langskomen?",
     "Vervelend om te horen. We komen donderdag tussen 9 en 12 uur langs."),
    ("Vraag over factuur", "Op de laatste factuur staat een bedrag dat ik niet begrijp.",
     "Het bedrag betreft de installatie op locatie; zie de specificatie op de factuur."),
    ("Back-up instellen", "Kunt u de back-up van mijn administratie instellen?",
     "Dat kan. We stellen een dagelijkse back-up in en sturen u de inloggegevens apart."),
    ("Klacht over reparatie", "De reparatie van vorige week is niet goed gegaan: het scherm flikkert weer.",
     "Excuses daarvoor. We halen het apparaat kosteloos op en lossen het op."),
]


def write(business: Business, out: Path) -> list[Path]:
    """Write ``Takeout/Mail/All mail Including Spam and Trash.mbox`` under ``out``."""
    target = Path(out) / "Takeout" / "Mail" / MBOX_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    messages: list[tuple[datetime, bytes]] = []
    for n, client in enumerate(_correspondents(business)):
        messages.extend(_conversation(business, client, n))
    messages.sort(key=lambda pair: pair[0])
    target.write_bytes(b"".join(_mbox_entry(when, data) for when, data in messages))
    return [target]


def _correspondents(business: Business) -> list[Client]:
    """Every ordinary consumer known in several systems (the clients the demo's requests come
    from), then a seeded choice of the others."""
    ordinary = sorted((c for c in business.clients
                       if c.kind == "consumer" and not c.flags and len(c.services) >= 3),
                      key=lambda c: c.number)[:5]
    rest = [c for c in business.clients if c not in ordinary and c.person.email]
    return ordinary + business.rng("mail", "clients").sample(rest, min(CONVERSATIONS, len(rest)))


def _conversation(business: Business, client: Client, n: int) -> list[tuple[datetime, bytes]]:
    rng = business.rng("mail", client.number)
    subject, question, answer = _TOPICS[n % len(_TOPICS)]
    person = client.person
    start = datetime.combine(TODAY - timedelta(days=rng.randrange(3, 1100)), time(9 + rng.randrange(8)), UTC)
    thread = str(1_700_000_000_000_000_000 + client.number * 1000 + n)
    sender = (person.full_name, person.email)
    cc = [SUPPLIER] if n % 3 == 1 else []
    if client.contacts:
        cc.append((client.contacts[0].full_name, client.contacts[0].email))
    signature = f"\n\nMet vriendelijke groet,\n{person.full_name}\n{person.phone}"
    first_id = f"<demo-{business.seed}-{client.number}-1@mail.example>"
    first = _message(sender, [FIRM], cc, subject, question + signature, start, first_id, thread,
                     ["Inbox", "Important"])
    reply_at = start + timedelta(hours=3 + rng.randrange(40))
    quoted = "\n".join("> " + line for line in (question + signature).splitlines())
    reply_text = (f"Beste {person.given_name},\n\n{answer}\n\nMet vriendelijke groet,\n{FIRM[0]}\n\n"
                  f"Op {format_datetime(start)} schreef {person.full_name}:\n{quoted}")
    reply_id = f"<demo-{business.seed}-{client.number}-2@dekaleict.nl>"
    reply = _message(FIRM, [sender], cc, f"Re: {subject}", reply_text, reply_at, reply_id, thread,
                     ["Sent"], refs=[first_id])
    found = [(start, first), (reply_at, reply)]
    if n % 4 == 0:  # the client signs the direct-debit form and sends it back
        signed_at = reply_at + timedelta(days=1 + rng.randrange(5))
        text = (f"Hierbij de ingevulde machtiging voor de automatische incasso.{signature}\n\n"
                f"> {answer}")
        form = _mandate(client)
        found.append((signed_at, _message(sender, [FIRM], [], f"Re: {subject}", text, signed_at,
                                          f"<demo-{business.seed}-{client.number}-3@mail.example>", thread,
                                          ["Inbox"], refs=[first_id, reply_id], attachment=form)))
    return found


def _mandate(client: Client) -> tuple[str, bytes]:
    book = Workbook()
    sheet = book.active
    sheet.title = "Machtiging"
    for row in (("Machtiging doorlopende SEPA-incasso", ""), ("Naam", client.person.full_name),
                ("Adres", f"{client.person.address}, {client.person.postcode} {client.person.city}"),
                ("IBAN", client.person.iban), ("Klantnummer", str(client.number))):
        sheet.append(row)
    return "machtiging.xlsx", xlsx_bytes(book)


def _message(sender, to, cc, subject, text, when, message_id, thread, labels, refs=(),
             attachment=None) -> bytes:
    message = EmailMessage(policy=_POLICY)
    message["X-GM-THRID"] = thread
    message["X-Gmail-Labels"] = ",".join(labels)
    message["From"] = formataddr(sender)
    message["To"] = ", ".join(formataddr(a) for a in to)
    if cc:
        message["Cc"] = ", ".join(formataddr(a) for a in cc)
    message["Subject"] = subject
    message["Date"] = format_datetime(when)
    message["Message-ID"] = message_id
    if refs:
        message["In-Reply-To"] = refs[-1]
        message["References"] = " ".join(refs)
    message.set_content(text)
    if attachment:
        name, data = attachment
        message.add_attachment(data, maintype="application",
                               subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename=name)
        message.set_boundary(f"demo-{message_id.strip('<>')}")
    return message.as_bytes(policy=_POLICY)


def _mbox_entry(when: datetime, data: bytes) -> bytes:
    """One message as Takeout writes it: a ``From`` line, the message with body lines starting
    with ``From `` quoted, and a blank line."""
    lines = [b">" + line if line.startswith(b"From ") else line for line in data.split(b"\n")]
    stamp = when.strftime("%a %b %d %H:%M:%S +0000 %Y").encode()
    return b"From 1700000000000000000@xxx " + stamp + b"\n" + b"\n".join(lines).rstrip(b"\n") + b"\n\n"


def write_many(path: Path, messages: int, seed: int = 2026) -> list[tuple[str, str, str]]:
    """A large Takeout mbox for the benchmark: ``messages`` messages between ``messages // 10``
    invented people and the firm, each signed with name and phone, one in 200 with an XLSX holding
    the sender's IBAN, written as a stream. Returns (e-mail, name, phone) of the people."""
    import random

    rng = random.Random(seed)
    people = [(f"klant{i}@voorbeeld{i % 97}.example", f"Klant{i} Achternaam{i % 1009}",
               f"+316{10_000_000 + i:08d}") for i in range(max(messages // 10, 1))]
    forms = {}
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with Path(path).open("wb") as out:
        for n in range(messages):
            email, name, phone = people[rng.randrange(len(people))]
            when = start + timedelta(minutes=n * 13)
            body = (f"{_TOPICS[n % len(_TOPICS)][1]}\n\nMet vriendelijke groet,\n{name}\n{phone}\n\n"
                    f"> {_TOPICS[(n + 1) % len(_TOPICS)][2]}")
            attachment = None
            if n % 200 == 7:
                key = n % 50
                if key not in forms:
                    book = Workbook()
                    book.active.append(("IBAN", f"NL{key:02d}TEST{key:010d}"))
                    forms[key] = ("machtiging.xlsx", xlsx_bytes(book))
                attachment = forms[key]
            if attachment is None:  # written as text: the email package takes milliseconds a message
                data = _plain(n, seed, (name, email), when, body)
            else:
                data = _message((name, email), [FIRM], [SUPPLIER], _TOPICS[n % 5][0], body, when,
                                f"<bench-{seed}-{n}@mail.example>", str(1_600_000_000_000_000_000 + n // 3),
                                ["Inbox"], attachment=attachment)
            out.write(_mbox_entry(when, data))
    return people


def _plain(n: int, seed: int, sender: tuple[str, str], when: datetime, body: str) -> bytes:
    """A plain-text message as :func:`_message` writes it, from a template."""
    cc = f"Cc: {formataddr(SUPPLIER)}\n" if n % 7 == 0 else ""
    return (f"X-GM-THRID: {1_600_000_000_000_000_000 + n // 3}\nX-Gmail-Labels: Inbox\n"
            f"From: {formataddr(sender)}\nTo: {formataddr(FIRM)}\n{cc}Subject: {_TOPICS[n % 5][0]}\n"
            f"Date: {format_datetime(when)}\nMessage-ID: <bench-{seed}-{n}@mail.example>\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=\"utf-8\"\n"
            f"Content-Transfer-Encoding: 8bit\n\n{body}\n").encode()
