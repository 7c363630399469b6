"""How far a backlog is: a progress bar when stderr is a terminal, a log line every few
seconds otherwise. A pass that finds a few new messages shows nothing."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TypeVar

from tqdm import tqdm

log = logging.getLogger(__name__)
T = TypeVar("T")
START_AFTER = 64  # as many messages as bot.pipeline parses inline: past them, a backlog
EVERY = 5.0  # seconds between log lines when stderr is not a terminal


def track(
    items: Iterable[T],
    *,
    start_after: int = START_AFTER,
    every: float = EVERY,
    stream: IO[str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[T]:
    """`items` unchanged; counts them as they are handled (the next one asked for) and, past
    `start_after`, shows the count and the rate on `stream` (stderr by default)."""
    out = stream or sys.stderr
    started = clock()
    count, bar, said, terminal = 0, None, started, None
    try:
        for item in items:
            yield item
            count += 1
            if count < start_after:
                continue
            if terminal is None:
                terminal = out.isatty()
            if bar is None and terminal:
                bar = tqdm(desc="backlog", unit=" msg", initial=count, file=out, leave=False)
            elif bar is not None:
                bar.update(1)
            elif clock() - said >= every:
                said = clock()
                log.info(
                    "backlog: %d messages handled (%.0f/s)", count, _rate(count, started, said)
                )
    finally:
        if bar is not None:
            bar.close()
        if count >= start_after:
            now = clock()
            log.info(
                "backlog: %d messages in %.1f s (%.0f/s)",
                count,
                now - started,
                _rate(count, started, now),
            )


def _rate(count: int, started: float, now: float) -> float:
    return count / (now - started) if now > started else 0.0
