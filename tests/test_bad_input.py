"""Bad input (issue 6): hostile mail is decided or rejected with a MessageError, in bounded
time and memory. Inputs are generated here, never stored; the figures are in the issue."""

from __future__ import annotations

import base64
import email.message
import quopri
import zlib
from collections.abc import Callable
from functools import cache
from itertools import count
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.decide import Context, decide
from bot.errors import MessageError
from bot.model import ACTIONS, Contact, Message, ThreadState
from bot.parse import (
    MAX_CONTAINERS,
    MAX_HEADER_BYTES,
    MAX_PARTS,
    MAX_PDFS,
    TRUNCATED_BODY_BYTES,
    bounded,
    decode_text,
    parse_message,
)
from bot.pdf import MAX_SECONDS, pdf_text
from bot.rules import Rules, load_rules
from bot.sentences import (
    MAX_CLAUSES,
    MAX_LINE_CHARS,
    MAX_SENTENCE_CHARS,
    MAX_SENTENCES,
    MAX_TEXT_CHARS,
    clip_text,
    split_clauses,
    split_sentences,
)

LEE = "lee@acme.example"
CTX = Context(
    own_addresses=frozenset({"quotes@printshop.example"}),
    customer_domains=("acme.example",),
    contacts={LEE: Contact(LEE, "Lee Park", "purchasing")},
)
HEAD = (
    b"From: Lee Park <lee@acme.example>\r\nTo: quotes@printshop.example\r\n"
    b"Subject: Re: Quote Q-1042\r\nDate: Tue, 04 Mar 2025 11:02:00 -0500\r\n"
)
RELEASE = b"Release 250 units of rev B, ship by Friday.\r\n"
MIXED = b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="A"\r\n'


def msg(
    headers: bytes, body: bytes, message_id: bytes = b"Message-ID: <x@acme.example>\r\n"
) -> bytes:
    """A message from Lee with extra header lines and a body."""
    return HEAD + message_id + headers + b"\r\n" + body


def attached(data: bytes, ctype: bytes, name: bytes) -> bytes:
    """A multipart/mixed message: the release sentence, then `data` as a base64 attachment."""
    return msg(
        MIXED,
        b"--A\r\nContent-Type: text/plain\r\n\r\n" + RELEASE + b"--A\r\nContent-Type: " + ctype
        + b'\r\nContent-Disposition: attachment; filename="' + name + b'"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(data) + b"--A--\r\n",
    )  # fmt: skip


def nested_multipart(depth: int) -> bytes:
    """`depth` multiparts inside each other around one text part."""
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="B%d"\r\n\r\n--B%d\r\n' % (i, i)
        for i in range(depth)
    )
    closing = b"".join(b"\r\n--B%d--\r\n" % i for i in reversed(range(depth)))
    return msg(b"MIME-Version: 1.0\r\n", b"")[:-2] + opening + b"\r\n" + RELEASE + closing


def nested_rfc822(depth: int) -> bytes:
    """A message carrying a message carrying a message ... `depth` deep, the release inside."""
    inner = HEAD + b"Message-ID: <in@x>\r\nContent-Type: text/plain\r\n\r\n" + RELEASE
    for i in range(depth):
        inner = HEAD + b"Message-ID: <r%d@x>\r\nContent-Type: message/rfc822\r\n\r\n" % i + inner
    return inner


