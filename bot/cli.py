"""The `quotebot` command: check files, run the bot over the mailbox."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click

from bot.adapters.dkim import DkimVerifier
from bot.adapters.leases import Leases
from bot.adapters.schema import UPGRADE_HINT, upgrade
from bot.adapters.store import WORKER, Store, open_engine
from bot.check import Checked, as_json, check_path
from bot.config import Config, load_config, parse_config
from bot.digest import render_digest
from bot.errors import QuotebotError, SchemaError
from bot.evaluate import evaluate, format_report
from bot.logs import LogFormat, setup_logging
from bot.render import quoted_sentence
from bot.reports import (
    current_digest,
    grouped_digest,
    quarantine_lines,
    send_digests,
    status_lines,
)
from bot.rules import Rules, load_rules
from bot.service import RunReport, context_for
from bot.wiring import Adapters, open_adapters, open_bots, scaled, service

DEFAULT_CONFIG = Path("quotebot.toml")
log = logging.getLogger("bot")


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def _store(config: Config) -> Store:
    """The first mailbox's view of the database; an old schema names the upgrade command."""
    try:
        return Store(config.database_url, mailbox=config.each()[0].name)
    except SchemaError as exc:
        _fail(_upgrade_hint(exc, config.source))


def _upgrade_hint(exc: SchemaError, config_path: Path) -> str:
    return str(exc).replace(UPGRADE_HINT, f"quotebot db upgrade --config {config_path}")


def _load(config_path: Path) -> tuple[Config, Rules]:
    config = load_config(config_path)
    return config, load_rules(config.bot.rules_dir)


def _load_or_defaults(given: Path | None, default: Path) -> tuple[Config, Rules]:
    """The config named by --config (which must exist), else `default` when it exists, else
    the defaults (no contacts); exit 2 on an error."""
    try:
        if given is not None or default.exists():
            return _load(given or default)
        config = parse_config(
            Path("<defaults>"),
            {
                "bot": {"address": "quotes@quotebot.invalid"},
                "mailbox": {"path": "."},
                "outbox": {"path": "."},
            },
        )
        return config, load_rules(config.bot.rules_dir)
    except QuotebotError as exc:
        _fail(str(exc), 2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="quotebot")
def main() -> None:
    """quotebot reads a print shop's quotes mailbox and asks buyers the missing release
    questions: quantity, revision, timing and authority.

    \b
    Example:
      quotebot run --once --config quotebot.toml
    """


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Config file (default ./quotebot.toml; without it, no contacts are known).",
)
@click.option("--json", "as_lines", is_flag=True, help="One JSON object per message, one per line.")
@click.argument("paths", nargs=-1, required=True)
def check(config_path: Path | None, as_lines: bool, paths: tuple[str, ...]) -> None:
    """Decide .eml files (one message) and mbox files (one thread, oldest first) without
    touching any mailbox or database.

    Exit status: 0 all read, 1 some could not be read, 2 usage or config error.

    \b
    Example:
      quotebot check --json tests/data/labelled/001-vague-go-ahead.eml
    """
    setup_logging(0)
    config, rules = _load_or_defaults(config_path, DEFAULT_CONFIG)
    ctx = context_for(config)
    security = config.security
    dkim = DkimVerifier(resolver=security.dkim_resolver).signers if security.verify_dkim else None
    unreadable = 0
    for given in paths:
        for item in check_path(given, rules, ctx, dkim=dkim):
            unreadable += item.error is not None
            if as_lines:
                click.echo(json.dumps(as_json(item), ensure_ascii=False))
            else:
                _explain(item, rules)
    sys.exit(1 if unreadable else 0)


@main.command(name="eval")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Config file with the contacts the labels assume (default DIR/quotebot.toml).",
)
@click.option("--show-wrong", is_flag=True, help="List every case with a wrong field.")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False, exists=True))
def eval_command(config_path: Path | None, show_wrong: bool, folder: Path) -> None:
    """Score the decisions on a labelled FOLDER: per-field accuracy, the confusion of actions
    and every false release by name. FOLDER holds the mail and a labels.toml (format: see
    bot/evaluate.py).

    Exit status: 0 scored, 2 usage, config or label error.

    \b
    Example:
      quotebot eval tests/data/labelled
    """
    setup_logging(0)
    config, rules = _load_or_defaults(config_path, folder / "quotebot.toml")
    try:
        report = evaluate(folder, rules, context_for(config))
    except QuotebotError as exc:
        _fail(str(exc), 2)
    click.echo(format_report(report, show_wrong=show_wrong))


