"""XML from devices (UPnP descriptions, WS-Discovery and SADP answers) parsed safely:
defusedxml refuses DTDs, entities and external references (so an XML bomb is a note in the
report, not a frozen sweep), a size limit comes first, and names are matched without
namespaces (firmwares disagree about them)."""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from reclaim.sweep.lan.errors import Malformed
from reclaim.sweep.lan.text import clean

XML_LIMIT = 65536


def parse(data: bytes, what: str) -> Element:
    if len(data) > XML_LIMIT:
        raise Malformed(f"{what} larger than {XML_LIMIT} bytes: not read")
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise Malformed(
            f"{what} refused: it declares a DTD or entities (an XML bomb?): {type(error).__name__}"
        ) from None
    except (ParseError, ValueError) as error:
        raise Malformed(f"{what} is not well-formed XML ({clean(str(error), 60)})") from None


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def each(root: Element, name: str) -> Iterator[Element]:
    """Every element called ``name``, whatever its namespace."""
    return (e for e in root.iter() if local(e.tag) == name)


def text_of(root: Element, name: str, limit: int = 80) -> str:
    """The cleaned text of the first element called ``name``, or ``""``."""
    for element in each(root, name):
        if element.text and element.text.strip():
            return clean(element.text, limit)
    return ""
