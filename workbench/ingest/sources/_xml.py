"""Safe XML reading shared by the XML sources (CAMT.053, eExact XML, XAF auditfiles).

Every read goes through defusedxml with DTDs forbidden: an export never needs one, and a DTD is
how entity bombs and external entities get in.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from workbench.errors import InputError
from workbench.ingest.sources._common import Loaded


def local(tag: str) -> str:
    """A tag or attribute name without its ``{namespace}``."""
    return tag.rpartition("}")[2]


def namespace(tag: str) -> str:
    """The namespace of a ``{namespace}name`` tag, "" when it has none."""
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


def iterparse(loaded: Loaded, event: str) -> Iterator[Element]:
    """The elements as the parser meets them (``"start"`` or ``"end"``), stopping quietly at
    the first broken or unsafe part: for cheap looks that must not fail."""
    try:
        for _, element in SafeET.iterparse(io.BytesIO(loaded.data), events=(event,),
                                           forbid_dtd=True):
            yield element
    except (ParseError, DefusedXmlException):
        return


def root_tag(loaded: Loaded) -> str:
    """The root element's ``{namespace}name``, read from the start of the file only (so a
    truncated file is still recognised); "" when the file is not readable XML."""
    if loaded.format != "xml":
        return ""
    return next((element.tag for element in iterparse(loaded, "start")), "")


def parse(loaded: Loaded, expected: str) -> Element:
    """The whole document; a broken or unsafe file is an :class:`InputError` saying what was
    ``expected``. The parser's message is not shown: it may quote the file's content."""
    try:
        return SafeET.fromstring(loaded.data, forbid_dtd=True)
    except ParseError as exc:
        raise InputError(loaded.path, "broken or truncated XML (not well-formed)",
                         row=exc.position[0], expected=expected) from None
    except DefusedXmlException as exc:
        raise InputError(loaded.path, f"unsafe XML refused ({type(exc).__name__})",
                         expected=f"{expected}, without DTD or entities") from None


def children(element: Element | None, name: str) -> list[Element]:
    """The direct children with a local name; none below a missing element."""
    return [c for c in (element if element is not None else []) if local(c.tag) == name]


def child(element: Element | None, name: str) -> Element | None:
    return next(iter(children(element, name)), None)


def flatten(element: Element, path: str, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every attribute (``path/@name``) and leaf text below ``element`` by its path, the n-th
    repeat of an element (n > 1) with ``[n]`` after its name. Children named in ``skip`` are
    left out (they are records of their own); deeper elements of that name are kept.

    A leaf's text is kept even when empty (the element is there), except on an element whose
    attributes carry its content (``<Country code="NL"/>``); text beside child elements is
    layout."""
    out = {f"{path}/@{local(name)}": value for name, value in element.attrib.items()}
    text = (element.text or "").strip()
    if not len(element) and (text or not element.attrib):
        out[path] = text
    seen: dict[str, int] = {}
    for node in element:
        name = local(node.tag)
        if name in skip:
            continue
        seen[name] = seen.get(name, 0) + 1
        numbered = f"{name}[{seen[name]}]" if seen[name] > 1 else name
        out.update(flatten(node, f"{path}/{numbered}"))
    return out
