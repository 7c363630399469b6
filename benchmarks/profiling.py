"""Where a backlog pass spends its time: cProfile over `Bot.run_once()` on a fresh database,
summed by component (library or bot module) and listed by function."""

from __future__ import annotations

import cProfile
import pstats
import re
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.measure import in_process_bot

_SITE = re.compile(r"site-packages/([^/]+)/")
_STDLIB = re.compile(r"/python3\.\d+/([^/]+?)(?:\.py|/)")
_BUILTIN_OWNERS = (
    ("sqlite3", "sqlite3 (C)"),
    ("socket", "socket I/O (waiting on Dovecot)"),
    ("ssl", "socket I/O (waiting on Dovecot)"),
    ("select", "socket I/O (waiting on Dovecot)"),
    ("_sre", "re (C)"),
    ("re.Pattern", "re (C)"),
    ("zlib", "zlib (C)"),
    ("binascii", "binascii (C)"),
)


@dataclass(frozen=True)
class Entry:
    """One function or component: time in it alone (self) and with what it calls (total)."""

    name: str
    self_s: float
    total_s: float
    calls: int


@dataclass(frozen=True)
class Profile:
    messages: int
    seconds: float  # the profiled pass, profiler overhead included
    components: tuple[Entry, ...]  # by self time
    bot_functions: tuple[Entry, ...]  # bot's own functions by total time
    functions: tuple[Entry, ...]  # every function by self time


def profile_backlog(config_path: Path, output: Path, *, top: int = 15) -> Profile:
    """Profile one backlog pass; writes the raw profile to `output` (.prof, for snakeviz or
    pstats) and a text report next to it (.txt)."""
    profiler = cProfile.Profile()
    with in_process_bot(config_path) as bot:
        started = time.perf_counter()
        profiler.enable()
        report = bot.run_once()
        profiler.disable()
        seconds = time.perf_counter() - started
    output.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(output)
    stats = pstats.Stats(profiler)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    raw = stats.stats  # type: ignore[attr-defined]
    entries = [
        Entry(_label(path, line, name), tt, ct, nc)
        for (path, line, name), (_, nc, tt, ct, _) in raw.items()
    ]
    components: dict[str, float] = {}
    for (path, _, name), (_, _, tt, _, _) in raw.items():
        key = _component(path, name)
        components[key] = components.get(key, 0.0) + tt
    found = Profile(
        messages=report.handled + report.skipped,  # rows are bounded (KEPT_ROWS)
        seconds=seconds,
        components=tuple(
            Entry(k, v, v, 0) for k, v in sorted(components.items(), key=lambda kv: -kv[1])[:top]
        ),
        bot_functions=tuple(
            sorted((e for e in entries if e.name.startswith("bot/")), key=lambda e: -e.total_s)[
                :top
            ]
        ),
        functions=tuple(sorted(entries, key=lambda e: -e.self_s)[:top]),
    )
    output.with_suffix(".txt").write_text(format_profile(found), encoding="utf-8")
    return found


def _component(path: str, name: str) -> str:
    if path == "~":
        for needle, owner in _BUILTIN_OWNERS:
            if needle in name:
                return owner
        return "builtins"
    if "/bot/" in path:
        return "bot/" + path.rsplit("/bot/", 1)[1]
    if found := _SITE.search(path):
        return found.group(1)
    if found := _STDLIB.search(path):
        return f"stdlib {found.group(1)}"
    return path


def _label(path: str, line: int, name: str) -> str:
    if path == "~":
        return name
    if "/bot/" in path:
        return f"bot/{path.rsplit('/bot/', 1)[1]}:{line} {name}"
    if found := _SITE.search(path):
        return f"{found.group(1)}/{path.rsplit(found.group(0), 1)[1]}:{line} {name}"
    return f"{path.rsplit('/', 1)[-1]}:{line} {name}"


def format_profile(profile: Profile) -> str:
    """The report as text: three tables of seconds and shares of the pass."""
    lines = [
        f"backlog pass under cProfile: {profile.messages} messages in {profile.seconds:.1f} s "
        "(profiler overhead included)",
    ]
    for title, entries, attr in (
        ("by component, self time", profile.components, "self_s"),
        ("bot functions, total time (with what they call)", profile.bot_functions, "total_s"),
        ("functions, self time", profile.functions, "self_s"),
    ):
        lines += ["", title]
        for entry in entries:
            value = float(getattr(entry, attr))
            share = value / profile.seconds * 100 if profile.seconds else 0.0
            lines.append(f"  {value:8.2f} s {share:5.1f}%  {entry.name}")
    return "\n".join(lines) + "\n"
