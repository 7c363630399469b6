"""One message in, one decision out: never-answer list, extraction, authority, thread rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache

from bot.extract import extract, revisions_in
from bot.guard import never_answer_reason
from bot.model import (
    FIELDS,
    Action,
    Contact,
    Decision,
    Extraction,
    Field,
    Fields,
    Message,
    ThreadState,
)
from bot.rules import Rules
from bot.sentences import MEMO_CHARS, MEMO_ITEMS, split_sentences
from bot.trust import verify_sender
from bot.zones import line_labels, normalize, split_zones

RELEASES = ("sample", "partial", "production")


@dataclass(frozen=True)
class Context:
    """What the pure core knows about the shop: its addresses, customers and contacts.
    `authserv_ids`: the shop's receiving servers ([security] authserv_id); when set, or with
    `verify_dkim`, a contact's authority counts only for mail vouched for (bot.trust)."""

    own_addresses: frozenset[str]
    customer_domains: tuple[str, ...]
    contacts: Mapping[str, Contact]
    authserv_ids: frozenset[str] = frozenset()
    verify_dkim: bool = False  # [security] verify_dkim: the edge fills Message.dkim_pass


@dataclass(frozen=True)
class _Trust:
    verified: bool | None  # None: nothing configured, nothing checked
    why: str = ""


def _trust(message: Message, ctx: Context) -> _Trust:
    if not ctx.authserv_ids and not ctx.verify_dkim:
        return _Trust(None)
    if ctx.verify_dkim and message.dkim_pass is None:  # `quotebot check` looks up no keys
        message = replace(message, dkim_pass=())
    verdict = verify_sender(message, ctx.authserv_ids)
    return _Trust(verdict.verified, verdict.why)


def _contact_authority(message: Message, ctx: Context, rules: Rules, trust: _Trust) -> str | None:
    """The directory's authority for the sender, when the sender is not an unverified one."""
    contact = ctx.contacts.get(message.from_addr)
    if contact and contact.role in rules.authority_roles and trust.verified is not False:
        return f"{contact.role} contact {contact.name or contact.email}"
    return None


def _authority(
    message: Message, fields: Fields, ctx: Context, rules: Rules, trust: _Trust
) -> str | None:
    contact = _contact_authority(message, ctx, rules, trust)
    if contact:
        return contact
    # a PO in the message still counts (release-rules.md), but says whose word it rests on
    unverified = " (unverified sender)" if trust.verified is False else ""
    if fields.po_number:
        return f"PO {fields.po_number}{unverified}"
    if fields.po_attached:
        return f"purchase order attached{unverified}"
    return None


def _missing(present: Mapping[Field, bool]) -> tuple[Field, ...]:
    return tuple(name for name in FIELDS if not present[name])


def same_revision(a: str, b: str) -> bool:
    """Whether two revision names mean one revision ("4" and "fixture_plate_rev4.step")."""
    if a.upper() == b.upper():
        return True
    for name, code in ((a, b), (b, a)):
        if "." in name and "." not in code:
            tag = re.escape(code)
            if re.search(rf"(?:rev|v|[_-])\s*{tag}(?=[._-]|$)", name.rsplit(".", 1)[0] + ".", re.I):
                return True
    return False


def own_sentences(text: str, sentences: list[str] | None = None) -> frozenset[str]:
    """Sentences and lines of a message the bot or the shop sent, for quote recognition
    (`sentences`: split_sentences(text), when the caller has them already)."""
    items = [*(split_sentences(text) if sentences is None else sentences), *text.splitlines()]
    said = (_normalized(i) if len(i) <= MEMO_CHARS else normalize(i) for i in dict.fromkeys(items))
    return frozenset(n for n in said if len(n) >= 12)


_normalized = lru_cache(maxsize=MEMO_ITEMS)(normalize)  # the same quoted lines (bot.sentences)


@dataclass(frozen=True)
class Analysis:
    """What `decide` works out from a message alone, whatever its thread: its lines' zones
    and, for the shop's own mail, its sentences and revision names. A backlog has it worked
    out ahead, in another process (bot.pipeline)."""

    labels: tuple[str, ...]  # others' mail only: the shop's own is not zoned
    shop: bool  # worked out as the shop's own mail: the two below are filled in
    own_sentences: frozenset[str] = frozenset()
    revisions: frozenset[str] = frozenset()  # upper-cased


