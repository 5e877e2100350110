"""Writing demo files that are byte-identical for the same content."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

from workbench.demo import TODAY

FIXED = datetime.combine(TODAY, datetime.min.time())


def xlsx_bytes(book: Workbook) -> bytes:
    """The workbook's bytes without the current time: ``Workbook.save`` stamps it on the
    document properties and the zip on every member, so write the parts through openpyxl's
    writer and stamp every member with the demo's fixed date."""
    book.properties.created = book.properties.modified = FIXED
    parts = io.BytesIO()
    with zipfile.ZipFile(parts, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(book, archive).write_data()
    fixed = io.BytesIO()
    with zipfile.ZipFile(parts) as source, zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=FIXED.timetuple()[:6])
            member.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(member, source.read(info.filename))
    return fixed.getvalue()
