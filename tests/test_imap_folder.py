"""The folders a pass reads stay selected on connections of their own between passes (against
a real Dovecot): new mail is found with NOOP and answered once, and a restarted server, a
folder deleted under the connection or trouble during IDLE open the folder again."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from servers import Dovecot, SmtpSink
from test_imap import imap_config, kept_bot, replies_to, vague

from benchmarks.measure import counting_commands
from bot.adapters.imap import ImapMailbox
from bot.adapters.imap_folder import FolderLost, check, uid_ranges, uids_after
from bot.config import Config, ImapConfig


@pytest.fixture
def config(
    tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> Config:
    """The example config, reading Dovecot's INBOX (Sent for context), replying through the
    SMTP sink."""
    return imap_config(tmp_path, dovecot, smtp_sink, monkeypatch)


def test_mail_between_passes_is_found_with_noop_and_answered_once(
    config: Config, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    """Passes of one bot open Sent and INBOX once (nothing to search while they are empty),
    then only NOOP them: mail that arrives in between is found, answered once, and the copy
    appended to Sent on the other connection unselects neither; a person reading the mail in
    between changes nothing, and the bot never sets a flag."""
    with kept_bot(config) as bot:
        with counting_commands() as first:
            assert bot.run_once().rows == []
        assert first.names.count("EXAMINE") == 2 and "UID SEARCH" not in first.names
        dovecot.deliver(vague("Re: Quote Q-1301"))
        with counting_commands() as second:
            assert [row.action for row in bot.run_once().rows] == ["clarify"]
        uid = next(iter(dovecot.flags()))
        with dovecot.connect() as person:  # reads the first message while the bot waits
            person.select_folder("INBOX")
            person.add_flags([uid], [b"\\Seen"])
        dovecot.deliver(vague("Re: Quote Q-1302"))
        before = dovecot.flags()
        with counting_commands() as third:
            rows = bot.run_once().rows
        assert [row.action for row in rows if row.action != "ignore"] == ["clarify"]
        assert bot.run_once().rows == []  # the bot's copy in Sent was read by the third pass
    for names in (second.names, third.names):
        assert "EXAMINE" not in names and names.count("NOOP") >= 2
    assert dovecot.flags() == before
    assert len(smtp_sink.received) == 2 and len(set(replies_to(smtp_sink))) == 2
    assert len(dovecot.messages("Sent")) == 2


@pytest.mark.parametrize("graceful", [False, True], ids=["killed", "graceful"])
def test_a_server_restart_between_passes_is_survived(
    config: Config, dovecot: Dovecot, smtp_sink: SmtpSink, graceful: bool
) -> None:
    """The server restarts between two passes (killed: the connections just drop; graceful:
    Dovecot says BYE first): the next pass replaces each kept connection once, answers the
    mail that came meanwhile and files its copy; nothing is answered twice."""
    with kept_bot(config) as bot:
        dovecot.deliver(vague("Re: Quote Q-1401"))
        assert len(bot.run_once().rows) == 1
        dovecot.restart(graceful=graceful)
        dovecot.deliver(vague("Re: Quote Q-1402"))
        rows = bot.run_once().rows
        assert [row.action for row in rows if row.action != "ignore"] == ["clarify"]
        assert bot.run_once().rows == []
    assert len(smtp_sink.received) == 2 and len(set(replies_to(smtp_sink))) == 2
    assert len(dovecot.messages("Sent")) == 2


def test_idle_waits_on_the_connection_that_reads_the_folder(
    config: Config, dovecot: Dovecot
) -> None:
    """Between passes, IDLE runs on the quotes folder's own connection, kept selected: no
    third login and no EXAMINE after the first (a new session makes Dovecot sync a big folder
    again before it hands over a new message); a wait ends when mail arrives, and the pass
    after it reads the message there."""
    mailbox = ImapMailbox(config.mailbox)
    try:
        with counting_commands() as log:
            assert list(mailbox.incoming({})) == []  # Sent and INBOX: both empty
            mailbox.wait(0.3)
            waiting = threading.Thread(target=mailbox.wait, args=(120,), daemon=True)
            waiting.start()
            waiting.join(0.5)  # in IDLE
            dovecot.deliver(vague())
            waiting.join(30)
            woke = not waiting.is_alive()
            found = list(mailbox.incoming({}))
            mailbox.wait(0.3)
    finally:
        mailbox.close()
    assert woke, "the wait did not end on new mail"
    assert [item.key.split("/")[0] for item in found] == ["INBOX"]
    delivery = log.names.count("APPEND")  # the test's delivery logs in on its own
    assert log.names.count("LOGIN") == 2 + delivery and log.names.count("EXAMINE") == 2
    assert log.names.count("IDLE") == 3


def test_mail_that_came_during_a_pass_ends_the_next_wait_at_once(
    config: Config, dovecot: Dovecot
) -> None:
    """A message that arrives after the pass searched the folder is not left for the next
    poll: the wait after that pass returns without entering IDLE, and the next pass reads it."""
    dovecot.deliver(vague("Re: Quote Q-1311"))
    mailbox = ImapMailbox(config.mailbox)
    try:
        first = []
        for item in mailbox.incoming({}):
            first.append(item)
            dovecot.deliver(vague("Re: Quote Q-1312"))  # the pass has searched already
        cursor = first[-1].cursor
        assert cursor is not None
        cursors = {cursor.folder: cursor}
        with counting_commands() as log:
            mailbox.wait(60)
        later = list(mailbox.incoming(cursors))
    finally:
        mailbox.close()
    assert len(first) == 1 and len(later) == 1 and later[0].key != first[0].key
    assert "IDLE" not in log.names


def test_a_stopping_service_ends_the_wait_within_seconds(config: Config, dovecot: Dovecot) -> None:
    """A wait given the service's `stopping` event ends soon after it is set (not at its
    timeout), leaving IDLE cleanly: the connection reads the next message."""
    mailbox = ImapMailbox(config.mailbox)
    stopping = threading.Event()
    try:
        assert list(mailbox.incoming({})) == []
        thread = threading.Thread(target=mailbox.wait, args=(300, stopping), daemon=True)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # in IDLE
        stopping.set()
        thread.join(10)
        assert not thread.is_alive(), "the wait did not end when the service stopped"
        dovecot.deliver(vague())
        with counting_commands() as log:
            assert len(list(mailbox.incoming({}))) == 1
    finally:
        mailbox.close()
    assert "EXAMINE" not in log.names and "LOGIN" not in log.names


def test_a_folder_deleted_under_idle_ends_the_wait(config: Config, dovecot: Dovecot) -> None:
    """Deleted and made again while the IDLE connection is on it, the folder would never
    report new mail again on that connection (Dovecot says "NO Internal error" and serves
    stale state): the wait ends with a MailboxError, and the next wait opens it anew."""
    quotes = ImapConfig(kind="imap", server=config.mailbox.server, folder="Quotes")  # type: ignore[union-attr]
    dovecot.deliver(vague(), folder="Quotes")
    mailbox = ImapMailbox(quotes)
    assert len(list(mailbox.incoming({}))) == 1  # the pass before the wait
    outcome: list[BaseException | None] = []

    def waiting() -> None:
        try:
            mailbox.wait(30)
            outcome.append(None)
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=waiting, daemon=True)
    try:
        thread.start()
        thread.join(1.0)  # IDLE is waiting
        with dovecot.connect() as client:
            client.delete_folder("Quotes")
        dovecot.deliver(vague(), folder="Quotes")
        thread.join(20)
        assert outcome and outcome[0] is not None and "Internal error" in str(outcome[0])
        mailbox.wait(0.3)  # a fresh connection: the folder opens again
    finally:
        mailbox.close()


@pytest.mark.parametrize(
    ("answers", "validity", "lost"),
    [
        ([], 7, False),
        ([(3, b"EXISTS"), (1, b"RECENT"), (2, b"EXPUNGE")], 7, False),
        ([(2, b"FETCH", (b"FLAGS", (b"\\Seen",)))], 7, False),
        ([(b"OK", b"Still here")], 7, False),
        ([(b"OK", b"[UIDVALIDITY 7] UIDs valid")], 7, False),
        ([(b"OK", b"[UIDVALIDITY 8] UIDs valid")], 7, True),
        ([(b"OK", b"[UIDVALIDITY 8] UIDs valid")], None, False),
        ([(b"NO", b"Internal error occurred. Refer to server log")], 7, True),
        ([(b"BYE", b"IMAP session state is inconsistent, please relogin.")], None, True),
        ([(b"BAD", b"")], None, True),
    ],
    ids=[
        "nothing",
        "counts",
        "flags",
        "ok",
        "same-uidvalidity",
        "new-uidvalidity",
        "uidvalidity-not-known",
        "no",
        "bye",
        "bad-without-text",
    ],
)
def test_check_says_when_the_selected_folder_is_lost(
    answers: list[Any], validity: int | None, lost: bool
) -> None:
    """Untagged NO, BAD or BYE, or another UIDVALIDITY, mean the folder must be opened
    again; counts, flag changes and plain OKs do not."""
    if lost:
        with pytest.raises(FolderLost):
            check(answers, validity)
    else:
        check(answers, validity)


def test_noop_counts_keep_an_emptied_folder_from_being_searched(
    config: Config, dovecot: Dovecot
) -> None:
    """The kept connection follows EXISTS and EXPUNGE: once a person empties the folder the
    pass sends NOOP alone, and new mail after that is searched for and found again."""
    mailbox = ImapMailbox(replace(config.mailbox, sent_folder=None))
    try:
        dovecot.deliver(vague())
        found = list(mailbox.incoming({}))
        assert len(found) == 1
        with dovecot.connect() as person:
            person.select_folder("INBOX")
            person.delete_messages(person.search(["ALL"]))
            person.expunge()
        with counting_commands() as log:
            assert list(mailbox.incoming({})) == []
        assert log.names == ["NOOP"]
        dovecot.deliver(vague("Re: Quote Q-1501"))
        assert len(list(mailbox.incoming({}))) == 1
    finally:
        mailbox.close()


@pytest.mark.parametrize(
    ("answer", "ranges"),
    [
        (b'(TAG "A7") UID ALL 1:100000', [(1, 100000)]),
        (b'(TAG "A7") UID ALL 12:40,9,1:5', [(1, 5), (9, 9), (12, 40)]),
        (b'(TAG "A7") UID ALL 7:3', [(3, 7)]),
        (b'(TAG "A7") UID', []),  # nothing matched: no ALL
        (b"UID ALL 4", [(4, 4)]),
    ],
)
def test_uid_ranges_read_an_esearch_answer(answer: bytes, ranges: list[tuple[int, int]]) -> None:
    assert uid_ranges(answer) == ranges


@pytest.mark.parametrize("esearch", [True, False], ids=["esearch", "plain-search"])
def test_uids_after_walks_the_folder_with_its_gaps(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, esearch: bool
) -> None:
    """The UIDs above a cursor, ascending, with expunged ones left out, from ESEARCH ranges or
    (a server without ESEARCH) a plain UID SEARCH; "n:*" past the last UID gives none."""
    uids = [dovecot.deliver(vague(f"Re: Quote Q-{1400 + n}")) for n in range(12)]
    gone = {uids[3], uids[4], uids[8]}
    with dovecot.connect() as client:
        client.select_folder("INBOX")
        client.delete_messages(sorted(gone))
        client.expunge()
        client.unselect_folder()
    with dovecot.connect() as client:
        assert client.has_capability("ESEARCH")  # Dovecot has it: the fallback is forced below
        if not esearch:
            real = client.has_capability
            monkeypatch.setattr(
                client, "has_capability", lambda name: name != "ESEARCH" and real(name)
            )
        client.select_folder("INBOX", readonly=True)
        with counting_commands() as sent:
            assert list(uids_after(client, 0)) == [u for u in uids if u not in gone]
            assert list(uids_after(client, uids[5])) == [u for u in uids[6:] if u not in gone]
            assert list(uids_after(client, uids[-1])) == []
            assert list(uids_after(client, uids[-1] + 50)) == []
    assert sent.names == ["UID SEARCH"] * 4
