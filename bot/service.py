"""The one place that sequences I/O: read a message, decide, answer, record."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from email.message import EmailMessage
from typing import Protocol

from bot.adapters.dkim import DkimVerifier
from bot.adapters.store import ReplyRecord, Store
from bot.config import Config, ImapConfig
from bot.decide import Context, decide, own_sentences, reply_suppressed
from bot.errors import (
    ConfigError,
    MailboxError,
    MessageError,
    OutboxError,
    QuotebotError,
    RaceLostError,
    StoreError,
)
from bot.model import Cursor, Decision, Incoming, Message, ThreadState
from bot.nudge import due, render_nudge
from bot.parse import CUT_DEFECTS, MAX_MESSAGE_BYTES
from bot.pipeline import Parsed, default_workers, parse, parse_ahead
from bot.progress import track
from bot.render import Sender, quoted_sentence, render_reply
from bot.rules import Rules
from bot.threads import thread_ids, thread_key

log = logging.getLogger(__name__)
CLOCK_DRIFT = timedelta(minutes=10)  # a sender's Date may run this far behind ours


class Source(Protocol):
    """Where messages come from: a Maildir, or IMAP folders read past their cursors."""

    def incoming(self, cursors: Mapping[str, Cursor]) -> Iterator[Incoming]: ...

    def fetch(self, key: str) -> bytes | None:
        """One message again by its key (a failed message's retry); None when it is gone."""
        ...


class SignatureCheck(Protocol):
    """The bot's own DKIM check ([security] verify_dkim): the domains whose signature holds."""

    def signers(self, raw: bytes) -> tuple[str, ...]: ...


class Outbox(Protocol):
    """Where replies go: sent, or kept as drafts for a person to send."""

    def send(self, message: EmailMessage, *, draft: bool = False) -> str: ...

    def delivered(self, message_id: str) -> bool:
        """Whether a reply with this Message-ID already went out (looked up after a crash)."""
        ...

    def keep_copy(self, message: EmailMessage) -> None:
        """Keep a copy of a sent reply where people see it (the sent folder), if anywhere."""
        ...


@dataclass(frozen=True)
class Row:
    """One handled message, for the run summary."""

    message_id: str
    sender: str
    subject: str
    action: str
    stage: str
    missing: tuple[str, ...]
    reply: str
    error: str | None = None
    mailbox: str = ""  # the [[mailboxes]] name of the pass that handled it


KEPT_ROWS = 1_000  # rows a pass keeps for its table; past them a backlog keeps counts only


@dataclass
class RunReport:
    """What one pass over the mailbox did: counts of everything, and the rows of the first
    KEPT_ROWS messages and of every message answered or failed (a backlog of 100,000 would
    otherwise hold a row each)."""

    rows: list[Row] = field(default_factory=list)
    replies: list[EmailMessage] = field(default_factory=list)
    skipped: int = 0
    handled: int = 0
    failed: int = 0
    sent: int = 0
    drafted: int = 0

    def add(self, row: Row) -> None:
        """Count one handled message, and keep its row if it is one to show."""
        self.handled += 1
        self.failed += row.error is not None
        self.sent += row.reply == "sent"
        self.drafted += row.reply == "drafted"
        if len(self.rows) < KEPT_ROWS or row.error or row.reply in ("sent", "drafted", "failed"):
            self.rows.append(row)

    def merge(self, other: RunReport) -> None:
        """Add another pass's report to this one (a worker's round over several mailboxes)."""
        self.rows += other.rows
        self.replies += other.replies
        self.skipped += other.skipped
        self.handled += other.handled
        self.failed += other.failed
        self.sent += other.sent
        self.drafted += other.drafted


def context_for(config: Config) -> Context:
    """The pure core's view of the config."""
    return Context(
        own_addresses=config.own_addresses,
        customer_domains=config.customer_domains,
        contacts={c.email: c for c in config.contacts},
        authserv_ids=frozenset(config.security.authserv_ids),
        verify_dkim=config.security.verify_dkim,
    )


def _cc(message: Message, config: Config) -> tuple[str, ...]:
    if not config.bot.reply_all:
        return ()
    others = (*message.to, *message.cc)
    domains = config.customer_domains
    return tuple(
        dict.fromkeys(
            a
            for a in others
            if a not in config.own_addresses
            and a != message.from_addr
            and (not domains or a.rsplit("@", 1)[-1] in domains)
        )
    )


class Bot:
    """Runs passes over one mailbox with its outbox, store and rules."""

    def __init__(
        self,
        config: Config,
        rules: Rules,
        *,
        source: Source,
        outbox: Outbox,
        store: Store,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        signatures: SignatureCheck | None = None,
    ) -> None:
        self.config, self.rules = config, rules
        self.source, self.outbox, self.store, self.clock = source, outbox, store, clock
        security = config.security
        if signatures is None and security.verify_dkim:
            signatures = DkimVerifier(resolver=security.dkim_resolver)
        self.signatures = signatures
        self.context = context_for(config)
        self.sender = Sender(address=config.bot.address, name=config.bot.name)
        # mail older than this is thread context only: by default the bot's first start (less
        # the drift of senders' clocks), so turning it on over years of history answers none
        self.since = config.bot.since or store.first_started(clock()) - CLOCK_DRIFT
        self.stopping = threading.Event()  # set: stop after the message in hand
        mailbox = config.mailbox
        self.max_bytes = (
            mailbox.max_message_bytes if isinstance(mailbox, ImapConfig) else MAX_MESSAGE_BYTES
        )
        self.parse_workers = default_workers()  # processes that parse ahead in a backlog

    def run_once(self) -> RunReport:
        """One pass: every message not seen before is decided, answered if needed, recorded.
        The pass itself is recorded too (the digest's health part): what it did, or the
        mailbox, outbox or database error that ended it."""
        run_id = self.store.start_run(self.clock())
        report = RunReport()
        try:
            self._pass(report)
        except QuotebotError as exc:
            self._finish(run_id, report, error=str(exc))
            raise
        self._finish(run_id, report)
        return report

    def _finish(self, run_id: int, report: RunReport, error: str | None = None) -> None:
        try:
            self.store.finish_run(
                run_id,
                now=self.clock(),
                handled=report.handled,
                sent=report.sent,
                drafted=report.drafted,
                failed=report.failed,
                error=error,
            )
        except QuotebotError as exc:  # the database itself failed: keep the first error
            log.error("cannot record the pass: %s", exc)

    def _pass(self, report: RunReport) -> None:
        self._resend_pending()
        for key in self.store.due_retries(self.clock()):
            if self.stopping.is_set():
                return
            raw = self.source.fetch(key)
            if raw is None:
                self._failed(Incoming(key=key, raw=b""), report, "the message is gone", last=True)
                continue
            self._attempt(Incoming(key=key, raw=raw), report, retry=True)
        items = self.source.incoming(self.store.cursors())
        failed: set[str] | None = None  # read at the first new message: an idle pass skips it
        with self.store.batch():  # records that need no reply are committed in batches
            ahead = parse_ahead(
                items,
                workers=self.parse_workers,
                rules_dir=self.rules.source,
                rules=self.rules,
                own_addresses=self.context.own_addresses,
                max_bytes=self.max_bytes,
            )
            for item, parsed in track(ahead, left=lambda pair: pair[0].left):
                if self.stopping.is_set():
                    log.info("stop requested: the rest waits for the next run")
                    break
                if failed is None:
                    failed = self.store.failed_keys()  # this pass's own are not met again
                if item.key in failed:
                    continue  # failed before: tried again on its own schedule, above
                self._attempt(item, report, parsed=parsed)

    def _attempt(
        self,
        item: Incoming,
        report: RunReport,
        *,
        retry: bool = False,
        parsed: Parsed | None = None,
    ) -> None:
        """Handle one message (`parsed` already, or not yet); if it fails, record why and go on
        with the next. Only the mailbox, the outbox, the database or the config failing stops
        the pass."""
        try:
            self._handle(item, report, parsed)
        except RaceLostError as exc:  # another worker holds it; nothing was sent from here
            log.warning("%s; backing off, nothing sent", exc)
            report.skipped += 1
            return
        except (MailboxError, OutboxError, StoreError, ConfigError):
            raise
        except Exception as exc:  # one bad message never stops a run
            why = str(exc) if isinstance(exc, QuotebotError) else f"{type(exc).__name__}: {exc}"
            self._failed(item, report, why)
            return
        if retry:
            self.store.clear_failure(item.key)

    def _failed(self, item: Incoming, report: RunReport, why: str, *, last: bool = False) -> None:
        attempts = self.store.record_failure(
            message_id=f"<{item.key}@quotebot.invalid>",
            source_key=item.key,
            error=why,
            now=self.clock(),
            cursor=item.cursor,
            max_attempts=1 if last else self.config.schedule.max_attempts,
        )
        given_up = last or attempts >= self.config.schedule.max_attempts
        log.warning(
            "message %s failed (attempt %d%s): %s",
            item.key,
            attempts,
            ", quarantined" if given_up else "",
            why,
        )
        report.add(
            Row(item.key, "", "", "ignore", "none", (), "", error=why, mailbox=self.store.mailbox)
        )

    def _handle(self, item: Incoming, report: RunReport, parsed: Parsed | None = None) -> None:
        if parsed is None:  # not parsed ahead (a retry, or a short pass)
            parsed = parse(item.raw, self.max_bytes)
        if isinstance(parsed, MessageError):
            raise parsed
        message, analysis = parsed  # the analysis, when worked out ahead (bot.pipeline)
        if self.store.seen(message.message_id):
            report.skipped += 1
            if item.cursor is not None:
                self.store.advance(item.cursor, self.clock())
            return
        cut = [d for d in message.defects if d in CUT_DEFECTS]
        if item.truncated or cut:
            log.warning(
                "%s was cut to keep parsing bounded (%s): decided from what was kept",
                item.key,
                ", ".join(cut or ["MessageTruncated"]),
            )
        context = self.context
        if self.signatures is not None and item.folder_role == "inbox":
            message = replace(message, dkim_pass=self.signatures.signers(item.raw))
        if item.folder_role == "sent":  # the shop's own mail: thread context, never answered
            context = replace(context, own_addresses=context.own_addresses | {message.from_addr})
        now = self.clock()
        ids = thread_ids(message)
        known = self.store.thread_of(ids)
        state = self.store.thread(thread_key(message, known))
        decision, new_state = decide(message, state, context, self.rules, analysis=analysis)
        reply, status, why = self._reply(message, decision, state, now)
        record = None
        if status:
            record = ReplyRecord(
                in_reply_to=message.message_id,
                reply_message_id=str(reply["Message-ID"]) if reply else "",
                thread_key=new_state.key,
                recipient=message.from_addr,
                status="pending" if reply and status in ("sent", "drafted") else status,
                reason=why,
                body=reply.as_string() if reply else "",
                created_at=now,
            )
            if reply and status in ("sent", "drafted"):
                body = reply.get_body(preferencelist=("plain",))
                said = own_sentences(body.get_content()) if body is not None else frozenset()
                new_state = replace(
                    new_state,
                    last_clarify_at=now,
                    last_clarify_to=message.from_addr,
                    bot_sentences=new_state.bot_sentences | said,  # quoted back later
                )
        self.store.record(
            decision=decision,
            state=new_state,
            source_key=item.key,
            sender=message.from_addr,
            subject=message.subject,
            received_at=message.date,
            links=ids,
            reply=record,
            now=now,
            cursor=item.cursor,
            sentence=quoted_sentence(decision) if decision.statements else "",
        )
        if reply is not None and status in ("sent", "drafted"):
            status = self._deliver(message.message_id, reply, draft=status == "drafted")
            if status != "failed":
                report.replies.append(reply)
        log.info(
            "%s %s stage=%s missing=%s reply=%s",
            message.message_id,
            decision.action,
            decision.stage,
            ",".join(decision.missing) or "-",
            status or "-",
        )
        report.add(
            Row(
                message.message_id,
                message.from_addr,
                message.subject,
                decision.action,
                decision.stage,
                decision.missing,
                status or "",
                mailbox=self.store.mailbox,
            )
        )

    def _reply(
        self, message: Message, decision: Decision, state: ThreadState, now: datetime
    ) -> tuple[EmailMessage | None, str, str]:
        """The reply to send (if any), its status and why."""
        if decision.action != "clarify":
            return None, "", ""
        if message.date is not None and message.date < self.since:
            why = "older than bot.since" if self.config.bot.since else "older than the first run"
            return None, "suppressed", f"{why}: indexed for context, never answered"
        interval = timedelta(hours=self.config.bot.reply_interval_hours)
        suppressed = reply_suppressed(decision, message, state, interval=interval, now=now)
        if suppressed:
            return None, "suppressed", suppressed
        reply = render_reply(
            message,
            decision,
            self.rules,
            sender=self.sender,
            templates=self.config.bot.templates_dir,
            now=now,
            cc=_cc(message, self.config),
        )
        mode = self.config.bot.mode
        status = {"send": "sent", "draft": "drafted", "dry-run": "dry-run"}[mode]
        return reply, status, ""

    def _deliver(self, in_reply_to: str, reply: EmailMessage, *, draft: bool) -> str:
        """Hand a stored reply to the outbox, mark it, then file its copy. A refusal that will
        not change by itself (a 5xx) is marked failed, shown in the digest, and the pass goes
        on; anything transient is raised and the reply stays pending for the next pass."""
        try:
            self.outbox.send(reply, draft=draft)
        except OutboxError as exc:
            if exc.transient:
                raise
            log.error("reply to %s refused for good: %s", in_reply_to, exc)
            self.store.mark_reply(in_reply_to, status="failed", now=self.clock(), reason=str(exc))
            return "failed"
        status = "drafted" if draft else "sent"
        self.store.mark_reply(in_reply_to, status=status, now=self.clock())
        if not draft:
            try:
                self.outbox.keep_copy(reply)
            except QuotebotError as exc:  # the reply went out; only its copy is missing
                log.warning("reply to %s sent, but its copy was not filed: %s", in_reply_to, exc)
        return status

    def _deliver_nudge(self, message_id: str, reminder: EmailMessage, *, status: str) -> None:
        try:
            self.outbox.send(reminder, draft=status == "drafted")
        except OutboxError as exc:
            if exc.transient:
                raise
            log.error("reminder %s refused for good: %s", message_id, exc)
            status = "failed"
        self.store.mark_nudge(message_id, status=status, now=self.clock())
        if status == "sent":
            try:
                self.outbox.keep_copy(reminder)
            except QuotebotError as exc:
                log.warning("reminder %s sent, but its copy was not filed: %s", message_id, exc)

    def nudge(self) -> int:
        """Remind buyers whose clarification stayed unanswered for `schedule.nudge_days` (at
        most `schedule.max_nudges` times per clarification); returns how many went out."""
        schedule, now = self.config.schedule, self.clock()
        mode = self.config.bot.mode
        if mode == "dry-run":
            return 0
        threads = due(
            self.store.awaiting(),
            now=now,
            after=timedelta(days=schedule.nudge_days),
            most=schedule.max_nudges,
        )
        for thread in threads:
            reminder = render_nudge(
                thread,
                self.rules,
                sender=self.sender,
                templates=self.config.bot.templates_dir,
                now=now,
            )
            message_id = str(reminder["Message-ID"])
            status = "drafted" if mode == "draft" else "sent"
            self.store.record_nudge(
                thread_key=thread.thread_key,
                number=thread.nudges + 1,
                reply=reminder.as_string(),
                message_id=message_id,
                recipient=thread.recipient,
                status="pending",
                now=now,
            )
            self._deliver_nudge(message_id, reminder, status=status)
            log.info("reminder %d sent in thread %s", thread.nudges + 1, thread.thread_key)
        return len(threads)

    def _resend_pending(self) -> None:
        """Hand on replies stored before a crash that never reached the outbox; one whose send
        state is unknown is looked up first (the sent folder), so it never goes out twice."""
        draft = self.config.bot.mode == "draft"
        for row in self.store.pending_replies():
            status = "drafted" if draft else "sent"
            if self.outbox.delivered(row.reply_message_id):
                log.info("reply %s was sent before a crash; marked sent", row.reply_message_id)
                self.store.mark_reply(row.in_reply_to, status=status, now=self.clock())
                continue
            reply = message_from_string(row.body, policy=policy.default)
            assert isinstance(reply, EmailMessage)
            self._deliver(row.in_reply_to, reply, draft=draft)
        for nudge in self.store.pending_nudges():
            status = "drafted" if draft else "sent"
            if self.outbox.delivered(nudge.reply_message_id):
                self.store.mark_nudge(nudge.reply_message_id, status=status, now=self.clock())
                continue
            reminder = message_from_string(nudge.body, policy=policy.default)
            assert isinstance(reminder, EmailMessage)
            self._deliver_nudge(nudge.reply_message_id, reminder, status=status)
