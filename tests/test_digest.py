"""The morning digest over a database the bot built itself: each section's content in the plain
text and the HTML, the HTML as mail clients need it, the email, and a picture of it.

The database: the bundled example mailbox and a few crafted threads, replayed one message per
pass with the clock a few minutes after each message's Date, as a bot polling all along would
have. Friday's digest went out at 07:30; this digest is Monday's 07:30, in New York time.

`QUOTEBOT_UPDATE_DOCS=1 pytest tests/test_digest.py -k picture` rewrites docs/digest.png and
docs/digest.html from the same database (without the `<script>` thread).
"""

from __future__ import annotations

import mailbox
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from bot.adapters.digest_queries import last_digest_at, load_digest_data
from bot.adapters.maildir import MaildirOutbox, MaildirSource
from bot.adapters.store import DigestRecord, NudgeRecord, Store
from bot.config import Config, load_config
from bot.digest import (
    AskRow,
    Digest,
    DigestData,
    MessageRow,
    RunRow,
    ThreadRow,
    build_digest,
    days,
    digest_message,
    render_digest,
    when,
)
from bot.errors import TemplateError
from bot.render import Sender
from bot.rules import Rules, load_rules
from bot.service import Bot

ROOT = Path(__file__).parent.parent
TEMPLATES = ROOT / "templates"
ZONE = ZoneInfo("America/New_York")
LAST_DIGEST = datetime(2025, 3, 14, 7, 30, tzinfo=ZONE)  # Friday
NOW = datetime(2025, 3, 17, 7, 30, tzinfo=ZONE)  # Monday
POLL_DELAY = timedelta(minutes=3)
XSS = "<script>alert(1)</script>"
LOGIN_ERROR = "imap.printshop.example: login failed: [AUTHENTICATIONFAILED] Invalid credentials"

# (sender, subject, date, body): one thread per digest section beyond what the examples hold
CRAFTED = (
    (
        "Lee Park <lee.park@acme-robotics.example>",
        "Re: Quote Q-1080 - camera brackets",
        "Fri, 14 Mar 2025 10:00:00 -0400",
        "Please release 120 units of rev D3 in black PETG, start now. PO 4512.",
    ),
    (
        "Jordan Chen <j.chen@bluefin-medical.example>",
        "Re: Quote Q-1083 - valve caps",
        "Fri, 14 Mar 2025 14:20:00 -0400",
        "PO 55230 for 10 sample parts of rev A2, ship by Friday.",
    ),
    (
        "Sam Whitaker <sam.whitaker@northwind-fixtures.example>",
        "Re: Quote Q-1090 - jig plates",
        "Fri, 14 Mar 2025 16:00:00 -0400",
        "Please hold off on printing until we confirm the colour.",
    ),
    (
        "Priya Nair <priya.nair@northwind-fixtures.example>",
        "Re: Quote Q-1088 - gauge blocks",
        "Sat, 15 Mar 2025 09:00:00 -0400",
        "Rev C is approved technically; purchasing will follow with the PO.",
    ),
    (
        "Dana Ortiz <dana.ortiz@acme-robotics.example>",
        "Re: Quote Q-1085 - hinge covers",
        "Sun, 16 Mar 2025 18:00:00 -0400",
        "Looks good, go ahead.",
    ),
)
SCRIPT_THREAD = (
    "Jordan Chen <j.chen@bluefin-medical.example>",
    f"Re: brackets {XSS}",
    "Sat, 15 Mar 2025 11:00:00 -0400",
    "Approved.",
)
BROKEN_AT = datetime(2025, 3, 15, 12, 0, tzinfo=ZONE)  # an unreadable (empty) message
LOGIN_ERROR_AT = datetime(2025, 3, 16, 3, 0, tzinfo=ZONE)


