"""The ops lead's morning digest: where each quote's release stands and whether the bot is alive.

Pure: `build_digest` turns plain rows (read by `bot.adapters.digest_queries`) into a `Digest`,
`render_digest` fills `templates/digest.*.j2`, `digest_message` wraps both in an email. The
clock and the time zone come in as arguments.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, tzinfo
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from functools import cache
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from bot.digest_model import (
    AskRow,
    Attention,
    Awaiting,
    Digest,
    DigestData,
    Failure,
    Health,
    MessageRow,
    Quote,
    Released,
    RunRow,
    ThreadRow,
)
from bot.errors import TemplateError
from bot.render import Sender, header_safe
from bot.threads import quote_number

__all__ = [
    "AskRow",
    "Attention",
    "Awaiting",
    "Digest",
    "DigestData",
    "Failure",
    "Health",
    "MessageRow",
    "Quote",
    "Released",
    "RunRow",
    "ThreadRow",
    "build_digest",
    "days",
    "digest_message",
    "number",
    "render_digest",
    "title_of",
    "when",
]

RELEASE_STAGES = ("sample", "partial", "production")
ATTENTION = ("conflict", "hold", "reopened", "technical")  # most urgent first
ASKED = ("sent", "drafted")  # a clarification or reminder that reached (or awaits) a person
_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|tr|rv|antw|vs)\s*(\[\d+\])?\s*:\s*)+", re.I)
_QUOTE_LEAD = re.compile(r"^\s*(quote\s*)?#?\s*Q-?\d{3,7}\b\s*[-:\u2013\u2014]?\s*", re.I)
_CONTACT = re.compile(r"^(\w+) contact (.+)$")  # how bot.decide names an authorising contact
_NAMES = {
    "conflict": "conflicting",
    "hold": "on hold",
    "reopened": "reopened",
    "technical": "technical only",
}


def title_of(subject: str) -> str:
    """A subject without reply prefixes and its leading quote number.

    >>> title_of("RE: Quote Q-1042 - PETG gripper brackets")
    'PETG gripper brackets'
    """
    bare = _PREFIX.sub("", subject).strip()
    return _QUOTE_LEAD.sub("", bare).strip() if quote_number(bare) else bare


def _who(address: str, customer: str) -> str:
    """An address as the digest shows it: the local part when the domain is the customer's."""
    local, _, domain = address.rpartition("@")
    return local if local and domain.lower() == customer else address


def _authorised(row: MessageRow, customer: str) -> str:
    """Who authorised a release: "Lee Park (purchasing)", "PO 4471", else the sender."""
    found = _CONTACT.match(row.authority or "")
    who = f"{found.group(2)} ({found.group(1)})" if found else None
    who = who or row.authority or _who(row.sender, customer)
    if row.sender_verified is False and "unverified" not in who:
        who += " (unverified sender)"  # [security]: the shop's server did not vouch for it
    return who


def _quote(thread: ThreadRow | None, key: str, sender: str, subject: str = "") -> Quote:
    subject = thread.subject if thread else subject
    label = quote_number(subject) or quote_number(key) or header_safe(_PREFIX.sub("", subject), 80)
    title = header_safe(title_of(subject))
    return Quote(
        label=label or key,
        title="" if title == label else title,
        customer=sender.rsplit("@", 1)[-1].lower() if "@" in sender else sender,
    )


def _streak(status: str, rows: Sequence[MessageRow]) -> list[MessageRow]:
    """A thread's latest messages that left it in `status`, oldest first; the first of them set
    the status."""
    kept = [r for r in rows if r.error is None and r.thread_status]
    streak: list[MessageRow] = []
    for row in reversed(kept):
        if row.thread_status != status:
            break
        streak.append(row)
    return streak[::-1] or kept[-1:]


def _released(
    messages: Sequence[MessageRow],
    since: datetime | None,
    zone: tzinfo,
    by_key: dict[str, ThreadRow],
) -> list[Released]:
    """Each thread's latest complete release handled since `since`, in the order they came."""
    latest: dict[str, MessageRow] = {}
    for row in messages:
        if (
            _since(row.processed_at, since)
            and row.error is None
            and row.action == "record"
            and row.stage in RELEASE_STAGES
            and row.thread_status == "released"
        ):
            latest[row.thread_key] = row  # a later complete release supersedes the earlier
    out = []
    for key, row in latest.items():
        thread = by_key.get(key)
        quote = _quote(thread, key, row.sender, row.subject)
        out.append(
            Released(
                quote=quote,
                stage=row.stage,
                quantity=row.quantity,
                held_quantity=row.held_quantity,
                revision=row.revision,
                material=row.material,
                authorised_by=_authorised(row, quote.customer),
                po_number=row.po_number,
                at=(row.received_at or row.processed_at).astimezone(zone),
                status_now=thread.status if thread else "released",
            )
        )
    return sorted(out, key=lambda r: r.at)


