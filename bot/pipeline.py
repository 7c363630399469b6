"""Parse ahead on the other cores while the pass decides: messages go to a process pool in
mailbox order, at most `window` at a time, and come back in the same order, parsed and with
the message-only part of the decision worked out (bot.decide.analyse), so thread state is still
built one message after the other and memory holds a bounded number of messages."""

from __future__ import annotations

import gc
import itertools
import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bot.decide import Analysis, analyse
from bot.errors import MessageError
from bot.model import Incoming, Message
from bot.parse import MAX_MESSAGE_BYTES, parse_message
from bot.pdf import load_pdf_reader
from bot.rules import Rules, load_rules, warm

log = logging.getLogger(__name__)
WINDOW = 128  # messages handed to the pool and not yet decided, at most
CHUNK = 8  # messages a worker takes at once (one round trip each way)
START_AFTER = 64  # a pass this long is a backlog: only then is the pool started
# Chunks in the pool's hands beyond one a worker. The pass feeds the pool between the chunks
# it decides or parses itself (up to 15 ms apart, more when it reads the next IMAP batch in
# between); with one spare chunk a worker ran dry in between (idle 21% of a 10,000 backlog),
# with three it was idle 0.55 s of 12 s in waits over 5 ms, with seven (and a window of 128,
# so the pass still has chunks to do itself) 0.11 to 0.16 s (cpu/wall 1.75 -> 1.77).
POOL_EXTRA = 7

Parsed = tuple[Message, Analysis | None] | MessageError
_worker: tuple[Rules, frozenset[str]] | None = None  # a worker process's rules and addresses


def parse(raw: bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> Parsed:
    """One message parsed, or the error that says why it cannot be (never raises: a worker
    hands both back the same way)."""
    try:
        return parse_message(raw, max_bytes=max_bytes), None
    except MessageError as exc:
        return exc
    except Exception as exc:  # a parser bug on one message must not stop the run
        return MessageError(f"cannot parse the message: {type(exc).__name__}: {exc}")


def start_worker(rules_dir: Path | None, own_addresses: frozenset[str]) -> None:
    """Set up this process as a parse worker: the rules and the shop's addresses `prepare`
    analyses with (None: parse only)."""
    global _worker  # a worker process's state, set once by its initializer
    _worker = None if rules_dir is None else (load_rules(rules_dir), own_addresses)
    if _worker is not None:  # what the first messages would set up, before the pass waits
        warm(_worker[0])
        load_pdf_reader()
    gc.freeze()  # its imports and rules live as long as it: full collections skip them


def prepare(
    raw: bytes,
    *,
    sent: bool,
    max_bytes: int = MAX_MESSAGE_BYTES,
    setup: tuple[Rules, frozenset[str]] | None = None,
) -> Parsed:
    """One message parsed and analysed (`sent`: it is in the shop's sent folder, so it is the
    shop's own whoever it is from), with the rules and addresses of `setup`, or in a worker
    those of `start_worker`."""
    parsed = parse(raw, max_bytes)
    setup = setup or _worker
    if isinstance(parsed, MessageError) or setup is None:
        return parsed
    message, (rules, own) = parsed[0], setup
    try:
        return message, analyse(message, rules, shop=sent or message.from_addr in own)
    except Exception:  # the pass works it out again, and records the error if it is one
        return message, None


def default_workers() -> int:
    """Parsing processes beside the pass: one core fewer than the machine has (the pass keeps
    one busy), at most 4, none on one core. On 2 cores, a second worker made a 10,000-message
    backlog 37% faster (285 against 208 msg/s) for 36 MB more peak memory (203 against 167 MB
    summed RSS): memory is the target a first start over 100,000 messages would miss."""
    cores = os.cpu_count() or 1
    return max(0, min(4, cores - 1))


def prepare_many(
    batch: list[tuple[bytes, bool]],
    max_bytes: int = MAX_MESSAGE_BYTES,
    setup: tuple[Rules, frozenset[str]] | None = None,
) -> list[Parsed]:
    """`prepare` for each (raw, sent) of a chunk (in a worker: one round trip for CHUNK)."""
    return [prepare(raw, sent=sent, max_bytes=max_bytes, setup=setup) for raw, sent in batch]


@dataclass
class _Chunk:
    """Messages handed on together: to the pool (`future`), or done by the pass itself
    (`results`); neither while it waits for one of the two."""

    items: list[Incoming]
    future: Future[list[Parsed]] | None = None
    results: list[Parsed] | None = None

    @property
    def waiting(self) -> bool:
        return self.future is None and self.results is None

    def work(self) -> list[tuple[bytes, bool]]:
        return [(i.raw, i.folder_role == "sent") for i in self.items]


def parse_ahead(
    items: Iterable[Incoming],
    *,
    workers: int,
    window: int = WINDOW,
    chunk: int = CHUNK,
    start_after: int = START_AFTER,
    rules_dir: Path | None = None,
    own_addresses: frozenset[str] = frozenset(),
    executor: Executor | None = None,
    max_bytes: int = MAX_MESSAGE_BYTES,
    rules: Rules | None = None,
) -> Iterator[tuple[Incoming, Parsed]]:
    """Each item with its parsed message, in the order of `items`. The first `start_after`
    are parsed inline (a pass that finds a few new messages starts no process) unless the
    first item's `left` says a backlog follows, when the pool starts at once; past them,
    `workers` processes parse them in chunks of `chunk`, at most `window` messages ahead (and
    the chunk being gathered), and analyse them with the rules of `rules_dir`
    (`own_addresses`: the shop's). The pool is handed POOL_EXTRA chunks more than it has
    workers (a worker never waits for the pass); the others wait here, and while the pass
    waits for the pool it does them itself, so its own core parses too when the workers are
    behind (on 2 cores: one worker, and no core idle), and until a worker has started (see
    `_feed`). Nothing handed to the pool is taken back: a cancelled future breaks Python
    3.11's clean-up of a pool whose worker died. `executor` replaces the pool; `max_bytes`
    is the parser's size cap ([mailbox] max_message_bytes); `rules`: those of `rules_dir`,
    already loaded (the pass's own)."""
    source = iter(items)
    first = next(source, None)
    if first is None:
        return
    source = itertools.chain((first,), source)
    if first.left is None or first.left < start_after:  # a backlog is not known to come
        for _ in range(start_after):
            item = next(source, None)
            if item is None:
                return
            yield item, parse(item.raw, max_bytes)
    if workers <= 0 and executor is None:
        for item in source:
            yield item, parse(item.raw, max_bytes)
        return
    pool = executor or ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_worker,
        initargs=(rules_dir, own_addresses),
    )
    ready = pool.submit(started)  # answered once a worker has started: until then, none waits
    setup = None
    if rules_dir is not None:
        setup = (rules or load_rules(rules_dir), own_addresses)
    log.info("a backlog: parsing in %d more process(es), %d messages ahead", workers, window)
    limit = workers + POOL_EXTRA  # chunks in the pool's hands at most
    ahead: deque[_Chunk] = deque()
    gathered: list[Incoming] = []
    tally = _Tally()
    try:
        for item in source:
            gathered.append(item)
            if len(gathered) < chunk:
                continue
            ahead.append(_Chunk(gathered))
            gathered = []
            _feed(pool, ahead, limit, max_bytes, ready)
            while len(ahead) * chunk > window:
                yield from _done(pool, ahead, limit, max_bytes, setup, tally, ready)
        if gathered:
            ahead.append(_Chunk(gathered))
            gathered = []
        while ahead:
            yield from _done(pool, ahead, limit, max_bytes, setup, tally, ready)
    except BrokenExecutor as exc:  # a worker died (killed, out of memory): go on inline
        log.warning("the parsing processes stopped (%s); parsing in the pass", exc)
        left = list(ahead)
        ahead.clear()
        for unread in left:  # what the pass had done already is not parsed again
            done = unread.results or [parse(i.raw, max_bytes) for i in unread.items]
            yield from zip(unread.items, done, strict=True)
        for item in itertools.chain(gathered, source):
            yield item, parse(item.raw, max_bytes)
    finally:
        for unread in ahead:
            if unread.future is not None:
                unread.future.cancel()
        if executor is None:
            pool.shutdown(wait=True, cancel_futures=True)
        log.info(
            "a backlog: %d messages parsed ahead, %d of them by the pass while it waited",
            tally.ahead,
            tally.stolen,
        )


