"""The text layer of an attached PDF (a purchase order), bounded in size, memory and time."""

from __future__ import annotations

import io
import logging
import time
import warnings
from collections.abc import Callable
from typing import Any

MAX_BYTES = 10 * 1024 * 1024  # larger PDFs are drawings or scans, not purchase orders
MAX_PAGES = 4
MAX_CHARS = 20_000
# Seconds of text extraction per PDF. A purchase order takes 10 to 50 ms; a 10 KB file whose
# page draws a form 40 times, each form 4 MB of blanks, took 62 s before this bound. pypdf's
# limits below bound one stream; only a clock bounds how often a page may re-read one.
MAX_SECONDS = 1.0
# pypdf's own limits, lowered from its 75 MB and 2,000,000 defaults: what an order needs, and
# a bound on the memory and time of decompressing and tokenising one content stream (0.4 s).
_LIMITS: dict[str, Any] = {
    "zlib_maximum_output_length": 4_000_000,
    "lzw_maximum_output_length": 4_000_000,
    "run_length_maximum_output_length": 4_000_000,
    "brotli_maximum_output_length": 4_000_000,
    "array_based_stream_maximum_output_length": 4_000_000,
    "stream_decoding_work_maximum_length": 16_000_000,
    "stream_parsing_work_maximum_count": 50_000,
    "xform_maximum_invocations_per_extraction": 100,
    "page_tree_maximum_entries": 10_000,
    "jbig2dec_binary": None,  # never start a program for an attachment
}

logging.getLogger("pypdf").setLevel(logging.ERROR)  # it logs every odd object


class _Spent(Exception):
    """Raised from inside pypdf's text extraction when MAX_SECONDS have passed."""


def load_pdf_reader() -> None:
    """Import pypdf now (a backlog's parse worker meets a PDF soon; see pdf_text)."""
    import pypdf  # noqa: F401


def pdf_text(data: bytes, *, clock: Callable[[], float] = time.monotonic) -> str:
    """The text of the first pages of a PDF, or "" when it has none or cannot be read.
    Extraction stops after MAX_SECONDS by `clock`, keeping the pages read by then."""
    if not data.startswith(b"%PDF") or len(data) > MAX_BYTES:
        return ""
    from pypdf import PdfReader, apply_configuration  # 70 ms of start-up: only when a PDF comes

    chunks: list[str] = []
    deadline = clock() + MAX_SECONDS

    def check(*_: object) -> None:  # pypdf calls it before every content-stream operator
        if clock() > deadline:
            raise _Spent

    try:
        with warnings.catch_warnings(), apply_configuration(**_LIMITS):
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                return ""
            for page in reader.pages[:MAX_PAGES]:
                chunks.append(page.extract_text(visitor_operand_before=check) or "")
                if sum(map(len, chunks)) >= MAX_CHARS or clock() > deadline:
                    break
    except Exception:  # _Spent, or one of pypdf's many kinds on a broken file or page
        pass  # the pages read before are kept; a PO we cannot read at all is no PO
    return "\n".join(chunks)[:MAX_CHARS].replace("\x00", "")