def _awaiting(
    data: DigestData,
    thread: ThreadRow,
    rows: Sequence[MessageRow],
    *,
    now: datetime,
    stale: float,
    zone: tzinfo,
) -> tuple[datetime, Awaiting]:
    """The awaiting row of a thread and when its wait began (the first question asked since
    the thread went to awaiting, else the message that sent it there)."""
    streak = _streak(thread.status, rows)
    start = streak[0].processed_at if streak else now
    clarify = next((r for r in reversed(rows) if r.action == "clarify"), None)
    asks = sorted(
        a.at
        for a in data.asks
        if a.thread_key == thread.key and a.status in ASKED and a.at >= start
    )
    began = asks[0] if asks else start
    age = max((now - began).total_seconds() / 86400, 0.0)
    sender = clarify.sender if clarify else (streak[0].sender if streak else "")
    item = Awaiting(
        quote=_quote(thread, thread.key, sender),
        questions=clarify.missing if clarify else (),
        asked_at=asks[0].astimezone(zone) if asks else None,
        last_asked_at=asks[-1].astimezone(zone) if asks else None,
        times_asked=len(asks),
        age_days=age,
        call=age > stale,
    )
    return began, item


def _detail(thread: ThreadRow, cause: MessageRow, customer: str) -> str:
    """What else the ops lead needs to know about a thread in one of the ATTENTION states."""
    released = ""
    if thread.released_quantity is not None or thread.released_revision:
        quantity = thread.released_quantity if thread.released_quantity is not None else "?"
        released = f"{quantity} of rev {thread.released_revision or '?'}"
    if thread.status == "conflict":
        released_by, held_by = (
            _who(a or "?", customer) for a in (thread.release_by, thread.hold_by)
        )
        return f"released by {released_by}, hold from {held_by}"
    if thread.status == "reopened":
        named = f"; now names rev {cause.revision}" if cause.revision else ""
        return f"was released: {released}{named}" if released else named.lstrip("; ")
    if thread.status == "technical":
        approved = f"rev {cause.revision} " if cause.revision else ""
        return f"{approved}approved technically; no production release yet"
    return f"was released: {released}" if released else "nothing released yet"


def _attention(
    data: DigestData, thread: ThreadRow, rows: Sequence[MessageRow], zone: tzinfo
) -> Attention:
    """The row of a thread in one of the ATTENTION states, from the message that set it."""
    streak = _streak(thread.status, rows)
    cause = next((r for r in streak if r.sentence), streak[0] if streak else None)
    if cause is None:  # a thread without messages (restored from elsewhere): say what we know
        return Attention(_quote(thread, thread.key, ""), thread.status, "", "", None, False, "")
    quote = _quote(thread, thread.key, cause.sender)
    return Attention(
        quote=quote,
        status=thread.status,
        sentence=header_safe(cause.sentence, 300),
        by=_who(cause.sender, quote.customer),
        at=(cause.received_at or cause.processed_at).astimezone(zone),
        new=_since(cause.processed_at, data.since),
        detail=_detail(thread, cause, quote.customer),
    )


def _health(data: DigestData, zone: tzinfo) -> Health:
    """What the bot did since the last digest, and whether it is still polling."""
    recent = [m for m in data.messages if _since(m.processed_at, data.since)]
    failures = tuple(
        Failure(m.processed_at.astimezone(zone), m.source_key or "?", m.error)
        for m in recent
        if m.error
    )
    asks = [a for a in data.asks if _since(a.at, data.since)]
    errors = sorted((r for r in data.runs if r.error), key=lambda r: r.started_at)
    last_ok = data.last_ok_run.finished_at if data.last_ok_run else None
    failing = bool(data.latest_run and data.latest_run.error)
    last = errors[-1] if errors else None
    return Health(
        ok=last_ok is not None and _since(last_ok, data.since) and not failing and not failures,
        last_ok_poll=last_ok.astimezone(zone) if last_ok else None,
        runs=len(data.runs),
        processed=len(recent),
        sent=sum(1 for a in asks if a.status == "sent"),
        drafted=sum(1 for a in asks if a.status == "drafted"),
        failures=failures,
        connection_errors=len(errors),
        last_error=last.error if last else None,
        last_error_at=(last.finished_at or last.started_at).astimezone(zone) if last else None,
        failing_now=failing,
    )


