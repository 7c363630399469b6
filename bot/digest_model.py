"""The morning digest's data: the rows the store hands over and what each section shows.

Plain frozen dataclasses, no behaviour; `bot.digest` builds, renders and re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

# What the store hands over: its tables as plain rows.


@dataclass(frozen=True)
class MessageRow:
    """One handled message (a MessageRecord with its fields_json unpacked)."""

    seq: int  # the record's id: the order messages were handled in
    thread_key: str
    sender: str
    subject: str
    received_at: datetime | None
    processed_at: datetime
    action: str
    stage: str
    missing: tuple[str, ...]
    sentence: str
    thread_status: str
    quantity: int | None = None
    held_quantity: int | None = None
    revision: str | None = None
    material: str | None = None
    po_number: str | None = None
    authority: str | None = None
    sender_verified: bool | None = None  # False: [security] could not verify the sender
    source_key: str = ""
    error: str | None = None


@dataclass(frozen=True)
class ThreadRow:
    """A thread and where its release stands (a ThreadRecord)."""

    key: str
    subject: str
    status: str
    released_quantity: int | None = None
    released_revision: str | None = None
    release_by: str | None = None
    hold_by: str | None = None


@dataclass(frozen=True)
class AskRow:
    """A clarification (ReplyRecord) or reminder (NudgeRecord) the bot wrote in a thread."""

    thread_key: str
    kind: Literal["clarify", "nudge"]
    status: str
    at: datetime


@dataclass(frozen=True)
class RunRow:
    """One pass over the mailbox (a RunRecord)."""

    started_at: datetime
    finished_at: datetime | None
    handled: int = 0
    sent: int = 0
    drafted: int = 0
    failed: int = 0
    error: str | None = None


@dataclass(frozen=True)
class DigestData:
    """Everything the digest reads, times aware. `messages` holds every message handled since
    `since` and every message of the threads still open, in the order they were handled."""

    since: datetime | None
    threads: tuple[ThreadRow, ...]
    messages: tuple[MessageRow, ...]
    asks: tuple[AskRow, ...]
    runs: tuple[RunRow, ...]  # the passes started since `since`
    last_ok_run: RunRow | None  # the latest pass that finished without an error, ever
    latest_run: RunRow | None  # the latest pass, ever


# What the digest says: one dataclass per section row, local times.


@dataclass(frozen=True)
class Quote:
    """How a thread is named: its quote number (else its subject), what it is, who it is for."""

    label: str  # "Q-1042", or the subject when the thread has no quote number
    title: str  # the subject without reply prefixes and quote number ("PETG gripper brackets")
    customer: str  # the buyer's mail domain


@dataclass(frozen=True)
class Released:
    """A release that arrived since the last digest (the latest one per thread)."""

    quote: Quote
    stage: str
    quantity: int | None
    held_quantity: int | None
    revision: str | None
    material: str | None
    authorised_by: str
    po_number: str | None
    at: datetime
    status_now: str  # not "released" when a later message put the thread on hold, say


@dataclass(frozen=True)
class Awaiting:
    """A thread waiting on the buyer's answer to the bot's questions."""

    quote: Quote
    questions: tuple[str, ...]  # the open fields: quantity, revision, timing, authority
    asked_at: datetime | None  # the first question of this wait (None: never sent, dry-run)
    last_asked_at: datetime | None
    times_asked: int  # clarifications and reminders sent or drafted in this wait
    age_days: float  # since the wait began
    call: bool  # older than stale_days: time for a phone call


@dataclass(frozen=True)
class Attention:
    """A technical-only approval, a hold, a reopened sign-off or conflicting instructions."""

    quote: Quote
    status: str  # one of ATTENTION
    sentence: str  # the buyer's sentence that set the status
    by: str
    at: datetime | None
    new: bool  # it happened since the last digest
    detail: str


@dataclass(frozen=True)
class Failure:
    """A message the bot could not handle, and why."""

    at: datetime
    where: str  # the message's key in the mailbox
    error: str


@dataclass(frozen=True)
class Health:
    """Whether the bot is alive and what it did since the last digest."""

    ok: bool  # polled successfully since the last digest, last pass fine, no failed message
    last_ok_poll: datetime | None
    runs: int
    processed: int
    sent: int
    drafted: int
    failures: tuple[Failure, ...]
    connection_errors: int  # passes ended by a login, connection or database error
    last_error: str | None
    last_error_at: datetime | None
    failing_now: bool  # the latest pass ended with an error


@dataclass(frozen=True)
class Digest:
    """The whole digest, ready for the templates."""

    now: datetime
    since: datetime | None
    summary: str
    released: tuple[Released, ...]
    awaiting: tuple[Awaiting, ...]
    attention: tuple[Attention, ...]
    health: Health
    stale_days: float
