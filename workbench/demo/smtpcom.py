"""The demo website's SMTP.com message log: the mail the web shop sent through the relay.

Order confirmations to the Mollie payers of the last months (with the address as the shop has
it typed), password-reset mails to account holders, and a bounce for a mistyped address. The
columns are the API's delivery-log fields (see ``config/headers/smtpcom.toml``); times are the
firm's local time, as the portal shows them.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path

from workbench.demo import TODAY, Business

SERVICE = "smtpcom"
SINCE = datetime(2026, 5, 1)
SENDER = "webwinkel@dekaleict.nl"
HEADER = ["rcpt_to", "mail_from", "subject", "time_started", "time_finished", "status", "resp_code",
          "resp_msg", "tries", "tracking_id", "sender_id"]


def write(business: Business, out: Path) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "smtpcom-message-log.csv"
    path.write_bytes(message_log(business).encode("utf-8"))
    return [path]


def message_log(business: Business) -> str:
    rng = business.rng(SERVICE)
    rows = []
    end = datetime.combine(TODAY, datetime.min.time())
    for payment in business.payments:
        if not SINCE <= payment.created < end or payment.status in ("failed", "expired"):
            continue
        client = business.client(payment.client_number)
        email = business.as_typed(client, "hosting").email or client.person.email
        sent = payment.created + timedelta(seconds=rng.randrange(5, 60))
        bounced = rng.random() < 0.03
        rcpt = email.replace("@", "@@") if bounced else email  # a mistyped address bounces
        rows.append(_row(rcpt, f"Bevestiging van uw bestelling ({payment.description})", sent, bounced, rng))
        if rng.random() < 0.15:
            later = sent + timedelta(days=rng.randrange(1, 20), seconds=rng.randrange(0, 86400))
            if later < end:
                rows.append(_row(email, "Wachtwoord opnieuw instellen voor dekaleict.nl", later, False, rng))
    for client in business.clients:  # the account holders who asked a new password once
        if len(client.services) >= 3 and rng.random() < 0.6:
            days = rng.randrange(0, (end - SINCE).days)
            sent = SINCE + timedelta(days=days, seconds=rng.randrange(0, 86400))
            email = business.as_typed(client, "hosting").email or client.person.email
            rows.append(_row(email, "Wachtwoord opnieuw instellen voor dekaleict.nl", sent, False, rng))
    rows.sort(key=lambda r: (r[3], r[0]))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerows([HEADER, *rows])
    return text.getvalue()


def _row(rcpt: str, subject: str, sent: datetime, bounced: bool, rng) -> list[str]:
    finished = sent + timedelta(seconds=rng.randrange(1, 5))
    code, message = ("550", "5.1.1 mailbox unavailable") if bounced else ("250", "2.0.0 OK queued")
    return [rcpt, SENDER, subject, f"{sent:%Y-%m-%d %H:%M:%S}", f"{finished:%Y-%m-%d %H:%M:%S}",
            "bounced" if bounced else "delivered", code, message, "1",
            "".join(rng.choice("0123456789abcdef") for _ in range(24)), "40213"]
