"""The backlog's progress: a bar on a terminal, a log line every few seconds otherwise, and
nothing for a pass that finds a few messages."""

from __future__ import annotations

import io
import logging

import pytest

from bot.progress import track


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Clock:
    """A clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_items_pass_through_unchanged() -> None:
    """Whatever it shows, track hands on every item in order."""
    assert list(track(range(500), stream=io.StringIO())) == list(range(500))


def test_a_terminal_gets_a_bar_past_the_start() -> None:
    """On a terminal, a backlog draws a bar with the count; a short pass draws nothing."""
    short, long = _Terminal(), _Terminal()
    list(track(range(10), start_after=64, stream=short))
    list(track(range(300), start_after=64, stream=long))
    assert short.getvalue() == ""
    assert "backlog: 64 msg" in long.getvalue()  # tqdm redraws at most every 0.1 s


def test_a_log_line_every_few_seconds_otherwise(caplog: pytest.LogCaptureFixture) -> None:
    """Without a terminal, a line every `every` seconds and one at the end, no bar."""
    stream = io.StringIO()
    with caplog.at_level(logging.INFO, logger="bot.progress"):
        list(track(range(100), start_after=10, every=30.0, stream=stream, clock=_Clock()))
    lines = [r.getMessage() for r in caplog.records]
    assert stream.getvalue() == ""
    assert 2 <= len(lines) <= 6  # ~90 s of the fake clock past the start: a line per 30 s
    assert lines[-1].startswith("backlog: 100 messages in")


def test_a_short_pass_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A pass below the start says nothing at all (the idle and reaction passes)."""
    with caplog.at_level(logging.INFO, logger="bot.progress"):
        list(track(range(20), start_after=64, stream=io.StringIO(), clock=_Clock()))
    assert caplog.records == []


def test_the_bar_and_the_lines_know_the_total_when_the_source_says_it() -> None:
    """Items that say how many are still to come (IMAP counts them with ESEARCH) give the bar
    a total and the log lines the total and the time left; a second folder's count joins."""
    first = [(n, 99 - n) for n in range(100)]  # a folder of 100, then one of 50
    second = [(n, 49 - n) for n in range(50)]
    terminal = _Terminal()
    list(track(first + second, left=lambda pair: pair[1], start_after=10, stream=terminal))
    assert "/100" in terminal.getvalue() and "/150" in terminal.getvalue()


def test_log_lines_say_the_total_and_the_time_left(caplog: pytest.LogCaptureFixture) -> None:
    items = [(n, 99 - n) for n in range(100)]
    with caplog.at_level(logging.INFO, logger="bot.progress"):
        list(
            track(
                items,
                left=lambda pair: pair[1],
                start_after=10,
                every=30.0,
                stream=io.StringIO(),
                clock=_Clock(),
            )
        )
    lines = [r.getMessage() for r in caplog.records]
    assert any(" of 100 messages handled" in line and "s left)" in line for line in lines)