def _eml(sender: str, subject: str, date: str, body: str, number: int) -> bytes:
    return (
        f"From: {sender}\nTo: Printshop Quotes <quotes@printshop.example>\nSubject: {subject}\n"
        f"Date: {date}\nMessage-ID: <crafted-{number}@digest.test>\nMIME-Version: 1.0\n"
        f'Content-Type: text/plain; charset="utf-8"\n\n{body}\n'
    ).encode()


def _dated(raw: bytes) -> datetime:
    head = raw.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    line = next(h for h in head.splitlines() if h.lower().startswith("date:"))
    return parsedate_to_datetime(line.split(":", 1)[1].strip())


@dataclass(frozen=True)
class Shop:
    """A database built by the bot, and the config it ran with."""

    config: Config
    store: Store


def _config(folder: Path) -> Config:
    base = load_config(ROOT / "examples" / "quotebot.toml")
    return replace(
        base,
        mailbox=replace(base.mailbox, path=folder / "inbox"),
        outbox=replace(base.outbox, path=folder / "outbox"),
        database_url=f"sqlite:///{folder / 'quotebot.db'}",
    )


def _replay(config: Config, store: Store, rules: Rules, mail: list[tuple[datetime, bytes]]) -> None:
    """One pass per message, oldest first, the clock POLL_DELAY after the message's date."""
    inbox = config.mailbox.path
    for moment, raw in sorted(mail, key=lambda pair: pair[0]):
        shutil.rmtree(inbox, ignore_errors=True)
        mailbox.Maildir(inbox, create=True).add(raw)
        clock = moment.astimezone(UTC) + POLL_DELAY
        Bot(
            config,
            rules,
            source=MaildirSource(inbox),
            outbox=MaildirOutbox(config.outbox.path),
            store=store,
            clock=lambda clock=clock: clock,
        ).run_once()


def build_shop(folder: Path, *, script_thread: bool = True) -> Shop:
    """The example mailbox and the crafted threads replayed, a nudge, a login error, a broken
    message and Friday's digest."""
    config = _config(folder)
    store = Store(config.database_url)
    examples = ROOT / "examples" / "mailbox"
    mail = [
        (_dated(path.read_bytes()), path.read_bytes())
        for path in sorted((*examples.glob("cur/*"), *examples.glob("new/*")))
    ]
    crafted = [*CRAFTED, *([SCRIPT_THREAD] if script_thread else [])]
    mail += [(parsedate_to_datetime(c[2]), _eml(*c, number)) for number, c in enumerate(crafted)]
    mail.append((BROKEN_AT, b""))
    _replay(config, store, load_rules(config.bot.rules_dir), mail)
    run = store.start_run(LOGIN_ERROR_AT)
    store.finish_run(run, now=LOGIN_ERROR_AT + timedelta(seconds=30), error=LOGIN_ERROR)
    with Session(store.engine) as session:  # rows as the digest and nudge jobs write them
        session.add(DigestRecord(sent_at=LAST_DIGEST.astimezone(UTC), recipient="ops@x.example"))
        nudged = datetime(2025, 1, 13, 9, 0, tzinfo=UTC)
        session.add(
            NudgeRecord(
                thread_key="quote:Q-1047",
                number=1,
                reply_message_id="<nudge-1@printshop.example>",
                recipient="dana.ortiz@acme-robotics.example",
                status="sent",
                created_at=nudged,
                sent_at=nudged,
            )
        )
        session.commit()
    return Shop(config, store)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """The database every test here reads (built once: it takes some forty passes)."""
    return build_shop(tmp_path_factory.mktemp("shop"))


def _digest(shop: Shop, since: datetime | None = LAST_DIGEST) -> Digest:
    data = load_digest_data(shop.store, since=since, now=NOW)
    return build_digest(data, now=NOW, stale_days=3.0, zone=ZONE)


@pytest.fixture(scope="module")
def digest(shop: Shop) -> Digest:
    """Monday's digest: since Friday's."""
    return _digest(shop, last_digest_at(shop.store))