def analyse(message: Message, rules: Rules, *, shop: bool) -> Analysis:
    """The message-only part of `decide` (`shop`: the message is the shop's own)."""
    if not shop:
        return Analysis(line_labels(message.text, rules, sender_name=message.from_name), False)
    sentences = split_sentences(message.text)
    names = frozenset(r.upper() for r in revisions_in(message.text, rules, sentences=sentences))
    said = own_sentences(message.text, sentences)
    return Analysis((), shop=True, own_sentences=said, revisions=names)


def _after(
    state: ThreadState, decision: Decision, sender: str, analysis: Analysis | None
) -> ThreadState:
    """The thread state once this message is taken into account (`analysis`: the shop's own
    message; None: a buyer's)."""
    if analysis is not None:
        return replace(
            state,
            bot_sentences=state.bot_sentences | analysis.own_sentences,
            quoted_revisions=state.quoted_revisions | analysis.revisions,
        )
    fields, stage = decision.fields, decision.stage
    carry = state.carry_revision
    approved = any(s.scope != "hold" and not s.negated for s in decision.statements)
    if approved and len(set(fields.revisions)) == 1:
        carry = fields.revisions[0]
    elif carry and any(not same_revision(r, carry) for r in fields.revisions):
        carry = None
    new = replace(state, carry_revision=carry, status=decision.thread_status)
    if decision.thread_status == "released":
        new = replace(
            new,
            released_revision=fields.revision,
            released_quantity=fields.quantity,
            release_by=sender,
            hold_by=None,
        )
    elif stage == "hold":
        new = replace(new, hold_by=sender)
    return new


def _thread_status(state: ThreadState, decision: Decision, complete: bool, sender: str) -> str:
    stage = decision.stage
    if stage in RELEASES and complete:
        return "released"
    if stage == "hold":
        if state.status == "released" and state.release_by and state.release_by != sender:
            return "conflict"
        return "hold"
    if state.status in ("hold", "conflict"):
        return state.status
    if decision.about == "reopened":
        return "reopened"
    if stage == "technical" and state.status != "released":
        return "technical"
    if decision.action == "clarify":
        return "awaiting" if state.status != "released" else "released"
    return state.status


def decide(
    message: Message,
    state: ThreadState,
    ctx: Context,
    rules: Rules,
    *,
    analysis: Analysis | None = None,
) -> tuple[Decision, ThreadState]:
    """Decide one message in the light of its thread; return the decision and the new state.
    `analysis`: `analyse(message, rules, ...)` worked out ahead; the decision is the same."""
    sender_is_shop = message.from_addr in ctx.own_addresses
    if analysis is None or analysis.shop != sender_is_shop:
        analysis = analyse(message, rules, shop=sender_is_shop)
    trust = _trust(message, ctx)
    reason = never_answer_reason(
        message, rules, own_addresses=ctx.own_addresses, customer_domains=ctx.customer_domains
    )
    if sender_is_shop:
        # The shop's own mail is context for the thread (its sentences, which buyers quote
        # back, and the revisions it names), never a statement: it is not zoned.
        decision = Decision(
            message.message_id,
            "ignore",
            "none",
            (),
            Fields(),
            f"Never answered: {reason or 'sent by the shop'}.",
            "",
            thread_status=state.status,
            sender_verified=trust.verified,
            verification=trust.why,
        )
        return decision, _after(state, decision, message.from_addr, analysis)
    zones = split_zones(
        message.text,
        rules,
        own_sentences=state.bot_sentences,
        sender_name=message.from_name,
        labels=analysis.labels,
    )
    if reason:
        # Never answered and never a release, but what it states is kept for the record and
        # the digest (a release sent from a private address is worth a phone call).
        fields = extract(zones.new_text, rules, attachments=message.attachments).fields
        decision = Decision(
            message.message_id,
            "ignore",
            "none",
            (),
            fields,
            f"Never answered: {reason}.",
            zones.new_text,
            thread_status=state.status,
            sender_verified=trust.verified,
            verification=trust.why,
        )
        return decision, state  # it changes nothing in the thread
    extraction = extract(
        zones.new_text,
        rules,
        attachments=message.attachments,
        # revisions the shop named in the thread or in the history this message quotes: they
        # make a bare code in the new text ("the F5 bracket is approved") a revision
        known_revisions=state.quoted_revisions,
        quoted=zones.quoted,
        answering=state.status == "awaiting",  # the bot asked: read the reply as answers
    )
    decision = _apply_rules(message, extraction, zones.new_text, state, ctx, rules, trust)
    return decision, _after(state, decision, message.from_addr, None)


