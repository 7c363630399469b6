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
    left: Callable[[T], int | None] = lambda _: None,
    start_after: int = START_AFTER,
    every: float = EVERY,
    stream: IO[str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[T]:
    """`items` unchanged; counts them as they are handled (the next one asked for) and, past
    `start_after`, shows the count, the rate and, where `left(item)` says how many are still
    to come, the total and the time left, on `stream` (stderr by default)."""
    out = stream or sys.stderr
    started = clock()
    count, bar, said, terminal = 0, None, started, None
    try:
        for item in items:
            yield item
            count += 1
            if count < start_after:
                continue
            still = left(item)
            total = None if still is None else count + still
            if terminal is None:
                terminal = out.isatty()
            if bar is None and terminal:
                bar = tqdm(
                    desc="backlog", unit=" msg", initial=count, total=total, file=out, leave=False
                )
            elif bar is not None:
                if total is not None and total != bar.total:
                    bar.total = total  # the next folder's count joins when it is searched
                    bar.refresh()
                bar.update(1)
            elif clock() - said >= every:
                said = clock()
                rate = _rate(count, started, said)
                if total is None:
                    log.info("backlog: %d messages handled (%.0f/s)", count, rate)
                else:
                    log.info(
                        "backlog: %d of %d messages handled (%.0f/s, about %.0f s left)",
                        count,
                        total,
                        rate,
                        (total - count) / rate if rate else 0.0,
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
