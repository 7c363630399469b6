"""Parsing ahead: messages come back in mailbox order, parsed as inline, at most a window of
them held at once, and a backlog pass holds a bounded number of messages whatever its size."""

from __future__ import annotations

import logging
import multiprocessing
import threading
import weakref
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks.mailgen import Generator
from bot.adapters.maildir import MaildirOutbox
from bot.adapters.store import Store
from bot.config import Config, load_config
from bot.decide import Context, analyse, decide
from bot.errors import MessageError
from bot.model import Cursor, Incoming, ThreadState
from bot.parse import MAX_MESSAGE_BYTES, parse_message
from bot.pipeline import (
    CHUNK,
    POOL_EXTRA,
    WINDOW,
    _Chunk,
    _feed,
    parse,
    parse_ahead,
    start_worker,
)
from bot.rules import Rules, load_rules
from bot.service import KEPT_ROWS, Bot, Row, RunReport

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"


def _items(count: int) -> list[Incoming]:
    raws = [path.read_bytes() for path in sorted(DATA.glob("labelled*/*.eml"))[:count]]
    items = [Incoming(key=f"INBOX/1/{n}", raw=raw) for n, raw in enumerate(raws, 1)]
    return [*items, Incoming(key="INBOX/1/broken", raw=b"   ")]


def test_a_process_pool_gives_what_inline_parsing_gives_in_order(rules: Rules) -> None:
    """With a real worker process, every item comes back in its place with the message (or
    the error) that parse_message gives in the pass, and past the inline start with what
    analyse() gives for it (the shop's own mail by its address)."""
    items = _items(12)
    own = frozenset({"quotes@printshop.example"})
    got = list(
        parse_ahead(
            items, workers=1, window=4, start_after=3, rules_dir=rules.source, own_addresses=own
        )
    )
    assert [item.key for item, _ in got] == [item.key for item in items]
    for index, (item, parsed) in enumerate(got[:-1]):
        assert not isinstance(parsed, MessageError)
        message, analysis = parsed
        assert message == parse_message(item.raw)
        if index < 3:
            assert analysis is None  # parsed inline: the pass analyses it itself
        else:
            assert analysis == analyse(message, rules, shop=message.from_addr in own)
    assert isinstance(got[-1][1], MessageError)
    assert isinstance(parse(b"   "), MessageError)


def test_decisions_with_an_analysis_made_ahead_are_the_same(rules: Rules) -> None:
    """decide() given analyse()'s result, or one made for the wrong side (a buyer's analysis
    for the shop's own message), decides exactly as decide() alone, thread state included."""
    ctx = Context(
        own_addresses=frozenset({"quotes@printshop.example"}), customer_domains=(), contacts={}
    )
    end = datetime(2026, 11, 1, tzinfo=UTC)
    states: dict[str, ThreadState] = {}
    shop = 0
    for made in Generator(end=end).messages(150):
        message = parse_message(made.raw)
        key = message.subject.removeprefix("Re: ")
        state = states.get(key, ThreadState(key=key))
        plain = decide(message, state, ctx, rules)
        for is_shop in (True, False):
            analysis = analyse(message, rules, shop=is_shop)
            assert decide(message, state, ctx, rules, analysis=analysis) == plain
        states[key] = plain[1]
        shop += message.from_addr in ctx.own_addresses
    assert shop > 20


@pytest.mark.parametrize(("window", "chunk"), [(1, 1), (4, 2), (16, 8), (16, 3)])
def test_at_most_a_window_of_messages_is_taken_ahead(window: int, chunk: int) -> None:
    """The source is read ahead of the message being decided, by at most `window` messages
    and the chunk being gathered."""
    taken = 0

    def source() -> Iterator[Incoming]:
        nonlocal taken
        for item in _items(40):
            taken += 1
            yield item

    most = 0
    with ThreadPoolExecutor(2) as pool:
        ahead = parse_ahead(
            source(), workers=1, window=window, chunk=chunk, start_after=2, executor=pool
        )
        for handed, _ in enumerate(ahead, 1):
            most = max(most, taken - handed)
    assert min(window, chunk) <= most <= window + chunk - 1


def test_the_pass_does_every_chunk_while_the_pool_has_not_started(
    rules: Rules, caplog: pytest.LogCaptureFixture
) -> None:
    """A pool whose worker has not answered yet (starting, or here held busy until the pass is
    over) is handed nothing: the pass parses and analyses every chunk itself, as a worker
    would, and all come back in order. It never waits on a worker that is still starting."""
    items = _items(60)  # 61 with the broken one: 2 inline, then 7 chunks of 8 and one of 3
    own = frozenset({"quotes@printshop.example"})
    release = threading.Event()
    # a thread stands in for the worker process; its set-up is this process's, undone below
    pool = ThreadPoolExecutor(1, initializer=start_worker, initargs=(rules.source, own))
    try:
        with pool, caplog.at_level(logging.INFO, logger="bot.pipeline"):
            pool.submit(release.wait, 30)  # the only worker is busy until the pass is over
            try:
                got = list(
                    parse_ahead(
                        items,
                        workers=1,
                        start_after=2,
                        executor=pool,
                        rules_dir=rules.source,
                        own_addresses=own,
                        rules=rules,
                    )
                )
            finally:
                release.set()
    finally:
        start_worker(None, frozenset())
    assert [item.key for item, _ in got] == [item.key for item in items]
    for item, parsed in got[2:-1]:
        assert not isinstance(parsed, MessageError)
        message, analysis = parsed
        assert message == parse_message(item.raw)
        assert analysis == analyse(message, rules, shop=message.from_addr in own)
    assert isinstance(got[-1][1], MessageError)
    assert "59 messages parsed ahead, 59 of them by the pass while it waited" in caplog.text