@pytest.fixture(scope="module")
def rendered(digest: Digest) -> tuple[str, str]:
    """Monday's digest as (plain text, HTML)."""
    return render_digest(digest, TEMPLATES)


class Page(HTMLParser):
    """What an HTML digest holds: its tags with attributes, its table rows' cell texts, and
    its text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[list[str]] = []
        self.text: list[str] = []
        self._cells: list[list[str]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self._cells = []
        elif tag in ("td", "th"):
            self._cells.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._cells:
            self.rows.append([" ".join("".join(c).split()) for c in self._cells])
            self._cells = []

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cells:
            self._cells[-1].append(data)

    def row(self, label: str) -> str:
        """The innermost table row whose first cell starts with `label`, as one line."""
        found = [r for r in self.rows if r and r[0].startswith(label)]
        assert found, f"no row for {label}"
        return " | ".join(found[-1])


def _section(text: str, heading: str) -> str:
    """The plain-text section under a heading, up to the next all-caps heading."""
    lines = text[text.index("\n" + heading) + 1 :].splitlines()
    body = [lines[0]]
    for line in lines[1:]:
        if line and not line.startswith(" ") and line.isupper():
            break
        body.append(line)
    return "\n".join(body)


def test_last_digest_is_fridays_and_aware(shop: Shop, tmp_path: Path) -> None:
    """last_digest_at gives the latest digest's time with its zone, and None before any."""
    assert last_digest_at(shop.store) == LAST_DIGEST
    assert last_digest_at(Store(f"sqlite:///{tmp_path / 'empty.db'}")) is None


def test_released_section_lists_releases_since_the_last_digest(
    digest: Digest, rendered: tuple[str, str]
) -> None:
    """Friday's two releases show with stage, quantity, revision, material, who and when;
    the examples' older releases do not."""
    assert [r.quote.label for r in digest.released] == ["Q-1080", "Q-1083"]
    first = digest.released[0]
    assert (first.stage, first.quantity, first.revision, first.material) == (
        "production",
        120,
        "D3",
        "black PETG",
    )
    assert first.authorised_by == "Lee Park (purchasing)"
    assert first.quote.customer == "acme-robotics.example"
    assert first.at == datetime(2025, 3, 14, 10, 0, tzinfo=ZONE)
    text, html = rendered
    section = _section(text, "RELEASED SINCE THE LAST DIGEST")
    assert "Q-1080  camera brackets - acme-robotics.example" in section
    assert "production: 120 units, rev D3, black PETG" in section
    assert "authorised by Lee Park (purchasing), PO 4512, Fri 14 Mar 10:00" in section
    assert "sample: 10 units, rev A2" in section and "Q-1042" not in section
    row = Page(html).row("Q-1080")
    for cell in (
        "production",
        "120",
        "D3",
        "black PETG",
        "Lee Park",
        "PO 4512",
        "Fri 14 Mar 10:00",
    ):
        assert cell in row


def test_every_release_without_a_last_digest_and_what_became_of_it(shop: Shop) -> None:
    """With no digest before, every thread's latest release shows, and one that a later
    message put in conflict or reopened says so."""
    released = {r.quote.label: r for r in _digest(shop, since=None).released}
    assert {"Q-1042", "Q-1051", "Q-1055", "Q-1058", "Q-1061", "Q-1063", "Q-1074"} <= set(released)
    assert released["Q-1061"].status_now == "conflict"
    assert released["Q-1063"].status_now == "reopened"
    assert released["Q-1058"].held_quantity == 125
    assert released["Q-1055"].stage == "sample"  # the later timing-less release is not one
    assert released["Q-1042"].at.year == 2025 and released["Q-1042"].at.tzinfo is ZONE