def _explain(item: Checked, rules: Rules) -> None:
    if item.decision is None or item.message is None:
        click.echo(f"{item.file}: could not be read: {item.error}\n")
        return
    d, m = item.decision, item.message
    click.echo(f"{item.file}  {d.message_id}")
    click.echo(f"  from {m.from_addr or '?'}: {m.subject}")
    click.echo(f"  decision: {d.action.upper()}  stage: {d.stage}  ({d.reason})")
    if d.authority:
        click.echo(f"  authority: {d.authority}")
    for s in d.statements:
        how = ", ".join(
            part
            for part in (s.modality, "negated" if s.negated else "", "bounded" if s.bounded else "")
            if part
        )
        click.echo(f'  statement ({s.scope}; {how}): "{s.sentence}"')
    for name, sentence in d.fields.evidence:
        click.echo(f'  {name}: "{sentence}"')
    if d.missing:
        click.echo(f"  missing: {', '.join(d.missing)}")
        click.echo(f'  the reply would quote: "{quoted_sentence(d)}" and ask:')
        for name in d.missing:
            click.echo(f"    - {rules.questions[name]}")
    click.echo("")


def _print_report(report: RunReport, show_reply: bool, *, mailboxes: bool = False) -> None:
    """The run's table; `mailboxes`: the config has several, so each row says whose it is."""
    width = 46
    pad = max([len("mailbox"), *(len(row.mailbox) for row in report.rows)]) if mailboxes else 0
    head = f"{'mailbox':<{pad}} " if pad else ""
    click.echo(f"{head}{'message':<{width}} {'decision':<8} {'stage':<10} {'reply':<10} missing")
    for row in report.rows:
        label = (row.subject or row.message_id)[: width - 1]
        missing = (
            ", ".join(row.missing) if row.missing else ("error: " + row.error if row.error else "-")
        )
        where = f"{row.mailbox:<{pad}} " if pad else ""
        click.echo(
            f"{where}{label:<{width}} {row.action:<8} {row.stage:<10} {row.reply or '-':<10} "
            f"{missing}"
        )
    if report.handled > len(report.rows):
        hidden = report.handled - len(report.rows)
        click.echo(f"... and {hidden} more, neither answered nor failed (see the database)")
    click.echo(
        f"\n{report.handled} handled, {report.skipped} already seen, "
        f"{len(report.replies)} replies written, {report.failed} failed"
    )
    if show_reply and report.replies:
        reply = report.replies[0]
        body = reply.get_body(preferencelist=("plain",))
        click.echo("\nOne reply in full:\n")
        for name in (
            "From",
            "To",
            "Subject",
            "In-Reply-To",
            "References",
            "Auto-Submitted",
            "Message-ID",
        ):
            if reply[name]:
                click.echo(f"{name}: {reply[name]}")
        click.echo("")
        click.echo(body.get_content() if body is not None else "")


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="Config file.",
)
@click.option("--once", is_flag=True, help="One pass over the mailbox (and reminders), then exit.")
@click.option("--show-reply", is_flag=True, help="With --once: print one reply in full.")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log one line per message to stderr (-vv: also the IMAP protocol, logins redacted).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per log line, for log collectors.",
)
def run(
    config_path: Path, once: bool, show_reply: bool, verbose: int, log_format: LogFormat
) -> None:
    """Read the mailbox, decide every new message, send clarification replies and reminders,
    record everything, and send the ops lead's digest on its schedule. Runs until SIGTERM or
    Ctrl-C, which let the message in hand finish. Messages already handled are never handled
    again.

    \b
    Example:
      quotebot run --once --config examples/quotebot.toml
    """
    setup_logging(max(verbose, 0 if once else 1), log_format)
    opened = None
    try:
        config, rules = _load(config_path)
        opened = open_bots(config, rules)
        if once:
            report = opened.passes.run_once()
            opened.passes.nudge()
            _print_report(report, show_reply, mailboxes=bool(config.mailboxes))
            return
        first = next(iter(opened.adapters.values()))
        senders = {name: a.sender for name, a in opened.adapters.items()}
        service(config, opened.passes, first, opened.store, senders=senders).run()
    except SchemaError as exc:
        _fail(_upgrade_hint(exc, config_path))
    except QuotebotError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        log.info("stopped")
    finally:
        if opened is not None:
            opened.close()


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="Config file.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the HTML digest to this file.",
)
@click.option("--send", is_flag=True, help="Email it to [digest] to through the outbox.")
def digest(config_path: Path, html_path: Path | None, send: bool) -> None:
    """Print the ops lead's digest of everything since the last one: releases, quotes waiting
    on the buyer, checkpoints and holds, and the bot's health.

    \b
    Example:
      quotebot digest --config examples/quotebot.toml --html var/digest.html
    """
    setup_logging(0)
    opened: list[Adapters] = []
    try:
        config, _rules = _load(config_path)
        if send and not any(c.digest.to for c in (config, *config.mailboxes)):
            _fail(f"{config.source}: digest.to is not set; name the ops lead's address", 2)
        store = _store(config)
        now = datetime.now(UTC)
        if send:
            senders = {}
            for entry in config.each():
                opened.append(open_adapters(entry))
                senders[entry.name] = opened[-1].sender
            for message in send_digests(config, store, senders, now):
                click.echo(f"digest sent to {message['To']}")
            return
        if config.mailboxes:
            _digest, text, html = grouped_digest(config, store, now, config.mailboxes)
        else:
            text, html = render_digest(current_digest(config, store, now), config.bot.templates_dir)
        click.echo(text.rstrip())
        if html_path is not None:
            try:
                html_path.parent.mkdir(parents=True, exist_ok=True)
                html_path.write_text(html, encoding="utf-8")
            except OSError as exc:
                _fail(f"{html_path}: cannot write the HTML digest: {exc.strerror}")
    except QuotebotError as exc:
        _fail(str(exc))
    finally:
        for adapters in opened:
            adapters.close()


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="Config file.",
)
def status(config_path: Path) -> None:
    """Print the bot's health (last successful poll, failures, connection errors) and the
    release state of every open thread.

    \b
    Example:
      quotebot status --config examples/quotebot.toml
    """
    setup_logging(0)
    try:
        config, _rules = _load(config_path)
        store = _store(config)
        lines = []
        for entry in config.each():
            digest = current_digest(entry, store.for_mailbox(entry.name), datetime.now(UTC))
            if config.mailboxes:
                lines += [f"== mailbox {entry.name} ({entry.bot.address})"]
            lines += [*status_lines(digest), ""]
        if scaled(config):
            leases = Leases(store.engine, WORKER, seconds=config.lease_seconds).held()
            lines.append("workers (mailbox leases):" if leases else "workers: none polling now")
            for mailbox, owner, until in leases:
                lines.append(f"  {mailbox:<20} {owner:<30} until {until:%H:%M:%S} UTC")
        for line in lines + quarantine_lines(store):
            click.echo(line)
    except QuotebotError as exc:
        _fail(str(exc))


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="Config file.",
)
@click.option(
    "--mailbox",
    "mailbox_name",
    default=None,
    help="Only in this mailbox ([[mailboxes]] name); by default in every one where it failed.",
)
@click.argument("message_id")
def retry(config_path: Path, message_id: str, mailbox_name: str | None) -> None:
    """Send a failed or quarantined message (MESSAGE_ID as `quotebot status` lists it) back
    for one more try on the next pass, in every mailbox where it failed unless --mailbox
    names one.

    \b
    Example:
      quotebot retry '<INBOX/1700000000/42@quotebot.invalid>'
      quotebot retry --mailbox lyon '<INBOX/1700000000/42@quotebot.invalid>'
    """
    setup_logging(0)
    try:
        config, _rules = _load(config_path)
        names = [entry.name for entry in config.each()]
        if mailbox_name is not None and mailbox_name not in names:
            known = ", ".join(names)
            _fail(f"no mailbox named {mailbox_name!r} in {config_path} (it has: {known})", 2)
        retried = _store(config).retry(message_id, datetime.now(UTC), mailbox=mailbox_name)
        if not retried:
            where = f" in mailbox {mailbox_name}" if mailbox_name is not None else ""
            _fail(
                f"{message_id}: no failed message with this id{where}; "
                "`quotebot status` lists them",
                2,
            )
        where = f" (mailbox {', '.join(retried)})" if config.mailboxes else ""
        click.echo(f"{message_id} will be tried again on the next pass{where}")
    except QuotebotError as exc:
        _fail(str(exc))


@main.group()
def db() -> None:
    """The database: `quotebot db upgrade` creates or upgrades its schema.

    \b
    Example:
      quotebot db upgrade --config quotebot.toml
    """


@db.command(name="upgrade")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="Config file (its database.url is upgraded).",
)
def db_upgrade(config_path: Path) -> None:
    """Create the schema of database.url, or upgrade it to this quotebot's (SQLite or
    PostgreSQL). A database made before migrations existed is recognised and upgraded with its
    rows. Back the database up first: there is no downgrade.

    \b
    Example:
      quotebot db upgrade --config quotebot.toml
    """
    setup_logging(0)
    try:
        config, _rules = _load(config_path)
        engine = open_engine(config.database_url)
        found, now = upgrade(engine)
        engine.dispose()
    except QuotebotError as exc:
        _fail(str(exc))
    if found == now:
        click.echo(f"database already at revision {now}")
    else:
        click.echo(f"database upgraded from revision {found or '(empty)'} to {now}")