@dataclass
class _Tally:
    ahead: int = 0  # messages handed out past the inline start
    stolen: int = 0  # of them, parsed by the pass itself


def started() -> bool:
    """A worker's answer that it has started (imports, rules and their first-use work done)."""
    return True


def _feed(
    pool: Executor, ahead: deque[_Chunk], limit: int, max_bytes: int, ready: Future[bool]
) -> None:
    """Hand waiting chunks to the pool, oldest first, until `limit` are in its hands; none
    before the pool is `ready`: a starting worker would keep the pass waiting for the oldest
    chunk (0.5 s on a 2-core machine, its imports, rules and first-use work), and until it
    has started the pass does the chunks itself."""
    if not ready.done():
        return
    busy = sum(1 for c in ahead if c.future is not None and not c.future.done())
    for chunk in ahead:
        if busy >= limit:
            return
        if chunk.waiting:
            chunk.future = pool.submit(prepare_many, chunk.work(), max_bytes)
            busy += 1


def _done(
    pool: Executor,
    ahead: deque[_Chunk],
    limit: int,
    max_bytes: int,
    setup: tuple[Rules, frozenset[str]] | None,
    tally: _Tally,
    ready: Future[bool],
) -> Iterator[tuple[Incoming, Parsed]]:
    """The oldest chunk's items with their results; it leaves `ahead` once its results are
    in (a broken pool leaves it there, for the pass to parse). Until the pool has them, the
    pass does the chunks still waiting, oldest first."""
    oldest = ahead[0]
    while oldest.results is None:
        _feed(pool, ahead, limit, max_bytes, ready)
        if oldest.future is not None and oldest.future.done():
            break
        spare = next((c for c in ahead if c.waiting), None)
        if spare is None:
            break  # every chunk left is in the pool's hands: wait for the oldest
        spare.results = prepare_many(spare.work(), max_bytes, setup)
        tally.stolen += len(spare.items)
    if oldest.results is None:
        assert oldest.future is not None
        try:
            oldest.results = oldest.future.result()
        except BrokenExecutor:
            raise
        except Exception as exc:  # the results could not come back (pickling): parse here
            log.debug("%s: parsed again in the pass (%s)", oldest.items[0].key, type(exc).__name__)
            oldest.results = prepare_many(oldest.work(), max_bytes, setup)
    ahead.popleft()
    tally.ahead += len(oldest.items)
    yield from zip(oldest.items, oldest.results, strict=True)