def test_awaiting_section_oldest_first_with_calls(
    digest: Digest, rendered: tuple[str, str]
) -> None:
    """Threads waiting on the buyer show their open questions, first ask, times asked
    (clarifications and reminders) and age, oldest first; past stale_days: call."""
    labels = [a.quote.label for a in digest.awaiting]
    assert labels == ["Q-1047", "Q-1066", f"brackets {XSS}", "Q-1085"]
    oldest, newest = digest.awaiting[0], digest.awaiting[-1]
    assert oldest.questions == ("quantity", "revision", "authority")
    assert oldest.times_asked == 2 and oldest.call and int(oldest.age_days) == 65
    assert oldest.asked_at == datetime(2025, 1, 10, 12, 51, tzinfo=UTC)
    assert newest.times_asked == 1 and not newest.call and newest.age_days < 1
    assert [a.call for a in digest.awaiting] == [True, True, False, False]
    text, html = rendered
    section = _section(text, "AWAITING THE BUYER")
    assert "CALL  waiting 65 days; open: quantity, revision, authority" in section
    assert "asked 2x, first Fri 10 Jan 07:51, last Mon 13 Jan 04:00" in section
    assert "waiting today; open: quantity, revision, authority" in section
    row = Page(html).row("Q-1047")
    assert "quantity, revision, authority" in row and "65 days CALL" in row
    assert "CALL" not in Page(html).row("Q-1085")


def test_attention_section_says_what_caused_each_state(
    digest: Digest, rendered: tuple[str, str]
) -> None:
    """Conflicts, holds, reopened sign-offs and technical-only approvals show, most urgent
    first, each with the sentence that set it and who wrote it."""
    states = [(x.quote.label, x.status, x.new) for x in digest.attention]
    assert states == [
        ("Q-1061", "conflict", False),
        ("Q-1090", "hold", True),
        ("Q-1063", "reopened", False),
        ("Q-1088", "technical", True),
    ]
    conflict, _, reopened, technical = digest.attention
    assert conflict.sentence.startswith("can you hold off on printing?")
    assert conflict.by == "priya.nair"  # the domain shows under the quote
    assert conflict.detail == "released by sam.whitaker, hold from priya.nair"
    assert reopened.detail == "was released: 500 of rev B4; now names rev B5"
    assert technical.sentence.startswith("Rev C is approved technically")
    text, html = rendered
    section = _section(text, "CHECKPOINTS, HOLDS, REOPENED AND CONFLICTS")
    assert "Q-1090  HOLD (new)  jig plates" in section
    assert '"Please hold off on printing until we confirm the colour."' in section
    page = Page(html)
    assert "ON HOLD" in page.row("Q-1090") and "NEW" in page.row("Q-1090")
    assert "CONFLICT" in page.row("Q-1061") and "Fit on B5" in page.row("Q-1063")
    assert "TECHNICAL ONLY" in page.row("Q-1088")


def test_health_section_reports_passes_replies_failures_and_login_errors(
    digest: Digest, rendered: tuple[str, str]
) -> None:
    """The bot's health: last good poll, what it handled and sent since Friday, the message it
    could not read and the failed login."""
    health = digest.health
    assert health.last_ok_poll == datetime(2025, 3, 16, 18, 3, tzinfo=ZONE)
    assert (health.runs, health.processed, health.sent, health.drafted) == (8, 7, 2, 0)
    assert len(health.failures) == 1 and health.connection_errors == 1
    assert health.last_error == LOGIN_ERROR and not health.failing_now and not health.ok
    text, html = rendered
    section = _section(text, "BOT HEALTH")
    assert "last successful poll: Sun 16 Mar 18:03" in section
    assert "8 passes, 7 messages processed, 2 replies sent, 0 drafted" in section
    assert "failed messages: 1" in section and health.failures[0].error in section
    assert f"latest Sun 16 Mar 03:00: {LOGIN_ERROR}" in section
    assert "BOT NEEDS A LOOK: 1 message(s) failed" in text
    page = Page(html)
    assert "AUTHENTICATIONFAILED" in page.row("Login or connection errors")
    assert "Sun 16 Mar 18:03" in page.row("Last successful poll")