def many_parts(n: int) -> bytes:
    """A multipart/mixed message of `n` small text parts."""
    parts = b"".join(b"--A\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(n))
    return msg(MIXED, parts + b"--A--\r\n")


WORDS = (b"approve release rev B qty 250 " * 40_000)[:1_000_000]

HOSTILE: dict[str, Callable[[], bytes]] = {
    "no-boundary": lambda: msg(b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n", RELEASE),
    "unterminated": lambda: msg(MIXED, b"--A\r\nContent-Type: text/plain\r\n\r\n" + RELEASE),
    "bad-base64": lambda: msg(b"Content-Transfer-Encoding: base64\r\n", b"!!not base64==\r\n"),
    "wrong-charset": lambda: msg(
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
        "Gehäuse freigegeben".encode("latin-1"),
    ),
    "unknown-charset": lambda: msg(b"Content-Type: text/plain; charset=x-nonsense-42\r\n", RELEASE),
    "nul-in-charset": lambda: msg(b'Content-Type: text/plain; charset="utf\x008"\r\n', RELEASE),
    "utf7-lone-surrogate": lambda: msg(
        b"Subject: =?utf-7?Q?+2D3-?=\r\nContent-Type: text/plain; charset=utf-7\r\n", b"+2D3- ok"
    ),
    "no-message-id": lambda: msg(b"", RELEASE, message_id=b""),
    "two-message-ids": lambda: msg(b"Message-ID: <second@acme.example>\r\n", RELEASE),
    "header-2mb-line": lambda: msg(b"X-Junk: " + b"a" * 2_000_000 + b"\r\n", RELEASE),
    "headers-100k": lambda: msg(b"".join(b"X-H%d: v\r\n" % i for i in range(100_000)), RELEASE),
    "attachment-50mb": lambda: attached(bytes(50_000_000), b"application/octet-stream", b"a.bin"),
    "multipart-depth-2000": lambda: nested_multipart(2000),
    "rfc822-depth-2000": lambda: nested_rfc822(2000),
    "parts-20000": lambda: many_parts(20_000),
    "winmail-dat": lambda: attached(
        bytes(range(256)) * 800, b"application/ms-tnef", b"winmail.dat"
    ),
    "empty-body": lambda: msg(b"", b""),
    "no-blank-line": lambda: HEAD + b"Message-ID: <h@x>",
    "nul-bytes": lambda: msg(b"X-N: a\x00b\r\n", b"Release\x00 250\x00 units\r\n" * 1000),
    "line-1mb": lambda: msg(b"", WORDS + b"\r\n" + RELEASE),
    "html-line-1mb": lambda: msg(b"Content-Type: text/html\r\n", b"<p>" + WORDS + b"</p>"),
    "quoted-5mb": lambda: msg(b"", RELEASE + b"> approved rev C qty 10\r\n" * 200_000),
    "random-bytes": lambda: bytes((i * 7919) % 256 for i in range(100_000)),
}


def check(raw: bytes, rules: Rules, state: ThreadState | None = None) -> Message | None:
    """Parse and decide `raw`: a Message and a Decision within the bounds, or a MessageError."""
    try:
        message = parse_message(raw)
    except MessageError:
        return None
    assert len(message.text) <= MAX_TEXT_CHARS
    assert all(len(line) <= MAX_LINE_CHARS for line in message.text.split("\n"))
    assert "\x00" not in message.text
    for value in (message.text, message.subject, message.from_name, *message.to, *message.cc):
        value.encode("utf-8")  # no lone surrogates: the database, JSON and SMTP take it
    for _, value in message.headers:
        value.encode("utf-8")
    decision, _ = decide(message, state or ThreadState(key="t"), CTX, rules)
    assert decision.action in ACTIONS
    assert len(decision.new_text) <= MAX_TEXT_CHARS
    return message


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_message_is_decided_within_bounds(name: str, rules: Rules) -> None:
    """Each hostile message gives a bounded Message and a Decision, or a MessageError."""
    check(HOSTILE[name](), rules)


def test_oversized_message_keeps_its_header_and_first_part(rules: Rules) -> None:
    """A 50 MB attachment puts the message over the cap: it is decided from its header and
    the start of its body, and says so in its defects."""
    message = check(HOSTILE["attachment-50mb"](), rules)
    assert message is not None
    assert message.message_id == "<x@acme.example>"
    assert "Release 250 units" in message.text
    assert "MessageTruncated" in message.defects


def test_max_bytes_is_the_cap() -> None:
    """parse_message(max_bytes=...) truncates what is over it and nothing under it."""
    raw = attached(bytes(400_000), b"application/octet-stream", b"a.bin")
    assert "MessageTruncated" in parse_message(raw, max_bytes=100_000).defects
    assert "MessageTruncated" not in parse_message(raw).defects
    data, cuts = bounded(raw, 100_000)
    assert len(data) <= raw.index(b"\r\n\r\n") + TRUNCATED_BODY_BYTES and cuts


def test_header_section_is_cut() -> None:
    """Headers past MAX_HEADER_BYTES are dropped; the ones before them are kept."""
    message = parse_message(HOSTILE["headers-100k"]())
    assert "HeaderTruncated" in message.defects
    assert message.from_addr == LEE
    assert sum(len(k) + len(v) + 4 for k, v in message.headers) <= MAX_HEADER_BYTES


@pytest.mark.parametrize(
    ("raw", "cut"),
    [
        (nested_multipart(MAX_CONTAINERS + 5), "TooDeeplyNested"),
        (nested_rfc822(MAX_CONTAINERS + 5), "TooDeeplyNested"),
        (many_parts(MAX_PARTS + 5), "TooManyParts"),
        (nested_multipart(MAX_CONTAINERS + 5).replace(b"\r\n", b"\r"), "TooDeeplyNested"),
        (many_parts(MAX_PARTS + 5).replace(b"\r\n", b"\r"), "TooManyParts"),
        (many_parts(MAX_PARTS + 5).replace(b"boundary=", b"boundary*0="), "TooManyParts"),
    ],
    ids=["multipart", "rfc822", "parts", "multipart-cr-only", "parts-cr-only", "parts-rfc2231"],
)
def test_structure_past_the_limits_is_cut(raw: bytes, cut: str) -> None:
    """Nesting past MAX_CONTAINERS and parts past MAX_PARTS are cut before parsing, whatever
    the line ends and however the boundary is written."""
    assert cut in parse_message(raw).defects


@pytest.mark.parametrize("depth", [1, 2, 30], ids=["one", "two", "thirty"])
def test_carried_messages_are_quoted_history(depth: int, rules: Rules) -> None:
    """The text of a message/rfc822 part, at any depth, is quoted history: never new text."""
    message = parse_message(nested_rfc822(depth))
    assert message.text.startswith(">" * depth + " Release 250 units")
    decision, _ = decide(message, ThreadState(key="t"), CTX, rules)
    assert decision.new_text == ""
    assert decision.stage == "none"


def test_forward_as_attachment_keeps_own_text_first(rules: Rules) -> None:
    """A forward as attachment: the sender's words are new text, the carried mail is not."""
    raw = msg(
        MIXED,
        b"--A\r\nContent-Type: text/plain\r\n\r\nSee the mail below from our engineer.\r\n"
        b"--A\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; "
        b'filename="fw.eml"\r\n\r\nFrom: dana@acme.example\r\nSubject: ok\r\n\r\n'
        + RELEASE
        + b"--A--\r\n",
    )
    decision, _ = decide(parse_message(raw), ThreadState(key="t"), CTX, rules)
    assert decision.new_text == "See the mail below from our engineer."
    assert decision.stage == "none"


def test_winmail_dat_is_an_opaque_attachment() -> None:
    """winmail.dat (application/ms-tnef) is listed as an attachment and never read as text."""
    message = parse_message(HOSTILE["winmail-dat"]())
    assert [(a.filename, a.content_type) for a in message.attachments] == [
        ("winmail.dat", "application/ms-tnef")
    ]
    assert message.text.strip() == RELEASE.decode().strip()


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        (b"Freigabe", "x-nonsense-42", "Freigabe"),
        (b"Freigabe", "utf\x008", "Freigabe"),
        (b"Freigabe", "rot13", "Freigabe"),
        ("Gehäuse".encode("latin-1"), "utf-8", "Gehäuse"),
        (b"+2D3-", "utf-7", "+2D3-"),
        (b"\x81\x8d", None, "\ufffd\ufffd"),
    ],
    ids=["unknown", "nul-in-name", "not-a-text-codec", "latin-1-as-utf-8", "lone-surrogate", "bad"],
)
def test_decode_text_never_raises(data: bytes, charset: str | None, expected: str) -> None:
    """Unknown or wrong charsets fall back to UTF-8, then Windows-1252; nothing raises."""
    assert decode_text(data, charset) == expected


