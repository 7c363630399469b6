"""Attached PDF purchase orders: their text layer states PO number, quantity and revision."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from fpdf import FPDF

from bot.decide import Context, decide
from bot.model import Contact, Decision, ThreadState
from bot.parse import parse_message
from bot.pdf import pdf_text
from bot.rules import Rules

DANA = "dana.ortiz@acme-robotics.example"  # technical: no authority of her own
SHOP = "quotes@printshop.example"
CTX = Context(
    own_addresses=frozenset({SHOP}),
    customer_domains=("acme-robotics.example",),
    contacts={DANA: Contact(DANA, "Dana Ortiz", "technical")},
)

PO_LINES = [
    "ACME ROBOTICS INC. - PURCHASE ORDER",
    "PO Number: 4500123",
    "Order date: 11/20/2026",
    "Ship to: 1200 Industrial Parkway, Suite 400, Dayton OH 45402",
    "Phone: (937) 555-0142",
    "Line 1: Qty 250 EA - Gripper bracket, drawing 77-104 rev B4, black PETG",
    "Unit price: $4.20   Extended: $1,050.00",
    "Requested delivery date: 12/08/2026",
    "Terms: Net 30 days. Buyer may cancel or hold shipments that do not conform.",
]


def pdf(lines: list[str]) -> bytes:
    """A one-page PDF with a real text layer, as a purchasing system writes one."""
    doc = FPDF()
    doc.add_page()
    doc.set_font("Helvetica", size=10)
    for line in lines:
        doc.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(doc.output())


def mail(body: str, attachment: bytes, filename: str = "scan_2211.pdf") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Dana Ortiz <{DANA}>"
    msg["To"] = SHOP
    msg["Subject"] = "Re: Quote Q-1042 gripper brackets"
    msg["Message-ID"] = "<po-test@acme-robotics.example>"
    msg.set_content(body)
    msg.add_attachment(attachment, maintype="application", subtype="pdf", filename=filename)
    return msg.as_bytes()


def decided(raw: bytes, rules: Rules) -> Decision:
    decision, _ = decide(parse_message(raw), ThreadState(key="t"), CTX, rules)
    return decision


def test_pdf_text_layer_is_read() -> None:
    """pypdf reads back what the purchasing system wrote."""
    text = pdf_text(pdf(PO_LINES))
    assert "PO Number: 4500123" in text and "Qty 250 EA" in text


def test_attached_po_completes_a_release(rules: Rules) -> None:
    """A PO PDF (whatever its file name) states PO number, quantity, revision and delivery
    date; the PO number gives authority even from a technical contact."""
    d = decided(mail("Please find our order attached.", pdf(PO_LINES)), rules)
    assert (d.action, d.stage, d.missing) == ("record", "production", ())
    assert d.fields.po_number == "4500123"
    assert d.fields.quantity == 250
    assert d.fields.revision == "B4"
    assert d.authority == "PO 4500123"
    evidence = dict(d.fields.evidence)
    assert "attached purchase order scan_2211.pdf" in evidence["quantity"]


def test_po_numbers_prices_addresses_never_become_the_quantity(rules: Rules) -> None:
    """Without a quantity line, nothing else on the PO (prices, zip, phone, dates) is one."""
    lines = [line for line in PO_LINES if not line.startswith("Line 1")]
    lines.append("Line 1: Gripper bracket rev B4")
    d = decided(mail("PO attached, please proceed.", pdf(lines)), rules)
    assert d.fields.quantity is None
    assert d.missing == ("quantity",)


def test_order_date_is_not_timing(rules: Rules) -> None:
    """The order date on a PO is not a start or delivery date."""
    lines = [line for line in PO_LINES if not line.startswith("Requested delivery")]
    d = decided(mail("Our PO is attached.", pdf(lines)), rules)
    assert d.fields.timing is None
    assert d.action == "clarify" and d.missing == ("timing",)


def test_po_terms_are_not_a_hold_but_the_mail_can_hold(rules: Rules) -> None:
    """Boilerplate on the PO ('may cancel or hold') is not an instruction; the sender's own
    'do not start yet' is, PO or not."""
    assert decided(mail("PO attached.", pdf(PO_LINES)), rules).stage == "production"
    held = decided(mail("Do not start yet, PO attached for your records.", pdf(PO_LINES)), rules)
    assert (held.stage, held.action) == ("hold", "record")


def test_sample_po_is_a_sample_release(rules: Rules) -> None:
    """A PO for first articles releases samples, not the run."""
    lines = [*PO_LINES[:5], "Line 1: Qty 5 EA - First article samples, gripper bracket rev B4"]
    lines.append("Delivery required by 12/01/2026")
    d = decided(mail("Attached.", pdf(lines)), rules)
    assert (d.stage, d.fields.quantity, d.action) == ("sample", 5, "record")


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.4\n%broken", b"%PDF-1.7\n" + b"\x00" * 5000, b"not a pdf at all"],
    ids=["truncated", "nul-bytes", "not-pdf"],
)
def test_unreadable_pdf_is_no_po(rules: Rules, data: bytes) -> None:
    """A PDF that cannot be read adds nothing and breaks nothing."""
    assert pdf_text(data) == ""
    d = decided(mail("Looks good.", data, filename="drawing.pdf"), rules)
    assert d.fields.po_number is None and d.stage == "unclear"


def test_drawing_pdf_is_not_a_po(rules: Rules) -> None:
    """A PDF without purchase-order wording (a drawing) states nothing for the buyer."""
    drawing = pdf(["GRIPPER BRACKET", "Drawing 77-104 rev B5", "Qty per assembly: 2"])
    d = decided(mail("Fit is good.", drawing, filename="77-104.pdf"), rules)
    assert d.fields.revision is None and d.fields.quantity is None