@pytest.mark.parametrize("ready", [True, False])
def test_a_started_pool_is_handed_one_chunk_a_worker_and_pool_extra(ready: bool) -> None:
    """Once its worker has answered, the pool holds 1 + POOL_EXTRA chunks, oldest first (its
    worker never waits for the pass), and the others wait for the pass; before, none."""
    chunks = 1 + POOL_EXTRA + 4
    items = _items(chunks * CHUNK)
    ahead = deque(_Chunk(items[at : at + CHUNK]) for at in range(0, chunks * CHUNK, CHUNK))
    answered: Future[bool] = Future()
    if ready:
        answered.set_result(True)
    release = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(release.wait, 30)  # nothing handed to it finishes while it is counted
        try:
            _feed(pool, ahead, 1 + POOL_EXTRA, MAX_MESSAGE_BYTES, answered)
            handed = [chunk.future is not None for chunk in ahead]
        finally:
            release.set()
    assert handed == [ready] * (1 + POOL_EXTRA) + [False] * 4


def test_a_backlog_known_from_the_first_message_starts_the_pool_at_once(rules: Rules) -> None:
    """When the first item says a backlog follows (`left`), nothing is parsed inline: the pool
    starts before the first message, and every one past the start comes back analysed."""
    base = _items(12)  # 13 with the broken one
    items = [replace(item, left=len(base) - n) for n, item in enumerate(base, 1)]
    got = list(parse_ahead(items, workers=1, start_after=3, rules_dir=rules.source))
    assert [item.key for item, _ in got] == [item.key for item in items]
    analysed = [parsed[1] for _, parsed in got if not isinstance(parsed, MessageError)]
    assert len(analysed) == 12 and None not in analysed


def test_a_worker_killed_mid_pass_with_chunks_in_the_pass_loses_nothing(rules: Rules) -> None:
    """A worker killed while chunks wait in the pass and others are in the pool: the pass goes
    on inline and every item comes back once, in order."""
    items = _items(40)
    got = []
    for item, parsed in parse_ahead(items, workers=1, start_after=2, rules_dir=rules.source):
        got.append((item, parsed))
        if len(got) == 12:
            for child in multiprocessing.active_children():
                child.kill()
    assert [item.key for item, _ in got] == [item.key for item in items]
    for item, parsed in got[:-1]:
        assert not isinstance(parsed, MessageError)
        assert parsed[0] == parse_message(item.raw)


class _CountingSource:
    """A folder of generated mail; counts the messages it handed out that are still alive."""

    def __init__(self, count: int) -> None:
        end = datetime(2026, 11, 1, tzinfo=UTC)
        self.mail = [made.raw for made in Generator(end=end).messages(count)]
        self.live = 0
        self.most_live = 0

    def _gone(self) -> None:
        self.live -= 1

    def incoming(self, cursors: Mapping[str, Cursor]) -> Iterator[Incoming]:
        for uid, raw in enumerate(self.mail, 1):
            item = Incoming(key=f"INBOX/1/{uid}", raw=raw, cursor=Cursor("INBOX", 1, uid))
            self.live += 1
            self.most_live = max(self.most_live, self.live)
            weakref.finalize(item, self._gone)
            yield item

    def fetch(self, key: str) -> bytes | None:
        return None


@pytest.fixture
def config(tmp_path: Path) -> Config:
    base = load_config(ROOT / "examples" / "quotebot.toml")
    return replace(
        base,
        outbox=replace(base.outbox, path=tmp_path / "outbox"),
        database_url=f"sqlite:///{tmp_path / 'quotebot.db'}",
    )


def test_a_backlog_pass_holds_a_bounded_number_of_messages(config: Config) -> None:
    """A pass over 400 messages with a parsing process never holds more than the window, the
    chunk being gathered and the chunk being handed out at once: the mailbox is streamed."""
    source = _CountingSource(400)
    bot = Bot(
        config,
        load_rules(config.bot.rules_dir),
        source=source,
        outbox=MaildirOutbox(config.outbox.path),
        store=Store(config.database_url),
    )
    bot.parse_workers = 1
    report = bot.run_once()
    assert len(report.rows) + report.skipped == 400
    assert source.most_live <= WINDOW + 2 * CHUNK + 1


def test_a_backlog_report_keeps_counts_and_a_bounded_number_of_rows() -> None:
    """Past KEPT_ROWS a pass counts messages without keeping their rows, except those answered
    or failed, so a backlog's report does not grow with the mailbox."""
    report = RunReport()
    for number in range(KEPT_ROWS + 500):
        report.add(Row(f"<m{number}@x>", "", "", "ignore", "none", (), ""))
    report.add(Row("<sent@x>", "", "", "clarify", "production", ("quantity",), "sent"))
    report.add(Row("<bad@x>", "", "", "ignore", "none", (), "", error="cannot parse"))
    assert (report.handled, report.sent, report.failed) == (KEPT_ROWS + 502, 1, 1)
    assert len(report.rows) == KEPT_ROWS + 2
    assert [row.message_id for row in report.rows[-2:]] == ["<sent@x>", "<bad@x>"]
