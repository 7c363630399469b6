"""Quote-thread mail of realistic shape, the same for the same seed.

Threads run side by side, as in a shared quotes mailbox: the shop's quote, then buyers' replies
(complete releases, vague approvals, technical sign-offs, partial lots, holds, questions,
thanks, out-of-office notices) and the shop's answers, each reply quoting the history in its
mail client's style (Gmail's "On ... wrote:", Outlook's From:/Sent: block, iPhone). Plain, HTML
(multipart/alternative, some Outlook HTML only), a PDF purchase order now and then, a 1 MB CAD
attachment once in a thousand messages, and a supplier newsletter among them. Memory stays
bounded whatever the count: only the open threads are kept.

    for mail in generate(10_000, end=datetime.now(UTC)):
        client.append("INBOX", mail.raw)
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from benchmarks import mime
from benchmarks.people import (
    COMPANIES,
    COMPLETE,
    COMPLETE_PDF,
    HOLD,
    PARTIAL,
    PARTS,
    QUESTION,
    SHOP_ADDRESS,
    SHOP_AFTER,
    SHOP_NAME,
    SHOP_SIGNATURE,
    TECHNICAL,
    THANKS,
    VAGUE,
    Company,
    Part,
    Person,
)

OPEN_THREADS = 40  # threads in progress at once
BIG_EVERY = 1000  # one message in this many carries a ~1 MB CAD file
NEWSLETTER_SHARE = 0.03
THREAD_LENGTHS = ((2, 15), (3, 25), (4, 20), (5, 15), (6, 15), (8, 10))
BUYER_KINDS = {  # kind: weight, for senders with authority and without
    "authority": (
        ("complete", 28),
        ("complete_pdf", 7),
        ("vague", 20),
        ("partial", 8),
        ("hold", 8),
        ("question", 14),
        ("thanks", 10),
        ("auto", 5),
    ),
    "technical": (
        ("technical", 30),
        ("vague", 22),
        ("question", 20),
        ("hold", 8),
        ("complete", 5),
        ("thanks", 10),
        ("auto", 5),
    ),
}


@dataclass(frozen=True)
class Generated:
    """One raw message and what it is (`kind`: quote, shop, newsletter, or a buyer's kind)."""

    raw: bytes
    date: datetime
    kind: str


@dataclass
class _Thread:
    number: int
    company: Company
    part: Part
    revision: str
    quantity: int
    addressee: Person
    left: int
    last: mime.Sent | None = None
    last_kind: str = ""


@dataclass
class Generator:
    """The state of one generated mailbox; `messages(count)` yields its mail in date order."""

    end: datetime
    seed: int = 7
    span: timedelta = timedelta(days=730)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.open: list[_Thread] = []
        self.next_quote = 20_000
        self.serial = 0
        self.big_due = False

    def messages(self, count: int) -> Iterator[Generated]:
        step = self.span / max(count, 1)
        start = self.end - self.span
        for index in range(count):
            date = start + step * index + step * self.rng.uniform(0.0, 0.9)
            if index % BIG_EVERY == BIG_EVERY // 2:
                self.big_due = True  # the next buyer's message carries it
            if self.rng.random() < NEWSLETTER_SHARE:
                made = self._newsletter(date)
            else:
                made = self._thread_message(date)
            yield made

    # -- threads ------------------------------------------------------------------------------

    def _thread_message(self, date: datetime) -> Generated:
        while len(self.open) < OPEN_THREADS:
            self.open.append(self._new_thread())
        thread = self.rng.choice(self.open)
        if thread.last is None:
            made = self._quote(thread, date)
        elif thread.last.sender.endswith(f"<{SHOP_ADDRESS}>"):
            made = self._buyer(thread, date)
        else:
            made = self._shop(thread, date)
        thread.left -= 1
        if thread.left <= 0:
            self.open.remove(thread)
        return made

    def _new_thread(self) -> _Thread:
        rng = self.rng
        company = rng.choice(COMPANIES)
        part = rng.choice(PARTS)
        self.next_quote += 1
        lengths, weights = zip(*THREAD_LENGTHS, strict=True)
        return _Thread(
            number=self.next_quote,
            company=company,
            part=part,
            revision=rng.choice(part.revisions),
            quantity=rng.choice((25, 50, 120, 250, 300, 400, 600, 750)),
            addressee=rng.choice(company.people[:2]),
            left=rng.choices(lengths, weights)[0],
        )

    def _message_id(self, domain: str) -> str:
        self.serial += 1
        left, right = self.rng.getrandbits(32), self.rng.getrandbits(32)
        return f"<{left:08X}.{self.serial:06x}.{right:08x}@{domain}>"

    def _quote(self, thread: _Thread, date: datetime) -> Generated:
        part, who = thread.part, thread.addressee
        prices = ", ".join(f"{q} pcs @ ${p:.2f}/unit" for q, p in part.unit_prices)
        text = "\n".join(
            (
                f"Hi {who.first},",
                "",
                f"Thanks for sending the files over. Here is quote Q-{thread.number} for the "
                f"{part.name}:",
                "",
                f"  File / revision: {part.file}, rev {thread.revision}",
                f"  Material: {part.material}",
                f"  Pricing: {prices}",
                f"  Packing: {part.pack} per bag, labelled with part number and revision",
                "  Lead time: 10 business days from written release",
                "",
                "To release the job, please reply with the quantity released now, the "
                "controlling revision, the start or ship date, and your PO number (or approval "
                "from purchasing).",
                "",
                *SHOP_SIGNATURE,
            )
        )
        subject = f"Quote Q-{thread.number} - {part.name}"
        return self._write(thread, date, "quote", text, shop=True, subject=subject)

    def _shop(self, thread: _Thread, date: datetime) -> Generated:
        assert thread.last is not None
        after = thread.last_kind if thread.last_kind in SHOP_AFTER else "ask"
        if thread.last_kind in ("complete", "complete_pdf"):
            after = "complete"
        first = thread.last.sender.split()[0]
        line = SHOP_AFTER[after].format(quote=thread.number, lead=10)
        text = "\n".join((f"Hi {first},", "", line, "", *SHOP_SIGNATURE))
        return self._write(thread, date, "shop", text, shop=True)

    def _buyer(
        self,
        thread: _Thread,
        date: datetime,
        *,
        kind: str | None = None,
        body: str | None = None,
    ) -> Generated:
        rng = self.rng
        people = thread.company.people
        who = thread.addressee if kind or rng.random() < 0.7 else rng.choice(people)
        if kind is None:
            table = BUYER_KINDS["technical" if who.role in ("technical", "other") else "authority"]
            kinds, weights = zip(*table, strict=True)
            kind = rng.choices(kinds, weights)[0]
        if kind == "auto":
            return self._out_of_office(thread, who, date)
        buyer = next((p.first for p in people if p.role in ("purchasing", "owner")), "purchasing")
        values = {
            "quote": thread.number,
            "qty": thread.quantity,
            "rev": thread.revision,
            "pack": thread.part.pack,
            "short": thread.part.short,
            "po": f"{rng.randrange(4000, 99000)}",
            "start": f"{rng.randrange(1, 13)}/{rng.randrange(1, 29)}",
            "ship": f"{rng.randrange(1, 13)}/{rng.randrange(1, 29)}",
            "buyer": buyer,
            "lot": max(5, thread.quantity // 10),
            "rest": thread.quantity - max(5, thread.quantity // 10),
            "lead": 10,
        }
        phrases = {
            "complete": COMPLETE,
            "complete_pdf": COMPLETE_PDF,
            "vague": VAGUE,
            "technical": TECHNICAL,
            "partial": PARTIAL,
            "hold": HOLD,
            "question": QUESTION,
            "thanks": THANKS,
        }[kind]
        body = body or rng.choice(phrases).format(**values)
        greeting = [] if who.client == "iphone" else ["Hi Rosa,", ""]
        sign = [who.first] if who.client == "iphone" else ["Thanks,", who.first, "", *who.signature]
        if thread.company.disclaimer and who.client != "iphone":
            sign += ["", thread.company.disclaimer]
        text = "\n".join((*greeting, body, "", *sign))
        attachments = []
        if kind == "complete_pdf":
            po = purchase_order(thread, values)
            attachments.append(mime.Attachment(f"PO_{values['po']}.pdf", "application/pdf", po))
        if self.big_due and kind != "auto":
            self.big_due = False
            stl = self.rng.randbytes(760_000)
            name = f"{thread.part.file.split('.')[0]}_rev{thread.revision}.stl"
            attachments.append(mime.Attachment(name, "application/octet-stream", stl))
        made = self._write(thread, date, kind, text, who=who, attachments=attachments)
        thread.last_kind = kind
        return made

    def _out_of_office(self, thread: _Thread, who: Person, date: datetime) -> Generated:
        assert thread.last is not None
        text = (
            f"I am out of the office until {date + timedelta(days=5):%B %-d} with limited "
            f"access to e-mail. For urgent matters please contact {thread.company.people[0].email}."
        )
        subject = f"Automatic reply: {thread.last.subject}"
        last = thread.last
        made = self._write(
            thread,
            date,
            "auto",
            text,
            who=who,
            subject=subject,
            quote=False,
            extra=(("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")),
        )
        thread.last = last  # the thread goes on from the message before the notice
        return made

    def _write(
        self,
        thread: _Thread,
        date: datetime,
        kind: str,
        text: str,
        *,
        shop: bool = False,
        who: Person | None = None,
        subject: str | None = None,
        attachments: list[mime.Attachment] | None = None,
        quote: bool = True,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> Generated:
        rng, prev = self.rng, thread.last
        if shop:
            sender = mime.address(SHOP_NAME, SHOP_ADDRESS)
            to = mime.address(thread.addressee.name, thread.addressee.email)
            client, offset, domain = rng.choice(("gmail", "outlook")), -5, "printshop.example"
        else:
            assert who is not None
            sender, to = mime.address(who.name, who.email), mime.address(SHOP_NAME, SHOP_ADDRESS)
            client, offset, domain = who.client, who.utc_offset, thread.company.domain
            if prev is not None and who.email not in prev.to:
                to = prev.to
        local = date.astimezone(timezone(timedelta(hours=offset)))
        if subject is None:
            base = f"Quote Q-{thread.number} - {thread.part.name}"
            subject = base if prev is None else ("RE: " if client == "outlook" else "Re: ") + base
        quoted = prev if quote else None
        plain = mime.plain_reply(text, quoted, client, iphone_footer=client == "iphone")
        inner = mime.html_reply(text, quoted, client)
        references = () if prev is None else (*prev.references, prev.message_id)[-10:]
        message_id = self._message_id(domain)
        extras = list(extra)
        if client == "outlook":
            extras += [("X-Mailer", "Microsoft Outlook 16.0"), ("Thread-Topic", subject[4:])]
        elif client == "iphone":
            extras.append(("X-Mailer", "iPhone Mail (22D72)"))
        head = mime.headers(
            sender=sender,
            to=to,
            subject=subject,
            date=local,
            message_id=message_id,
            references=references,
            extra=extras,
        )
        style = _body_style(client, rng.random())
        boundary = f"==============={rng.getrandbits(60):019d}=="
        if style == "plain":
            body = mime.text_part(plain, "plain")
        elif style == "html":
            body = mime.text_part(mime.as_html_document(inner, client), "html")
        else:
            alternatives = [
                mime.text_part(plain, "plain"),
                mime.text_part(mime.as_html_document(inner, client), "html"),
            ]
            body = mime.multipart("alternative", boundary + "a", alternatives)
        if attachments:
            parts = [body, *(mime.attachment_part(a) for a in attachments)]
            body = mime.multipart("mixed", boundary + "m", parts)
        raw = (head + body).replace(b"\n", b"\r\n")
        sent = mime.Sent(message_id, references, sender, to, subject, local, plain, inner)
        thread.last = sent
        return Generated(raw=raw, date=date, kind=kind)

    # -- noise --------------------------------------------------------------------------------

    def _newsletter(self, date: datetime) -> Generated:
        items = "".join(
            f"<tr><td><h2>{name}</h2><p>{blurb}</p><a href='https://filament.example/p/{n}'>"
            "Shop now</a></td></tr>"
            for n, (name, blurb) in enumerate(_NEWS * 4)
        )
        html = f"<html><body><table width='600'>{items}</table></body></html>"
        head = mime.headers(
            sender="Filament Weekly <news@filament-supply.example>",
            to=SHOP_ADDRESS,
            subject=f"Filament Weekly: {date:%B %-d} deals",
            date=date.astimezone(UTC),
            message_id=self._message_id("filament-supply.example"),
            references=(),
            extra=(
                ("List-Id", "<weekly.filament-supply.example>"),
                ("List-Unsubscribe", "<https://filament-supply.example/u>"),
                ("Precedence", "bulk"),
            ),
        )
        raw = (head + mime.text_part(html, "html")).replace(b"\n", b"\r\n")
        return Generated(raw=raw, date=date, kind="newsletter")


_NEWS = (
    ("PETG 1 kg spools", "Twelve colours restocked, 15% off this week only."),
    ("PA12 powder", "Lab-tested batches with certificates for medical customers."),
    ("Nozzle kits", "Hardened steel and ruby nozzles for abrasive filaments."),
)


def _body_style(client: str, draw: float) -> str:
    """plain, html (HTML only) or alternative, in the proportions each client sends."""
    if client == "iphone":
        return "plain"
    if client == "outlook":
        return "alternative" if draw < 0.7 else ("html" if draw < 0.9 else "plain")
    return "alternative" if draw < 0.8 else "plain"


def purchase_order(thread: _Thread, values: dict[str, object]) -> bytes:
    """A one-page PO with a text layer, as a purchasing system writes it."""
    lines = (
        f"{thread.company.domain.split('.')[0].upper()} - PURCHASE ORDER",
        f"PO Number: {values['po']}",
        f"Line 1: Qty {values['qty']} EA - {thread.part.name}, {thread.part.file} rev "
        f"{values['rev']}",
        f"Requested delivery date: {values['ship']}/2026",
        "Terms: Net 30 days.",
    )
    return _pdf(lines)


def _pdf(lines: tuple[str, ...]) -> bytes:
    from fpdf import FPDF  # a dev dependency, like the benchmark itself

    doc = FPDF()
    doc.add_page()
    doc.set_font("Helvetica", size=10)
    for line in lines:
        doc.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(doc.output())


def vague_approval(number: int, now: datetime) -> bytes:
    """A purchasing contact's "Looks good, go ahead." dated `now`, quoting the shop's quote in a
    thread of its own: the bot asks for the missing details (the reaction test's message)."""
    made = Generator(end=now, seed=number)
    buyer = COMPANIES[0].people[0]
    thread = _Thread(number, COMPANIES[0], PARTS[0], "C7", 250, buyer, left=2)
    made._quote(thread, now - timedelta(hours=1))
    return made._buyer(thread, now, kind="vague", body=VAGUE[0]).raw
