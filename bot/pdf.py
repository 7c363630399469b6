"""The text layer of an attached PDF (a purchase order), bounded in size and time."""

from __future__ import annotations

import io
import logging
import warnings

from pypdf import PdfReader

MAX_BYTES = 10 * 1024 * 1024  # larger PDFs are drawings or scans, not purchase orders
MAX_PAGES = 4
MAX_CHARS = 20_000

logging.getLogger("pypdf").setLevel(logging.ERROR)  # it logs every odd object


def pdf_text(data: bytes) -> str:
    """The text of the first pages of a PDF, or "" when it has none or cannot be read."""
    if not data.startswith(b"%PDF") or len(data) > MAX_BYTES:
        return ""
    chunks: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                return ""
            for page in reader.pages[:MAX_PAGES]:
                chunks.append(page.extract_text() or "")
                if sum(map(len, chunks)) >= MAX_CHARS:
                    break
    except Exception:  # pypdf raises many kinds on broken files; a PO we cannot read is no PO
        return ""
    return "\n".join(chunks)[:MAX_CHARS].replace("\x00", "")
