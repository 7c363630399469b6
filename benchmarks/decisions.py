"""Every decision and thread state the pure core makes, as canonical JSON lines: over the
labelled sets (each file with its folder's config; `decide` alone) and over a generated
mailbox (the bench's mail, decided in date order with thread state, as a backlog pass does,
each message parsed and analysed by the parse workers' function, bot.pipeline.prepare). Dumped
before an optimisation and compared after it: decisions must not change.

    python -m benchmarks.decisions dump var/decisions-before.jsonl
    python -m benchmarks.decisions compare var/decisions-before.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.mailgen import Generator
from benchmarks.people import CONTACTS, CUSTOMER_DOMAINS, SHOP_ADDRESS
from bot.check import check_path
from bot.config import load_config
from bot.decide import Context, decide
from bot.errors import MessageError
from bot.model import Contact, ThreadState
from bot.pipeline import prepare, start_worker
from bot.rules import Rules, load_rules
from bot.service import context_for
from bot.threads import thread_ids, thread_key

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
GENERATED = 3000  # messages of the generated mailbox


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _labelled() -> Iterator[dict[str, Any]]:
    for config_path in sorted(DATA.glob("*/quotebot.toml")):
        folder = config_path.parent
        config = load_config(config_path)
        rules = load_rules(config.bot.rules_dir)
        ctx = context_for(config)
        files = sorted([*folder.glob("*.eml"), *folder.glob("*.mbox")])
        for path in files:
            for index, item in enumerate(check_path(str(path), rules, ctx)):
                yield {
                    "where": f"{path.relative_to(DATA)}#{index}",
                    "decision": _plain(item.decision),
                    "error": item.error,
                }


def _generated(rules: Rules, count: int) -> Iterator[dict[str, Any]]:
    ctx = Context(
        own_addresses=frozenset({SHOP_ADDRESS}),
        customer_domains=CUSTOMER_DOMAINS,
        contacts={p.email: Contact(p.email, p.name, p.role) for p in CONTACTS},  # type: ignore[arg-type]
    )
    states: dict[str, ThreadState] = {}
    known: dict[str, str] = {}
    end = datetime(2026, 11, 1, tzinfo=UTC)
    start_worker(rules.source, ctx.own_addresses)
    for index, made in enumerate(Generator(end=end).messages(count)):
        parsed = prepare(made.raw, sent=False)
        assert not isinstance(parsed, MessageError)
        message, analysis = parsed
        key = thread_key(message, known)
        state = states.get(key, ThreadState(key=key))
        decision, state = decide(message, state, ctx, rules, analysis=analysis)
        states[key] = state
        for message_id in thread_ids(message):
            known.setdefault(message_id, key)
        yield {"where": f"generated#{index}", "decision": _plain(decision), "state": _plain(state)}


def rows(count: int = GENERATED) -> Iterator[str]:
    """Every decision as one canonical JSON line."""
    rules = load_rules(REPO / "rules")
    for row in (*_labelled(), *_generated(rules, count)):
        yield json.dumps(row, sort_keys=True, ensure_ascii=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("dump", "compare"))
    parser.add_argument("file", type=Path)
    parser.add_argument("--generated", type=int, default=GENERATED)
    args = parser.parse_args()
    if args.command == "dump":
        args.file.parent.mkdir(parents=True, exist_ok=True)
        with args.file.open("w", encoding="utf-8") as out:
            for line in rows(args.generated):
                out.write(line + "\n")
        return 0
    expected = args.file.read_text(encoding="utf-8").splitlines()
    got = list(rows(args.generated))
    diffs = [i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b]
    if len(expected) != len(got):
        print(f"{len(expected)} lines expected, {len(got)} made")
    for i in diffs[:5]:
        print(f"line {i}:\n  was {expected[i][:600]}\n  now {got[i][:600]}")
    print(f"{len(got)} decisions, {len(diffs)} differ")
    return 1 if diffs or len(expected) != len(got) else 0


if __name__ == "__main__":
    sys.exit(main())
