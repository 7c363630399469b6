"""`quotebot check`: decide .eml and mbox files without any mailbox or database."""

from __future__ import annotations

import mailbox
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.decide import Context, decide
from bot.errors import MessageError
from bot.model import Decision, Message, ThreadState
from bot.parse import parse_message
from bot.rules import Rules
from bot.threads import thread_ids, thread_key


@dataclass(frozen=True)
class Checked:
    """One message of one PATH with its decision, or the error that stopped reading it."""

    file: str
    message: Message | None
    decision: Decision | None
    error: str | None = None


def _raw_messages(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        head = handle.read(5)
    if head == b"From ":
        box = mailbox.mbox(path, create=False)
        try:
            for key in box.keys():
                yield box.get_bytes(key)
        finally:
            box.close()
    else:
        yield path.read_bytes()


def check_path(
    given: str,
    rules: Rules,
    ctx: Context,
    *,
    dkim: Callable[[bytes], tuple[str, ...]] | None = None,
) -> list[Checked]:
    """Decide every message in one file; earlier messages of an mbox are the thread context.
    `dkim`: the DKIM check of [security] verify_dkim (it looks keys up in DNS)."""
    path = Path(given)
    results: list[Checked] = []
    states: dict[str, ThreadState] = {}
    known: dict[str, str] = {}
    try:
        raws = list(_raw_messages(path))
    except OSError as exc:
        return [Checked(given, None, None, f"cannot read {given}: {exc.strerror or exc}")]
    for raw in raws:
        try:
            message = parse_message(raw)
            if dkim is not None:
                message = replace(message, dkim_pass=dkim(raw))
        except MessageError as exc:
            results.append(Checked(given, None, None, str(exc)))
            continue
        except Exception as exc:  # one unreadable message never stops the command
            results.append(Checked(given, None, None, f"cannot parse: {type(exc).__name__}: {exc}"))
            continue
        key = thread_key(message, known)
        decision, states[key] = decide(message, states.get(key, ThreadState(key=key)), ctx, rules)
        for message_id in thread_ids(message):
            known.setdefault(message_id, key)
        results.append(Checked(given, message, decision))
    return results


def as_json(item: Checked) -> dict[str, Any]:
    """The JSON object `check --json` prints for one message."""
    decision, message = item.decision, item.message
    if decision is None or message is None:
        return {
            "file": item.file,
            "message_id": None,
            "action": "ignore",
            "stage": "none",
            "missing": [],
            "quantity": None,
            "held_quantity": None,
            "revision": None,
            "material": None,
            "timing": None,
            "po_number": None,
            "finish": None,
            "trigger": None,
            "forecast_quantity": None,
            "statements": [],
            "new_text": "",
            "reason": "The message could not be read.",
            "evidence": {},
            "error": item.error,
        }
    fields = decision.fields
    return {
        "file": item.file,
        "message_id": decision.message_id,
        "action": decision.action,
        "stage": decision.stage,
        "missing": list(decision.missing),
        "quantity": fields.quantity,
        "held_quantity": fields.held_quantity,
        "revision": fields.revision,
        "material": fields.material,
        "timing": fields.timing,
        "po_number": fields.po_number,
        "finish": fields.finish,
        "trigger": fields.trigger,
        "forecast_quantity": fields.forecast_quantity,
        "statements": [
            {
                "sentence": s.sentence,
                "scope": s.scope,
                "negated": s.negated,
                "modality": s.modality,
                "bounded": s.bounded,
            }
            for s in decision.statements
        ],
        "authority": decision.authority,
        "sender_verified": decision.sender_verified,
        "verification": decision.verification,
        "thread_status": decision.thread_status,
        "from": message.from_addr,
        "subject": message.subject,
        "new_text": decision.new_text,
        "reason": decision.reason,
        "evidence": dict(fields.evidence),
    }
