"""The bot against a real Dovecot (IMAP in) and a real aiosmtpd (SMTP out): every new message
seen once, answered at most once, whatever people, the server or a crash do in between."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from servers import PASSWORD, Dovecot, SmtpSink, TokenStore

from bot.adapters.imap import ImapMailbox
from bot.adapters.store import Store
from bot.config import Config, ImapConfig, SmtpConfig, load_config
from bot.errors import MailboxError, OutboxError
from bot.model import Cursor, Incoming
from bot.rules import load_rules
from bot.service import Bot, RunReport
from bot.wiring import Adapters, open_adapters

ROOT = Path(__file__).parent.parent
BUYER = "lee.park@acme-robotics.example"  # purchasing in examples/quotebot.toml


def vague(subject: str = "Re: Quote Q-1042 - bracket", **headers: str) -> bytes:
    """A buyer's incomplete approval: needs a clarification."""
    message = EmailMessage()
    message["From"] = f"Lee Park <{BUYER}>"
    message["To"] = "quotes@printshop.example"
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)  # new mail: after the bot's first run
    message["Message-ID"] = make_msgid(domain="acme-robotics.example")
    for name, value in headers.items():
        del message[name.replace("_", "-")]
        message[name.replace("_", "-")] = value
    message.set_content("Looks good, go ahead.\n\nLee\n")
    return message.as_bytes()