def test_first_of_two_message_ids_wins() -> None:
    """Of two Message-ID headers the first is the message's id."""
    assert parse_message(HOSTILE["two-message-ids"]()).message_id == "<x@acme.example>"


def test_missing_message_id_fingerprint_is_stable_when_truncated() -> None:
    """An oversized message without a Message-ID gets the same fingerprint every time."""
    raw = HEAD + MIXED + b"\r\n--A\r\n\r\nok\r\n" + b"x" * 300_000
    first, second = parse_message(raw, max_bytes=1000), parse_message(raw, max_bytes=1000)
    assert first.message_id == second.message_id
    assert first.message_id.endswith("@quotebot.invalid>")


def test_long_lines_and_long_text_are_cut() -> None:
    """Lines are cut to MAX_LINE_CHARS and the text to MAX_TEXT_CHARS."""
    assert parse_message(HOSTILE["line-1mb"]()).text.startswith("approve release")
    assert len(parse_message(HOSTILE["quoted-5mb"]()).text) == MAX_TEXT_CHARS
    assert clip_text("a" * 30_000 + "\nb") == "a" * MAX_LINE_CHARS + "\nb"


def test_sentences_and_clauses_are_bounded(rules: Rules) -> None:
    """Sentences are cut at MAX_SENTENCE_CHARS, said once, at most MAX_SENTENCES of them;
    a sentence has at most MAX_CLAUSES clauses."""
    many = split_sentences("".join(f"Approved lot {i}.\n" for i in range(1000)))
    assert len(many) == MAX_SENTENCES
    assert split_sentences("Approved.\nApproved.\nStart now.") == ["Approved.", "Start now."]
    long = split_sentences(" ".join(f"w{i}" for i in range(2000)))
    assert all(len(s) <= MAX_SENTENCE_CHARS for s in long) and len(long) > 1
    clauses = split_clauses("approve; " * 100, rules.clause_split)
    assert len(clauses) == MAX_CLAUSES


