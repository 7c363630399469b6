"""Plain frozen data passed between the pipeline stages; no I/O lives here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Field = Literal["quantity", "revision", "timing", "authority"]
FIELDS: tuple[Field, ...] = ("quantity", "revision", "timing", "authority")

Stage = Literal["none", "technical", "sample", "partial", "production", "hold", "unclear"]
STAGES: tuple[Stage, ...] = (
    "none",
    "technical",
    "sample",
    "partial",
    "production",
    "hold",
    "unclear",
)
Action = Literal["clarify", "record", "ignore"]
ACTIONS: tuple[Action, ...] = ("clarify", "record", "ignore")
Role = Literal["purchasing", "owner", "technical", "other"]
ROLES: tuple[Role, ...] = ("purchasing", "owner", "technical", "other")
Modality = Literal["plain", "hedged", "conditional", "future", "question", "hearsay"]


@dataclass(frozen=True)
class Attachment:
    """One attached file by name and type; the bytes are never kept, only a PDF's text layer."""

    filename: str
    content_type: str
    size: int
    text: str = ""


@dataclass(frozen=True)
class Message:
    """A parsed message: the headers the bot needs and the body as text."""

    message_id: str
    subject: str
    from_addr: str
    from_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    date: datetime | None
    in_reply_to: str | None
    references: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]
    text: str
    from_html: bool
    attachments: tuple[Attachment, ...]
    content_type: str
    defects: tuple[str, ...] = ()
    # signing domains whose DKIM signature the bot verified itself ([security] verify_dkim);
    # None when it did not look
    dkim_pass: tuple[str, ...] | None = None

    def header(self, name: str) -> str | None:
        """The first value of a header, by case-insensitive name, or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None

    def header_all(self, name: str) -> tuple[str, ...]:
        """Every value of a header, in order."""
        wanted = name.lower()
        return tuple(value for key, value in self.headers if key == wanted)


@dataclass(frozen=True)
class Zones:
    """A body split by what each part is; only `new_text` is the sender's statement."""

    new_text: str
    quoted: str = ""
    signature: str = ""
    forwarded: str = ""
    disclaimer: str = ""


@dataclass(frozen=True)
class Statement:
    """One approval, release or hold sentence with how it is meant."""

    sentence: str
    scope: Stage
    negated: bool
    modality: Modality
    bounded: bool = False


@dataclass(frozen=True)
class Fields:
    """What the new text states, each value with the sentence it came from."""

    quantity: int | None = None
    held_quantity: int | None = None
    forecast_quantity: int | None = None
    revision: str | None = None
    revisions: tuple[str, ...] = ()
    material: str | None = None
    finish: str | None = None
    timing: str | None = None
    condition: str | None = None
    po_number: str | None = None
    po_attached: bool = False
    trigger: str | None = None
    evidence: tuple[tuple[str, str], ...] = ()

    def evidence_for(self, name: str) -> str | None:
        """The sentence a field came from, or None."""
        for key, sentence in self.evidence:
            if key == name:
                return sentence
        return None


@dataclass(frozen=True)
class Contact:
    """A person in the customer directory and what they may approve."""

    email: str
    name: str
    role: Role


@dataclass(frozen=True)
class Extraction:
    """Everything read from one message's new text."""

    statements: tuple[Statement, ...]
    fields: Fields
    stage: Stage
    reason: str


@dataclass(frozen=True)
class ThreadState:
    """What the bot knows of a thread before the next message arrives."""

    key: str
    status: str = "open"
    carry_revision: str | None = None
    released_revision: str | None = None
    released_quantity: int | None = None
    hold_by: str | None = None
    release_by: str | None = None
    bot_sentences: frozenset[str] = frozenset()
    quoted_revisions: frozenset[str] = frozenset()  # revisions the shop named in the thread
    last_clarify_at: datetime | None = None
    last_clarify_to: str | None = None


@dataclass(frozen=True)
class Decision:
    """The outcome for one message: the action, the stage, what is missing and why."""

    message_id: str
    action: Action
    stage: Stage
    missing: tuple[Field, ...]
    fields: Fields
    reason: str
    new_text: str
    authority: str | None = None
    statements: tuple[Statement, ...] = ()
    thread_status: str = "open"
    about: str | None = None
    # whether the shop's receiving server vouched for the sender (bot.trust); None when no
    # [security] authserv_id is configured, so nothing was checked
    sender_verified: bool | None = None
    verification: str = ""  # why, in words: "dmarc=pass from mx.printshop.example"


@dataclass(frozen=True)
class Cursor:
    """How far a mailbox folder has been handled: its UIDVALIDITY and the highest UID done."""

    folder: str  # "account/folder"
    uidvalidity: int
    uid: int


@dataclass(frozen=True)
class Incoming:
    """One raw message as a source hands it over."""

    key: str  # where it is ("INBOX/1700000000/42", or a Maildir key)
    raw: bytes
    cursor: Cursor | None = None  # stored once the message is handled
    truncated: bool = False  # over the size cap: its header and the start of its body only
    folder_role: Literal["inbox", "sent"] = "inbox"  # sent: the shop's own mail, context only
    left: int | None = None  # messages of its folder still to come in this pass (a backlog's bar)