@pytest.fixture
def config(
    tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> Config:
    """The example config, reading the Dovecot INBOX and sending through the SMTP sink."""
    return imap_config(tmp_path, dovecot, smtp_sink, monkeypatch)


def imap_config(
    tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> Config:
    """The example config for these servers (Sent read for context), its database in
    `tmp_path`."""
    monkeypatch.setenv("QUOTEBOT_TEST_PASSWORD", PASSWORD)
    base = load_config(ROOT / "examples" / "quotebot.toml")
    return replace(
        base,
        mailbox=ImapConfig(
            kind="imap", server=dovecot.imap_settings().server_config(), sent_folder="Sent"
        ),
        outbox=SmtpConfig(kind="smtp", server=smtp_sink.settings().server_config()),
        database_url=f"sqlite:///{tmp_path / 'quotebot.db'}",
    )


def run(config: Config) -> RunReport:
    """One pass with freshly opened adapters, as `quotebot run --once` makes it."""
    adapters = open_adapters(config)
    try:
        return _bot(config, adapters).run_once()
    finally:
        adapters.close()


def _bot(config: Config, adapters: Adapters) -> Bot:
    return Bot(
        config,
        load_rules(config.bot.rules_dir),
        source=adapters.source,
        outbox=adapters.outbox,
        store=Store(config.database_url),
    )


def replies_to(sink: SmtpSink) -> list[str]:
    """In-Reply-To of every message the SMTP server accepted."""
    return [
        str(message_from_bytes(r.content, policy=policy.default)["In-Reply-To"])
        for r in sink.received
    ]


def test_new_mail_is_answered_once_and_a_copy_lands_in_sent(
    config: Config, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    """One clarification over SMTP to the buyer, a copy in Sent; the next pass sends nothing."""
    dovecot.deliver(vague())
    first = run(config)
    assert [row.action for row in first.rows] == ["clarify"]
    assert len(smtp_sink.received) == 1
    assert smtp_sink.received[0].rcpt_tos == (BUYER,)
    assert len(dovecot.messages("Sent")) == 1
    second = run(config)
    assert second.rows == [] and len(smtp_sink.received) == 1


def test_mail_a_person_read_first_is_still_handled_and_flags_stay(
    config: Config, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    """\\Seen is not a work queue: read mail is answered, unread mail stays unread."""
    dovecot.deliver(vague(), flags=(b"\\Seen",))
    dovecot.deliver(vague("Re: Quote Q-1043 - cover"))
    before = dovecot.flags()
    run(config)
    assert len(smtp_sink.received) == 2
    assert dovecot.flags() == before


def test_nothing_new_fetches_nothing(config: Config, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """`UID n:*` answers with the last message again when nothing is new: the source hands
    over nothing, so nothing is parsed or counted."""
    dovecot.deliver(vague())
    run(config)
    run(config)  # reads the copy of the reply in Sent
    cursors = Store(config.database_url).cursors()
    assert len(cursors) == 2
    mailbox = ImapMailbox(config.mailbox)
    assert list(mailbox.incoming(cursors)) == []
    mailbox.close()


@contextmanager
def kept_bot(config: Config) -> Iterator[Bot]:
    """One bot whose adapters stay open from pass to pass, as `quotebot run` keeps them."""
    adapters = open_adapters(config)
    try:
        yield _bot(config, adapters)
    finally:
        adapters.close()


@pytest.mark.parametrize("kept", [False, True], ids=["new-connections", "kept-connections"])
def test_uidvalidity_change_rescans_without_answering_twice(
    config: Config, dovecot: Dovecot, smtp_sink: SmtpSink, kept: bool
) -> None:
    """The folder is deleted and made again (a new UIDVALIDITY, UIDs from 1 again) with the
    old mail and one new message: only the new one is answered. Kept: the bot's connection
    was on the folder when it was deleted (Dovecot disconnects it); the next pass opens the
    folder again and sees the change."""
    quotes = replace(config, mailbox=replace(config.mailbox, folder="Quotes"))
    old = vague()
    dovecot.deliver(old, folder="Quotes")
    with kept_bot(quotes) as bot:
        passes = bot.run_once if kept else lambda: run(quotes)
        passes()
        with dovecot.connect() as client:
            before = client.folder_status("Quotes", [b"UIDVALIDITY"])[b"UIDVALIDITY"]
            client.delete_folder("Quotes")
        dovecot.deliver(old, folder="Quotes")
        dovecot.deliver(vague("Re: Quote Q-1050 - hinge"), folder="Quotes")
        with dovecot.connect() as client:
            assert client.folder_status("Quotes", [b"UIDVALIDITY"])[b"UIDVALIDITY"] != before
        report = passes()
        assert [row.action for row in report.rows] == ["clarify"]
        assert passes().rows == []
    assert len(smtp_sink.received) == 2


def test_sent_folder_is_context_and_never_answered(
    config: Config, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    """A message in the shop's sent folder is read for thread context, never answered, even
    when it is from an address the config does not know as the shop's."""
    dovecot.deliver(vague(From="Mira <mira@printshop.example>"), folder="Sent")
    report = run(replace(config, customer_domains=()))  # no domain filter to hide behind
    assert [row.action for row in report.rows] == ["ignore"] and smtp_sink.received == []


def test_draft_mode_appends_a_draft_and_sends_nothing(
    config: Config, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    """In draft mode the reply waits in Drafts, flagged \\Draft, for a person to send."""
    dovecot.deliver(vague())
    run(replace(config, bot=replace(config.bot, mode="draft")))
    assert smtp_sink.received == []
    drafts = dovecot.flags("Drafts")
    assert len(drafts) == 1 and b"\\Draft" in next(iter(drafts.values()))


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"List_Id": "<quotes.lists.acme-robotics.example>"},
        {"X_Auto_Response_Suppress": "OOF, AutoReply"},
    ],
    ids=["auto-submitted", "precedence", "list-id", "x-auto-response-suppress"],
)
def test_never_answered_over_imap(
    config: Config, dovecot: Dovecot, smtp_sink: SmtpSink, headers: dict[str, str]
) -> None:
    """Auto-replies and list mail are recorded and never answered."""
    dovecot.deliver(vague(**headers))
    report = run(config)
    assert [row.action for row in report.rows] == ["ignore"] and smtp_sink.received == []


def test_oversized_message_is_decided_from_its_start(
    config: Config, dovecot: Dovecot, smtp_sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    """A message over max_message_bytes is fetched as header plus the start of its body, and
    the log says it was decided from part of it."""
    message = message_from_bytes(vague(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    message.add_attachment(b"\0" * 300_000, maintype="application", subtype="octet-stream")
    dovecot.deliver(message.as_bytes())
    capped = replace(config, mailbox=replace(config.mailbox, max_message_bytes=100_000))
    with caplog.at_level(logging.WARNING, logger="bot.service"):
        report = run(capped)
    assert [row.action for row in report.rows] == ["clarify"] and len(smtp_sink.received) == 1
    assert any("was cut" in r.getMessage() for r in caplog.records)


def test_a_batch_with_an_oversized_message_between_others_keeps_its_order(
    config: Config, dovecot: Dovecot
) -> None:
    """One FETCH batch of three, the middle one over max_message_bytes: the server's SEARCH
    LARGER picks it out, it alone is read from its start, and the three come in UID order."""
    big = message_from_bytes(vague("Re: Quote Q-1702"), policy=policy.default)
    assert isinstance(big, EmailMessage)
    big.add_attachment(b"\0" * 1_000_000, maintype="application", subtype="octet-stream")
    raws = [vague("Re: Quote Q-1701"), big.as_bytes(), vague("Re: Quote Q-1703")]
    uids = [dovecot.deliver(raw) for raw in raws]
    capped = replace(
        config,
        mailbox=replace(config.mailbox, max_message_bytes=100_000, batch_size=3, sent_folder=None),
    )
    adapters = open_adapters(capped)
    assert adapters.imap is not None
    try:
        got = list(adapters.imap.incoming({}))
    finally:
        adapters.close()
    assert [item.cursor.uid for item in got if item.cursor] == uids
    assert [item.truncated for item in got] == [False, True, False]
    assert all(b"Q-170%d" % n in item.raw for n, item in enumerate(got, 1))
    assert len(got[1].raw) < 300_000 < len(raws[1])  # its header and 256 KB of its body


class _DropAfterFirst:
    """A source whose server dies after handing over the first message."""

    def __init__(self, inner: ImapMailbox, server: Dovecot) -> None:
        self.inner, self.server = inner, server

    def incoming(self, cursors: Mapping[str, Cursor]) -> Iterator[Incoming]:
        for index, item in enumerate(self.inner.incoming(cursors)):
            yield item
            if index == 0:
                self.server.stop()


def test_connection_lost_mid_fetch_loses_and_doubles_nothing(
    config: Config, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    """The server dies after the first of three messages (batches of one): the pass stops
    with a MailboxError; after the restart the other two are answered, the first not again."""
    for quote in ("Q-1101", "Q-1102", "Q-1103"):
        dovecot.deliver(vague(f"Re: Quote {quote}"))
    small = replace(config, mailbox=replace(config.mailbox, batch_size=1, sent_folder=None))
    adapters = open_adapters(small)
    assert adapters.imap is not None
    bot = _bot(small, adapters)
    bot.source = _DropAfterFirst(adapters.imap, dovecot)
    with pytest.raises(MailboxError):
        bot.run_once()
    adapters.close()
    dovecot.start()
    report = run(small)
    assert len(report.rows) == 2
    assert sorted(replies_to(smtp_sink)) == sorted(set(replies_to(smtp_sink)))
    assert len(smtp_sink.received) == 3


def test_a_uid_the_server_leaves_out_waits_with_the_rest_of_its_folder(
    config: Config, dovecot: Dovecot, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five messages in batches of two; the server leaves the third out of its FETCH answer
    once (expunged by another client, or only a flag change under its number, say). The pass handles the first two and
    stops the folder there: the third and the two after it (one in its batch, one in the next)
    are answered by the next pass, none lost behind the cursor and none twice."""
    uids = [dovecot.deliver(vague(f"Re: Quote Q-{1500 + n}")) for n in range(5)]
    small = replace(config, mailbox=replace(config.mailbox, batch_size=2, sent_folder=None))
    real = IMAPClient.fetch
    dropped: list[int] = []

    def fetch(self: IMAPClient, messages: Any, data: Any, modifiers: Any = None) -> Any:
        answer = real(self, messages, data, modifiers)
        if data == ["BODY.PEEK[]"] and uids[2] in answer and not dropped:
            dropped.append(uids[2])
            del answer[uids[2]]
        return answer

    monkeypatch.setattr(IMAPClient, "fetch", fetch)
    first = run(small)
    assert dropped == [uids[2]] and len(first.rows) == 2
    second = run(small)
    assert len(second.rows) == 3
    assert len(smtp_sink.received) == 5 and len(set(replies_to(smtp_sink))) == 5


def test_crash_between_stored_and_sent_sends_once_later(
    config: Config, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    """The SMTP server refuses for now (451): the reply stays stored as pending and goes out on
    the next pass, once."""
    dovecot.deliver(vague())
    smtp_sink.fail_next(451)
    with pytest.raises(OutboxError, match="temporary"):
        run(config)
    assert smtp_sink.received == []
    run(config)
    run(config)
    assert len(smtp_sink.received) == 1


def test_crash_between_sent_and_marked_is_found_in_sent(
    config: Config, dovecot: Dovecot, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a provider that files sent mail itself (Gmail, Microsoft 365; here the SMTP server
    files each message in Dovecot's Sent), a crash after the reply went out but before it was
    marked sent is recovered: the next pass finds it by Message-ID and sends nothing."""
    smtp_sink.on_accept = lambda raw: dovecot.deliver(raw, folder="Sent")
    filed = replace(config, mailbox=replace(config.mailbox, save_sent=False))
    dovecot.deliver(vague())

    def crash(*args: object, **kwargs: object) -> None:
        raise SystemExit("killed")

    with monkeypatch.context() as patched:
        patched.setattr(Store, "mark_reply", crash)
        with pytest.raises(SystemExit):
            run(filed)
    assert len(smtp_sink.received) == 1
    run(filed)
    assert len(smtp_sink.received) == 1
    assert Store(config.database_url).pending_replies() == []


def test_crash_after_marked_loses_only_the_copy(
    config: Config, dovecot: Dovecot, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot files its own copy only after the reply is recorded as sent: a crash in between
    costs the copy in Sent, never a second reply."""
    dovecot.deliver(vague())

    def crash(*args: object, **kwargs: object) -> None:
        raise SystemExit("killed")

    with monkeypatch.context() as patched:
        patched.setattr(ImapMailbox, "append", crash)
        with pytest.raises(SystemExit):
            run(config)
    run(config)
    assert len(smtp_sink.received) == 1


def test_refused_for_good_is_recorded_and_the_pass_goes_on(
    config: Config, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    """A 550 for one reply marks it failed (the digest shows it) and the next message is
    still answered; it is not retried."""
    dovecot.deliver(vague("Re: Quote Q-1201"))
    dovecot.deliver(vague("Re: Quote Q-1202"))
    smtp_sink.fail_next(550)
    report = run(config)
    assert len(report.rows) == 2 and len(smtp_sink.received) == 1
    run(config)
    assert len(smtp_sink.received) == 1
    assert Store(config.database_url).pending_replies() == []


def test_idle_wakes_the_bot_when_mail_arrives(config: Config, dovecot: Dovecot) -> None:
    """wait() returns when a message arrives, long before its timeout."""
    mailbox = ImapMailbox(config.mailbox)
    assert list(mailbox.incoming({})) == []  # the pass before the wait
    woke = threading.Event()

    def waiting() -> None:
        mailbox.wait(120)
        woke.set()

    thread = threading.Thread(target=waiting, daemon=True)
    thread.start()
    assert not woke.wait(1.0)  # IDLE is waiting
    dovecot.deliver(vague())
    assert woke.wait(30), "IDLE did not wake on new mail"
    thread.join(5)
    mailbox.close()


# imapclient leaves the socket of a failed TLS handshake to the garbage collector
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_tls_verifies_the_server_certificate(
    config: Config, dovecot_tls: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Implicit TLS works with the CA the config names, and is refused without it."""
    trusted = ImapConfig(kind="imap", server=dovecot_tls.imap_settings().server_config())
    dovecot_tls.deliver(vague())
    assert len(list(ImapMailbox(trusted).incoming({}))) == 1
    untrusted = replace(trusted, server=replace(trusted.server, ca_file=None))
    with pytest.raises(MailboxError, match="certificate"):
        list(ImapMailbox(untrusted).incoming({}))


def test_oauth2_token_command_is_run_again_when_refused(
    tmp_path: Path, dovecot_oauth2: Dovecot, oauth2_tokens: TokenStore
) -> None:
    """XOAUTH2 with the token a command prints; a refused (expired) token makes the bot run
    the command once more, as mbsync and msmtp users expect."""
    oauth2_tokens.grant("fresh-token")
    queue = tmp_path / "tokens"
    queue.write_text("expired-token\nfresh-token\n")
    command = f"head -n1 {queue} && sed -i 1d {queue}"
    server = dovecot_oauth2.imap_settings().server_config(auth="oauth2", token_command=command)
    mailbox = ImapMailbox(ImapConfig(kind="imap", server=server))
    dovecot_oauth2.deliver(vague())
    assert len(list(mailbox.incoming({}))) == 1
    mailbox.close()


def test_wrong_password_is_one_clear_error(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused login says which setting to check."""
    monkeypatch.setenv("QUOTEBOT_TEST_PASSWORD", "wrong")
    with pytest.raises(MailboxError, match="login refused.*QUOTEBOT_TEST_PASSWORD"):
        run(config)


def test_unknown_host_is_one_clear_error_and_nothing_is_recorded(config: Config) -> None:
    """A host DNS cannot resolve says which setting to check; the pass records only its error."""
    server = replace(config.mailbox.server, host="imap.nonexistent.invalid")  # type: ignore[union-attr]
    lost = replace(config, mailbox=replace(config.mailbox, server=server))
    with pytest.raises(
        MailboxError, match="imap.nonexistent.invalid:.*cannot connect.*mailbox.host"
    ):
        run(lost)
    assert Store(config.database_url).cursors() == {}


def test_451_then_550_retries_then_records_the_refusal(
    config: Config, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    """A 451 keeps the reply pending for the next pass; when that pass gets a 550, the reply
    is recorded as refused (with the server's answer) and never tried again."""
    dovecot.deliver(vague())
    smtp_sink.fail_next(451)
    with pytest.raises(OutboxError, match="temporary"):
        run(config)
    assert len(Store(config.database_url).pending_replies()) == 1
    smtp_sink.fail_next(550)
    run(config)
    run(config)
    assert smtp_sink.received == []
    store = Store(config.database_url)
    assert store.pending_replies() == []
    with sqlite3.connect(config.database_url.removeprefix("sqlite:///")) as db:
        status, reason = db.execute("SELECT status, reason FROM replyrecord").fetchone()
    assert status == "failed" and "550" in reason