# PDFs: small files that expand to a lot of work


def pdf(objects: list[bytes]) -> bytes:
    """A PDF of these object bodies, numbered from 1; object 1 is the catalog."""
    out, offsets = b"%PDF-1.7\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return (
        out
        + b"xref\n0 %d\n0000000000 65535 f \n%strailer\n<< /Size %d /Root 1 0 R >>\n"
        % (
            len(objects) + 1,
            xref,
            len(objects) + 1,
        )
        + b"startxref\n%d\n%%%%EOF\n" % len(out)
    )


def stream(data: bytes, extra: bytes = b"") -> bytes:
    """A FlateDecode stream object."""
    packed = zlib.compress(data, 9)
    return b"<< /Length %d /Filter /FlateDecode%s >>\nstream\n%s\nendstream" % (
        len(packed),
        extra,
        packed,
    )


def page_pdf(content: bytes, *, pages: int = 1, form: bytes | None = None) -> bytes:
    """`pages` pages showing `content`; with `form`, a form XObject /X1 the content may draw."""
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    xobject = b" /XObject << /X1 5 0 R >>" if form else b""
    kids = b" ".join(b"%d 0 R" % (6 + i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        font,
        stream(content),
        stream(
            form or b"",
            b" /Type /XObject /Subtype /Form /BBox [0 0 1 1] /Resources << /Font << /F1 3 0 R >> >>",
        ),
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >>%s >> /Contents 4 0 R >>"
    return pdf(objects + [page % xobject] * pages)


TEXT = b"BT /F1 12 Tf 72 700 Td (PO 4500123 for 250 units of rev B) Tj ET\n"


@pytest.mark.parametrize(
    "data",
    [
        page_pdf(TEXT * 1_500_000),  # 100 MB of content: over the decompression limit
        page_pdf(b"BT /F1 12 Tf [" + b"(a) " * 200_000 + b"] TJ ET"),  # over the token limit
        page_pdf(b"\x00" * 70_000_000),
    ],
    ids=["flate-bomb", "token-bomb", "zeros"],
)
def test_pdf_bombs_give_no_text(data: bytes) -> None:
    """A small PDF that expands past pypdf's lowered limits gives "" instead of the work."""
    assert pdf_text(data) == ""


def test_pdf_text_stops_at_its_deadline() -> None:
    """Extraction stops once MAX_SECONDS have passed by its clock, keeping the pages read."""
    data = page_pdf(b"/X1 Do\n" * 40, pages=4, form=TEXT)
    ticks = count()

    def clock() -> float:  # each call is 1/500 of the allowance later; a page takes 241 calls
        return next(ticks) * MAX_SECONDS / 500

    assert pdf_text(data, clock=clock).count("PO 4500123") == 2 * 40  # of 4 * 40
    assert pdf_text(page_pdf(TEXT)).strip() == "PO 4500123 for 250 units of rev B"


def test_only_the_first_pdfs_are_read(rules: Rules) -> None:
    """Of many attached PDFs, only the first few are read for a purchase order."""
    one = base64.encodebytes(page_pdf(TEXT))
    parts = b"".join(
        b'--A\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="po%d.pdf"'
        b"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s" % (i, one)
        for i in range(20)
    )
    message = check(msg(MIXED, parts + b"--A--\r\n"), rules)
    assert message is not None
    assert sum(bool(a.text) for a in message.attachments) == MAX_PDFS


# Property-based: whatever arrives, a bounded Message and a Decision, or a MessageError

PROPERTIES = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same examples on every run and in CI
    database=None,  # no .hypothesis folder in the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@cache
def shipped_rules() -> Rules:
    """The shipped rules, for the property tests (a fixture's 50 kB repr would be printed)."""
    return load_rules(Path(__file__).resolve().parent.parent / "rules")


STATES = st.sampled_from([ThreadState(key="t"), ThreadState(key="t", status="awaiting")])
CHARSETS = st.sampled_from(
    ["utf-8", "us-ascii", "iso-8859-1", "windows-1252", "utf-7", "utf-16", "iso-2022-jp",
     "iso-8859-8-i", "gb2312", "x-unknown", "rot13", "", "utf\x008", "UTF-8\"; x=\""]
)  # fmt: skip
ENCODINGS = st.sampled_from(["7bit", "8bit", "binary", "base64", "quoted-printable", "x-uue", ""])
WORDS_TEXT = st.lists(
    st.sampled_from(
        [*"abc ;,.!?>\n\t\r\x00é€", "approved", "release ", "250 ", "rev B", "PO 4500123",
         "hold", "On Tue, Lee wrote:\n", "-- \n", "=?utf-8?b?w6k=?=", "\u2028", "\ud800"]
    ),
    max_size=40,
).map("".join)  # fmt: skip
REPEATS = st.sampled_from([1, 1, 1, 1, 40, 3000])  # 3000 copies: past the line and text caps
HEADER_NAMES = st.sampled_from(
    ["From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References", "Date",
     "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "MIME-Version",
     "Auto-Submitted", "Precedence", "X-Junk", "Received"]
)  # fmt: skip


@PROPERTIES
@given(raw=st.binary(max_size=3000), state=STATES)
def test_any_bytes(raw: bytes, state: ThreadState) -> None:
    """Random bytes give a bounded Message and a Decision, or a MessageError."""
    check(raw, shipped_rules(), state)


@PROPERTIES
@given(
    headers=st.lists(st.tuples(HEADER_NAMES, WORDS_TEXT), max_size=12),
    body=st.one_of(WORDS_TEXT, st.binary(max_size=500).map(lambda b: b.decode("latin-1"))),
    newline=st.sampled_from(["\r\n", "\n", "\r"]),
    repeat=REPEATS,
    state=STATES,
)
def test_header_and_body_mixtures(
    headers: list[tuple[str, str]], body: str, newline: str, repeat: int, state: ThreadState
) -> None:
    """Any mixture of (repeated, broken) headers and body, short or huge, gives a Message or a
    MessageError."""
    head = newline.join(f"{name}: {value}" for name, value in headers)
    raw = (head + newline + newline + body * repeat).encode("utf-8", "surrogatepass")
    check(raw, shipped_rules(), state)


def _leaf(draw: st.DrawFn) -> email.message.Message:
    part = email.message.Message()
    subtype = draw(st.sampled_from(["plain", "html", "calendar"]))
    charset, cte = draw(CHARSETS), draw(ENCODINGS)
    part["Content-Type"] = f'text/{subtype}; charset="{charset}"'
    if draw(st.booleans()):
        part["Content-Disposition"] = draw(
            st.sampled_from(["attachment", 'attachment; filename="winmail.dat"', "inline"])
        )
    text = draw(WORDS_TEXT) * draw(REPEATS)
    data = text.encode("utf-8", "surrogatepass")
    if cte:
        part["Content-Transfer-Encoding"] = cte
    if cte == "base64":
        payload = base64.encodebytes(data).decode("ascii")
    elif cte == "quoted-printable":
        payload = quopri.encodestring(data).decode("ascii")
    else:
        payload = data.decode("latin-1")
    part.set_payload(payload)
    return part


@st.composite
def mime_trees(draw: st.DrawFn, depth: int = 0) -> email.message.Message:
    """A MIME tree: text leaves (odd charsets, any transfer encoding, attachments),
    multiparts and message/rfc822 parts nested up to six deep."""
    kind = draw(st.sampled_from(["leaf", "multipart", "message"]) if depth < 6 else st.just("leaf"))
    if kind == "leaf":
        return _leaf(draw)
    node = email.message.Message()
    if kind == "message":
        node["Content-Type"] = "message/rfc822"
        inner = draw(mime_trees(depth + 1))
        inner["From"] = "dana@acme.example"
        node.set_payload([inner])
        return node
    subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report", "digest"]))
    node["Content-Type"] = f'multipart/{subtype}; boundary="b{depth}x{draw(st.integers(0, 9))}"'
    node.set_payload(draw(st.lists(mime_trees(depth + 1), min_size=0, max_size=3)))
    return node


@PROPERTIES
@given(
    tree=mime_trees(),
    cut=st.one_of(st.none(), st.integers(0, 4000)),
    noise=st.binary(max_size=20),
    state=STATES,
)
def test_mime_trees(
    tree: email.message.Message, cut: int | None, noise: bytes, state: ThreadState
) -> None:
    """Random MIME trees, whole or cut short with noise after, give a Message or an error."""
    tree["From"] = f"Lee Park <{LEE}>"
    tree["Message-ID"] = "<tree@acme.example>"
    tree["MIME-Version"] = "1.0"
    raw = tree.as_string().encode("utf-8", "surrogatepass")
    if cut is not None:
        raw = raw[:cut] + noise
    check(raw, shipped_rules(), state)
