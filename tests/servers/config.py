"""One writer for the TOML configs the server tests hand to `quotebot run`: the Dovecot
mailbox(es), the SMTP sink, the database, and whatever a test adds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from servers.dovecot import Dovecot
from servers.smtp import SmtpSink


def _imap(dovecot: Dovecot, username: str, password_env: str, imap_extra: str) -> str:
    imap = dovecot.imap_settings(username)
    return (
        f'kind = "imap"\nhost = "{imap.host}"\nport = {imap.port}\nsecurity = "none"\n'
        f'username = "{username}"\npassword_env = "{password_env}"\n{imap_extra}'
    )


def _smtp(sink: SmtpSink, smtp_extra: str) -> str:
    smtp = sink.settings()
    return (
        f'kind = "smtp"\nhost = "{smtp.host}"\nport = {smtp.port}\nsecurity = "none"\n{smtp_extra}'
    )


def write_config(
    path: Path,
    *,
    dovecot: Dovecot,
    sink: SmtpSink,
    database_url: str,
    mailboxes: Sequence[str] = (),
    bot_extra: str = 'since = "2020-01-01"\n',
    imap_extra: str = "",
    smtp_extra: str = "",
    password_env: str = "QUOTEBOT_TEST_PASSWORD",
    database_extra: str = "",
    extra: str = "",
) -> Path:
    """Write a config to `path`: the single [mailbox] form for Dovecot's first user, or with
    `mailboxes` (Dovecot user names) one [[mailboxes]] entry per user, named m0, m1 ...; every
    mailbox answers acme-robotics.example. `extra` is appended as it is (more tables)."""
    customers = '[customers]\ndomains = ["acme-robotics.example"]\n'
    head = f'[bot]\naddress = "{dovecot.username}"\n{bot_extra}'
    body = f'[database]\nurl = "{database_url}"\n{database_extra}'
    if not mailboxes:
        body += (
            f"[mailbox]\n{_imap(dovecot, dovecot.username, password_env, imap_extra)}"
            f"[outbox]\n{_smtp(sink, smtp_extra)}{customers}"
        )
    else:
        head = f"[bot]\n{bot_extra}"
        for index, user in enumerate(mailboxes):
            body += (
                f'[[mailboxes]]\nname = "m{index}"\naddress = "{user}"\n'
                f"[mailboxes.mailbox]\n{_imap(dovecot, user, password_env, imap_extra)}"
                f"[mailboxes.outbox]\n{_smtp(sink, smtp_extra)}"
                f'[mailboxes.customers]\ndomains = ["acme-robotics.example"]\n'
            )
    path.write_text(head + body + extra, encoding="utf-8")
    return path