def test_summary_line(digest: Digest) -> None:
    """One line for the subject: counts of each section, calls and trouble."""
    assert digest.summary == (
        "2 released, 4 awaiting (2 to call), 1 conflicting, 1 on hold, 1 reopened, "
        "1 technical only, 1 failed, 1 connection error"
    )


def test_html_is_tables_without_scripts_or_remote_content(rendered: tuple[str, str]) -> None:
    """The HTML part is laid out in tables, inline styles only, and fetches nothing."""
    page = Page(rendered[1])
    names = [tag for tag, _ in page.tags]
    assert names.count("table") >= 5 and names.count("tr") > 20
    assert not {"script", "style", "link", "img", "iframe", "object"} & set(names)
    for _, attrs in page.tags:
        assert "class" not in attrs
        assert not any(k.startswith("on") for k in attrs)
        for key in ("src", "href", "background"):
            assert not (attrs.get(key) or "").lower().startswith(("http:", "https:", "//"))


def test_buyer_text_stays_text(rendered: tuple[str, str]) -> None:
    """A subject with a <script> tag is escaped in the HTML and kept as written in the text."""
    text, html = rendered
    page = Page(html)
    assert XSS in "".join(page.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and XSS not in html
    assert f"brackets {XSS}" in text


def test_digest_message_is_plain_and_html_from_the_bot(
    digest: Digest, rendered: tuple[str, str]
) -> None:
    """The email: multipart/alternative, from the bot to the ops lead, automatic, no attachment."""
    text, html = rendered
    sender = Sender(address="quotes@printshop.example", name="Quotes desk")
    message = digest_message(
        digest, text=text, html=html, sender=sender, to=("ops@printshop.example",), now=NOW
    )
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert list(message.iter_attachments()) == []
    assert message["Subject"] == f"Quotes digest Mon 17 Mar: {digest.summary}"
    assert message["From"] == "Quotes desk <quotes@printshop.example>"
    assert message["To"] == "ops@printshop.example"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@printshop.example>")
    assert parsedate_to_datetime(message["Date"]) == NOW
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and "QUOTES DIGEST" in body.get_content()


def test_an_empty_database_says_none_everywhere(tmp_path: Path) -> None:
    """Before the first pass every section says none and the health part says so."""
    store = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    digest = build_digest(
        load_digest_data(store, since=None, now=NOW), now=NOW, stale_days=3, zone=ZONE
    )
    text, html = render_digest(digest, TEMPLATES)
    assert digest.summary == "0 released, 0 awaiting, no poll since the last digest"
    for heading in ("RELEASED", "AWAITING", "CHECKPOINTS"):
        assert _section(text, heading).splitlines()[1].strip() == "none"
    assert "no successful poll since the last digest" in text
    assert Page(html).text.count("none") >= 5


def _run(started: datetime, error: str | None = None) -> RunRow:
    return RunRow(started_at=started, finished_at=started + timedelta(seconds=5), error=error)


def _data(*, runs: tuple[RunRow, ...], since: datetime | None = None) -> DigestData:
    ok = [r for r in runs if r.error is None]
    return DigestData(
        since=since,
        threads=(),
        messages=(),
        asks=(),
        runs=runs,
        last_ok_run=ok[-1] if ok else None,
        latest_run=runs[-1] if runs else None,
    )


T0 = datetime(2025, 3, 16, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("runs", "since", "ok", "failing", "summary"),
    [
        ((_run(T0),), T0 - timedelta(days=1), True, False, "0 released, 0 awaiting"),
        (
            (_run(T0), _run(T0 + timedelta(hours=1), "connection refused")),
            None,
            False,
            True,
            "0 released, 0 awaiting, 1 connection error, bot failing",
        ),
        (
            (_run(T0, "timed out"), _run(T0 + timedelta(hours=1))),
            None,
            True,
            False,
            "0 released, 0 awaiting, 1 connection error",
        ),
        (
            (_run(T0),),
            T0 + timedelta(hours=1),
            False,
            False,
            "0 released, 0 awaiting, no poll since the last digest",
        ),
        ((), None, False, False, "0 released, 0 awaiting, no poll since the last digest"),
    ],
    ids=["polling", "failing-now", "recovered", "silent-since-last-digest", "never-ran"],
)
def test_health_ok_only_when_polling(
    runs: tuple[RunRow, ...], since: datetime | None, ok: bool, failing: bool, summary: str
) -> None:
    """The bot is fine when it polled since the last digest and its last pass worked; the
    subject line says when it is not."""
    digest = build_digest(_data(runs=runs, since=since), now=NOW, stale_days=3, zone=ZONE)
    assert (digest.health.ok, digest.health.failing_now) == (ok, failing)
    assert digest.summary == summary


@pytest.mark.parametrize(
    ("status", "summary"),
    [
        ("hold", "0 released, 0 awaiting, 1 on hold"),
        ("conflict", "0 released, 0 awaiting, 1 conflicting"),
        ("reopened", "0 released, 0 awaiting, 1 reopened"),
        ("technical", "0 released, 0 awaiting, 1 technical only"),
        ("released", "0 released, 0 awaiting"),
    ],
    ids=["hold", "conflict", "reopened", "technical", "released-long-ago"],
)
def test_a_thread_without_messages_still_shows(status: str, summary: str) -> None:
    """A thread whose messages are gone still shows under its state (and counts)."""
    data = replace(
        _data(runs=(_run(T0),)), threads=(ThreadRow("quote:Q-7", "Quote Q-7000 x", status),)
    )
    digest = build_digest(data, now=NOW, stale_days=3, zone=ZONE)
    assert digest.summary == summary


def _waiting(key: str, at: datetime, subject: str = "") -> tuple[ThreadRow, MessageRow, AskRow]:
    """An awaiting thread, the unclear approval that sent it there and the question asked."""
    subject = subject or f"Quote {key}"
    message = MessageRow(
        seq=1,
        thread_key=key,
        sender="a@acme.example",
        subject=subject,
        received_at=None,
        processed_at=at,
        action="clarify",
        stage="unclear",
        missing=("quantity", "timing"),
        sentence="Approved.",
        thread_status="awaiting",
    )
    return ThreadRow(key, subject, "awaiting"), message, AskRow(key, "clarify", "sent", at)


def test_awaiting_sorts_oldest_first_and_marks_calls_past_stale_days() -> None:
    """Whatever order the store hands threads in, the longest wait comes first, and only waits
    longer than stale_days are marked for a call."""
    rows = [
        _waiting("Q-3000", NOW - timedelta(days=1)),
        _waiting("Q-1000", NOW - timedelta(days=9)),
        _waiting("Q-2000", NOW - timedelta(days=2, hours=23)),
    ]
    data = replace(
        _data(runs=()),
        threads=tuple(r[0] for r in rows),
        messages=tuple(r[1] for r in rows),
        asks=tuple(r[2] for r in rows),
    )
    awaiting = build_digest(data, now=NOW, stale_days=3, zone=ZONE).awaiting
    assert [(a.quote.label, a.call) for a in awaiting] == [
        ("Q-1000", True),
        ("Q-2000", False),
        ("Q-3000", False),
    ]
    assert [a.questions for a in awaiting] == [("quantity", "timing")] * 3


@pytest.mark.parametrize(
    ("subject", "label", "title"),
    [
        ("RE: Quote Q-1042 - PETG gripper brackets", "Q-1042", "PETG gripper brackets"),
        ("Fwd: Re: q1042 brackets", "Q-1042", "brackets"),
        ("Re: brackets for the line", "brackets for the line", ""),
    ],
    ids=["quote-number", "bare-number", "no-number"],
)
def test_quote_label_and_title(subject: str, label: str, title: str) -> None:
    """A thread shows under its quote number, else its subject; the title is what is left."""
    thread, message, _ = _waiting("k", T0, subject)
    data = replace(_data(runs=()), threads=(thread,), messages=(message,))  # never asked: dry-run
    (item,) = build_digest(data, now=NOW, stale_days=3, zone=ZONE).awaiting
    assert (item.quote.label, item.quote.title, item.quote.customer) == (
        label,
        title,
        "acme.example",
    )
    assert item.times_asked == 0 and item.asked_at is None  # dry-run: never asked


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.4, "today"), (1.9, "1 day"), (12.0, "12 days")],
    ids=["today", "one", "many"],
)
def test_days(value: float, text: str) -> None:
    """Ages read in whole days."""
    assert days(value) == text