def _apply_rules(
    message: Message,
    ex: Extraction,
    new_text: str,
    state: ThreadState,
    ctx: Context,
    rules: Rules,
    trust: _Trust,
) -> Decision:
    fields, stage = ex.fields, ex.stage
    authority = _authority(message, fields, ctx, rules, trust)
    if state.status == "conflict" and not _contact_authority(message, ctx, rules, trust):
        authority = None  # conflicting instructions need a release from a contact with authority
    stated: dict[Field, bool] = {
        "quantity": fields.quantity is not None,
        "revision": fields.revision is not None,
        "timing": fields.timing is not None,
        "authority": authority is not None,
    }
    releasing = stage in RELEASES or stage == "unclear"
    reopened = bool(
        state.status == "released"
        and state.released_revision
        and stage != "hold"
        and fields.revisions
        and any(not same_revision(r, state.released_revision) for r in fields.revisions)
        and not (stage in RELEASES and all(stated.values()))
    )
    present = dict(stated)
    if releasing and not stated["revision"] and state.carry_revision and not reopened:
        present["revision"] = True
        fields = replace(
            fields,
            revision=state.carry_revision,
            evidence=(
                *fields.evidence,
                ("revision", f"(carried from earlier in the thread: {state.carry_revision})"),
            ),
        )
    base = Decision(
        message.message_id,
        "ignore",
        stage,
        (),
        fields,
        ex.reason,
        new_text,
        authority=authority,
        statements=ex.statements,
        sender_verified=trust.verified,
        verification=trust.why,
    )
    if reopened:
        decision = replace(
            base,
            action="clarify",
            missing=_missing(stated),
            about="reopened",
            reason=f"names revision {fields.revisions[0]} after a release of "
            f"{state.released_revision}: the sign-off is reopened",
        )
    elif stage == "none":
        decision = base
    elif stage == "hold":
        decision = replace(base, action="record")
    elif stage == "technical":
        bounded = any(s.bounded for s in ex.statements)
        if bounded:
            decision = replace(
                base, action="record", reason="technical approval that keeps production closed"
            )
        else:
            decision = replace(
                base,
                action="clarify",
                missing=_missing(present),
                reason="technical approval that does not say whether production is released",
            )
    elif stage == "unclear":
        decision = replace(base, action="clarify", missing=_missing(present))
    else:
        missing = _missing(present)
        action: Action = "clarify" if missing else "record"
        what = f"{stage} release" + (
            " with every field stated" if not missing else f" missing {', '.join(missing)}"
        )
        decision = replace(base, action=action, missing=missing, reason=what)
    complete = stage in RELEASES and not decision.missing and decision.action == "record"
    if trust.verified is False and stage != "none":
        decision = replace(decision, reason=f"{decision.reason} (unverified sender: {trust.why})")
    return replace(
        decision, thread_status=_thread_status(state, decision, complete, message.from_addr)
    )


def reply_suppressed(
    decision: Decision, message: Message, state: ThreadState, *, interval: timedelta, now: datetime
) -> str | None:
    """Why a clarify decision must not be answered now (the per-thread rate limit), or None."""
    if decision.action != "clarify" or state.last_clarify_at is None:
        return None
    if now - state.last_clarify_at >= interval:
        return None
    if state.last_clarify_to == message.from_addr:
        return None  # the person we asked wrote again: answer them
    return f"a clarification went to this thread less than {interval} ago"