def _summary(
    released: Sequence[Released],
    awaiting: Sequence[Awaiting],
    attention: Sequence[Attention],
    health: Health,
) -> str:
    """One line for the subject: "3 released, 2 awaiting (1 to call), 1 on hold"."""
    calls = sum(1 for a in awaiting if a.call)
    parts = [f"{len(released)} released", f"{len(awaiting)} awaiting"]
    if calls:
        parts[-1] += f" ({calls} to call)"
    for status in ATTENTION:
        count = sum(1 for a in attention if a.status == status)
        if count:
            parts.append(f"{count} {_NAMES[status]}")
    if health.failures:
        parts.append(f"{len(health.failures)} failed")
    if health.connection_errors:
        errors = health.connection_errors
        parts.append(f"{errors} connection error{'s' if errors > 1 else ''}")
    if health.failing_now:
        parts.append("bot failing")
    elif not health.ok and not (health.failures or health.connection_errors):
        parts.append("no poll since the last digest")
    return ", ".join(parts)


def build_digest(data: DigestData, *, now: datetime, stale_days: float, zone: tzinfo) -> Digest:
    """The digest of `data` as of `now` (aware), with times shown in `zone`."""
    by_key = {t.key: t for t in data.threads}
    ordered = sorted(data.messages, key=lambda m: (m.processed_at, m.seq))
    rows: dict[str, list[MessageRow]] = {}
    for row in ordered:
        rows.setdefault(row.thread_key, []).append(row)
    waiting = [
        _awaiting(data, t, rows.get(t.key, []), now=now, stale=stale_days, zone=zone)
        for t in data.threads
        if t.status == "awaiting"
    ]
    awaiting = [item for _, item in sorted(waiting, key=lambda pair: pair[0])]  # oldest first
    attention = sorted(
        (
            _attention(data, t, rows.get(t.key, []), zone)
            for t in data.threads
            if t.status in ATTENTION
        ),
        key=lambda a: (ATTENTION.index(a.status), a.at or now),
    )
    released = _released(ordered, data.since, zone, by_key)
    health = _health(data, zone)
    return Digest(
        now=now.astimezone(zone),
        since=data.since.astimezone(zone) if data.since else None,
        summary=_summary(released, awaiting, attention, health),
        released=tuple(released),
        awaiting=tuple(awaiting),
        attention=tuple(attention),
        health=health,
        stale_days=stale_days,
    )


def _since(moment: datetime, since: datetime | None) -> bool:
    return since is None or moment >= since


def when(moment: datetime | None, now: datetime) -> str:
    """A local time as the digest shows it: "Mon 17 Mar 07:30", with the year when it is not
    `now`'s; "-" for None."""
    if moment is None:
        return "-"
    year = f" {moment.year}" if moment.year != now.year else ""
    return f"{moment:%a} {moment.day} {moment:%b}{year} {moment:%H:%M}"


def days(value: float) -> str:
    """An age in whole days: "today", "1 day", "12 days"."""
    whole = int(value)
    return "today" if whole == 0 else "1 day" if whole == 1 else f"{whole} days"


def number(value: int | None) -> str:
    """A count with thousands separators; "?" when unknown."""
    return "?" if value is None else f"{value:,}"


@cache
def _environment(folder: Path, html: bool) -> jinja2.Environment:
    env = SandboxedEnvironment(  # a shop edits the templates: no access to Python internals
        loader=jinja2.FileSystemLoader(folder),
        autoescape=html,  # buyer text (subjects, sentences) must stay text in the HTML part
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(days=days, number=number)
    return env


def _render(folder: Path, name: str, digest: Digest) -> str:
    env = _environment(folder, name.endswith(".html.j2"))
    try:
        template = env.get_template(name)
        return template.render(d=digest, when=lambda moment: when(moment, digest.now))
    except jinja2.TemplateNotFound:
        raise TemplateError(
            f"{folder / name}: template missing; restore it or set bot.templates_dir"
        ) from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{folder / name}: {exc}") from None


def render_digest(digest: Digest, templates: Path) -> tuple[str, str]:
    """The digest as (plain text, HTML) from `templates/digest.txt.j2` and `digest.html.j2`."""
    return _render(templates, "digest.txt.j2", digest), _render(templates, "digest.html.j2", digest)


def digest_message(
    digest: Digest,
    *,
    text: str,
    html: str,
    sender: Sender,
    to: tuple[str, ...],
    now: datetime,
) -> EmailMessage:
    """The digest email: multipart/alternative from the bot to the ops lead(s), marked as
    automatic (RFC 3834) so that out-of-office replies stay away."""
    local = digest.now
    message = EmailMessage()
    message["Subject"] = header_safe(
        f"Quotes digest {local:%a} {local.day} {local:%b}: {digest.summary}", 250
    )
    message["From"] = formataddr((sender.name, sender.address))
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(
        idstring="quotebot-digest", domain=sender.address.rsplit("@", 1)[-1]
    )
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Quotebot"] = "digest"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
