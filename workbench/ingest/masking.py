"""Showing a value without showing it: masked examples for inventories, evidence and logs.

A masked value keeps just enough to recognise its shape (the domain of an e-mail address, the
country and last digits of an IBAN) and never enough to identify a person.
"""

from __future__ import annotations

import re


def mask(value: object, kind: str | None = None) -> str:
    """``value`` masked for display; ``kind`` (an identifier kind or canonical field) picks the
    shape to keep. Empty values stay empty."""
    text = "" if value is None else str(value).strip()
    if not text or text.lower() in ("nan", "none", "nat"):
        return ""
    if kind == "email" or (kind is None and "@" in text):
        local, _, domain = text.partition("@")
        return f"{local[:1]}***@{_keep_tld(domain)}"
    if kind in ("iban", "card_number"):
        compact = re.sub(r"\s", "", text)
        if len(compact) <= 8:
            return "****"
        return compact[:2] + "*" * (len(compact) - 6) + compact[-4:]
    if kind in ("date", "birth_date"):  # keep the year only, whatever the order of the parts
        year = re.search(r"\d{4}", text)
        masked = re.sub(r"\d", "*", text)
        return masked[:year.start()] + year.group() + masked[year.end():] if year else masked
    if re.fullmatch(r"[\d\s+().\-/]+", text):  # numbers: phone, BSN, KvK, customer numbers
        digits = re.sub(r"\D", "", text)
        return "*" * max(len(digits) - 2, 1) + digits[-2:]
    words = text.split()
    return " ".join(w[:1] + "*" * min(max(len(w) - 1, 2), 6) for w in words)


def _keep_tld(domain: str) -> str:
    head, dot, tld = domain.rpartition(".")
    return f"{head[:1]}***{dot}{tld}" if dot else "***"
