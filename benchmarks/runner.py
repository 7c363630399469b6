"""`python -m benchmarks`: one run on one mailbox, every figure of issue 7, one table and its
JSON. Dovecot and the SMTP sink are throwaway servers on loopback ports, stopped at the end.

    python -m benchmarks --messages 2000        # a quick run
    python -m benchmarks --large --profile      # 100,000 messages, and where the pass goes
    python -m benchmarks --large --only reaction  # the fill and the reaction alone
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.mailbox import REPO, Dovecot, Filled, SmtpSink, bot_config, fill
from benchmarks.mailgen import Generator
from benchmarks.measure import (
    Process,
    baseline,
    decisions,
    idle_notice,
    idle_passes,
    noop_search,
    reaction,
    run_once,
    synced_by_cursor,
)
from benchmarks.profiling import format_profile, profile_backlog
from benchmarks.report import machine, revision, table, write_json

DEFAULT_MESSAGES = 10_000
LARGE_MESSAGES = 100_000
SMALL_FOLDER, SMALL_MESSAGES = "Small", 1_000
DEFAULT_ROUNDS = 3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time quotebot against a throwaway Dovecot full of generated quote mail.",
        epilog="Example: python -m benchmarks --messages 2000",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--messages",
        type=int,
        default=DEFAULT_MESSAGES,
        metavar="N",
        help=f"messages in the folder (default {DEFAULT_MESSAGES:,}; at least {SMALL_MESSAGES:,})",
    )
    size.add_argument("--large", action="store_true", help=f"{LARGE_MESSAGES:,} messages")
    parser.add_argument(
        "--profile", action="store_true", help="also profile one backlog pass (cProfile)"
    )
    parser.add_argument(
        "--reactions",
        type=int,
        default=50,
        metavar="K",
        help="messages timed for the reaction figure (default 50; 0 skips it)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=REPO / "var" / "bench" / "latest.json",
        metavar="FILE",
        help="where the JSON goes (default var/bench/latest.json)",
    )
    parser.add_argument(
        "--only",
        choices=["reaction"],
        help="fill the folder and measure only the reaction and Dovecot's IDLE notice; the "
        "bot's database is synced by a cursor at the folder's end instead of a backlog pass",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="the service of the reaction logs at -vv (IMAP lines with times): service.err "
        "in the work folder, with --keep",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        metavar="K",
        help="rounds of fetch+parse then backlog, the ratio being the median of the rounds' "
        f"(default {DEFAULT_ROUNDS}; 1 with --large): a shared machine's speed drifts by "
        "seconds, and a ratio of two runs taken side by side, medianed, drifts far less",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, dbs)")
    args = parser.parse_args(argv)
    if args.large:
        args.messages = LARGE_MESSAGES
    if args.rounds is None:
        args.rounds = 1 if args.large else DEFAULT_ROUNDS
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.messages < SMALL_MESSAGES:
        parser.error(f"--messages must be at least {SMALL_MESSAGES:,}")
    return args


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # the bot as installed, its modules byte-compiled (pip compiles them; a checkout writes
    # them at its first run): with PYTHONDONTWRITEBYTECODE set, every start of the bot and
    # of each parse worker compiled 46 of its modules from source again (50 to 80 ms a process)
    compileall.compile_dir(REPO / "bot", quiet=1)
    work = Path(tempfile.mkdtemp(prefix="quotebot-bench-"))
    try:
        result = run(args, work)
    finally:
        if args.keep:
            say(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(table(result))
    write_json(result, args.output)
    say(f"written: {args.output}")


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    n: int = args.messages
    since = datetime.now(UTC).replace(microsecond=0)
    generator = Generator(end=since - timedelta(hours=1))
    figures: dict[str, Any] = {}
    with Dovecot() as server, SmtpSink() as sink:
        say(f"filling Dovecot with {n:,} generated messages (and {SMALL_MESSAGES:,} in Small)")
        filled = fill(server, generator.messages(n), small=SMALL_FOLDER, small_count=SMALL_MESSAGES)
        say(f"filled: {filled.bytes / 1e6:.1f} MB in {filled.seconds:.1f} s")
        imap = server.imap_settings()

        def config(name: str, *, folder: str = "INBOX", smtp: bool = False) -> Path:
            outbox = sink.settings() if smtp else work / "outbox"
            return bot_config(
                work / f"{name}.toml",
                imap=imap,
                database=work / f"{name}.db",
                since=since,
                folder=folder,
                outbox=outbox,
            )

        if args.only == "reaction":
            last = synced_by_cursor(config("backlog"))
            say(f"the database synced by a cursor at UID {last:,} (no backlog pass)")
            figures["synced_by"] = "cursor"
        else:
            figures |= _passes(args, server, config, work, n)
        if args.reactions:
            say(f"reaction: quotebot run (IDLE) and {args.reactions} new messages")
            found_reaction = reaction(
                config("backlog", smtp=True),
                server,
                sink,
                work,
                count=args.reactions,
                trace=args.trace,
            )
            say("Dovecot's IDLE notice, on an empty folder and on the N folder")
            notices = idle_notice(server, "IdleProbe")
            notices_n = idle_notice(server, "INBOX")
            figures["reaction"] = {
                **dataclasses.asdict(found_reaction),
                "dovecot_idle_notice_p50_s": statistics.median(notices) if notices else None,
                "dovecot_idle_notice_n_p50_s": statistics.median(notices_n) if notices_n else None,
            }
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "messages": n,
        "revision": revision(REPO),
        "machine": machine(),
        "mailbox": _mailbox(filled),
        "figures": figures,
    }


def _passes(
    args: argparse.Namespace,
    server: Dovecot,
    config: Callable[..., Path],
    work: Path,
    n: int,
) -> dict[str, Any]:
    """The baselines, the backlog, the idle passes and (with --profile) the profile."""
    figures: dict[str, Any] = {}
    say("baseline: fetch")
    fetch = baseline(server, "INBOX", parse=False)
    rounds: list[tuple[Any, Process]] = []
    for number in range(1, args.rounds + 1):
        of = f" (round {number} of {args.rounds})" if args.rounds > 1 else ""
        say(f"baseline: fetch + parse{of}")
        fetch_parse = baseline(server, "INBOX", parse=True)
        say(f"backlog: quotebot run --once{of}")
        name = "backlog" if number == 1 else f"backlog-{number}"  # the first is kept on
        backlog = run_once(config(name), work, name)
        say(
            f"backlog: {backlog.handled:,} handled in {backlog.seconds:.1f} s, "
            f"{backlog.seconds / fetch_parse.seconds:.2f}x fetch + parse"
        )
        rounds.append((fetch_parse, backlog))
    ratios = [b.seconds / fp.seconds for fp, b in rounds]
    # the round with the median ratio (the upper one of an even count) gives every figure
    median = sorted(range(len(rounds)), key=ratios.__getitem__)[len(rounds) // 2]
    fetch_parse, backlog = rounds[median]
    decided = decisions(work / "backlog.db")
    if any(decisions(work / f"backlog-{i}.db") != decided for i in range(2, len(rounds) + 1)):
        raise RuntimeError("the backlog rounds decided differently")
    backlog_config = config("backlog")
    cli_idle = run_once(backlog_config, work, "cli-idle")
    say("idle passes")
    idle_n, idle_small = idle_passes(
        {backlog_config: n, config("small", folder=SMALL_FOLDER): SMALL_MESSAGES}
    )
    figures |= {
        "fetch": _throughput(fetch),
        "fetch_parse": _throughput(fetch_parse),
        "backlog": {
            **{k: v for k, v in dataclasses.asdict(backlog).items() if k != "stderr"},
            "per_second": backlog.handled / backlog.seconds,
            "ratio_to_fetch_parse": backlog.seconds / fetch_parse.seconds,
            # the work behind the ratio, whatever share of the cores the machine gives: the
            # CPU of the bot's processes against that of the fetch+parse process (medians)
            "cpu_ratio_to_fetch_parse": statistics.median(
                b.cpu_seconds / fp.cpu_seconds for fp, b in rounds
            ),
            "decisions": decided,
            "outbox": "Maildir (SMTP kept out of the figure); no reply: all mail before since",
            "peak_tree_rss_mb": max(b.peak_tree_rss_mb for _, b in rounds),
            "peak_tree_pss_mb": max(b.peak_tree_pss_mb for _, b in rounds),
            "peak_rss_mb": max(b.peak_rss_mb for _, b in rounds),
        },
        "rounds": [
            {
                "fetch_parse_seconds": fp.seconds,
                "backlog_seconds": b.seconds,
                "backlog_cpu_seconds": b.cpu_seconds,
                "fetch_parse_cpu_seconds": fp.cpu_seconds,
                "ratio": b.seconds / fp.seconds,
            }
            for fp, b in rounds
        ],
        "cli_idle_seconds": cli_idle.seconds,
        "idle_pass": {
            "n": dataclasses.asdict(idle_n),
            "small": dataclasses.asdict(idle_small),
            "ratio": idle_n.median_ms / idle_small.median_ms,
            "imap_alone_ms": {
                "n": noop_search(server, "INBOX"),
                "small": noop_search(server, SMALL_FOLDER),
            },
        },
    }
    if args.profile:
        say("profiling a backlog pass (cProfile)")
        found = profile_backlog(config("profile"), args.output.with_name("backlog.prof"))
        print(format_profile(found), file=sys.stderr)
        figures["profile"] = dataclasses.asdict(found)
    return figures


def _throughput(found: Any) -> dict[str, float]:
    return {
        "messages": found.messages,
        "seconds": found.seconds,
        "cpu_seconds": found.cpu_seconds,
        "per_second": found.per_second,
    }


def _mailbox(filled: Filled) -> dict[str, Any]:
    return {
        "folders": filled.folders,
        "megabytes": filled.bytes / 1e6,
        "median_kb": filled.median_bytes / 1000,
        "big": filled.big,
        "pdf": filled.kinds.get("complete_pdf", 0),
        "kinds": dict(filled.kinds.most_common()),
        "fill_seconds": filled.seconds,
    }