def test_when_shows_the_year_only_when_it_differs() -> None:
    """Local times leave out this year and name another one."""
    assert when(datetime(2025, 3, 14, 7, 5, tzinfo=ZONE), NOW) == "Fri 14 Mar 07:05"
    assert when(datetime(2024, 12, 30, 9, 0, tzinfo=ZONE), NOW) == "Mon 30 Dec 2024 09:00"
    assert when(None, NOW) == "-"


def test_missing_template_is_a_template_error(digest: Digest, tmp_path: Path) -> None:
    """A templates folder without the digest templates says which file is missing."""
    with pytest.raises(TemplateError, match="digest.txt.j2: template missing"):
        render_digest(digest, tmp_path)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DOCS_HEIGHT = 1240  # the sample digest's height, so the README picture has no empty tail


def screenshot(html: Path, png: Path, *, height: int = 1400) -> None:
    """Render an HTML file to a PNG with headless Chromium (nothing fetched, no profile kept)."""
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size=900,{height}",
                f"--screenshot={png}",
                html.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


@pytest.fixture
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The README's sample: the same database without the <script> thread."""
    shop = build_shop(tmp_path_factory.mktemp("sample"), script_thread=False)
    yield render_digest(_digest(shop, last_digest_at(shop.store)), TEMPLATES)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_html_digest_renders_to_a_picture(sample: tuple[str, str], tmp_path: Path) -> None:
    """Headless Chromium renders the sample digest to a PNG of a plausible size; with
    QUOTEBOT_UPDATE_DOCS=1 it becomes docs/digest.png (and docs/digest.html)."""
    html = tmp_path / "digest.html"
    html.write_text(sample[1], encoding="utf-8")
    png = tmp_path / "digest.png"
    screenshot(html, png)
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (900, 1400)
    assert 20_000 < len(data) < 600_000
    if os.environ.get("QUOTEBOT_UPDATE_DOCS") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        screenshot(html, ROOT / "docs" / "digest.png", height=DOCS_HEIGHT)
        shutil.copyfile(html, ROOT / "docs" / "digest.html")


@pytest.mark.parametrize(("verified", "flagged"), [(False, True), (True, False), (None, False)])
def test_a_release_from_an_unverified_sender_is_flagged(
    verified: bool | None, flagged: bool
) -> None:
    """[security]: a release the shop's server did not vouch for says so where it names who
    authorised it."""
    release = MessageRow(
        seq=1,
        thread_key="q-1200",
        sender="lee.park@acme-robotics.example",
        subject="Re: Quote Q-1200",
        received_at=None,
        processed_at=T0,
        action="record",
        stage="production",
        missing=(),
        sentence="Release 200 of rev B now.",
        thread_status="released",
        quantity=200,
        revision="B",
        authority="purchasing contact Lee Park",
        sender_verified=verified,
    )
    data = replace(
        _data(runs=(_run(T0),)),
        threads=(ThreadRow("q-1200", "Re: Quote Q-1200", "released"),),
        messages=(release,),
    )
    digest = build_digest(data, now=T0 + timedelta(hours=1), stale_days=3, zone=UTC)
    assert ("unverified sender" in digest.released[0].authorised_by) is flagged
