"""The SMTP outbox: replies go out through the shop's submission server, one connection each."""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import getaddresses

from bot.adapters.secrets import credential, tls_context
from bot.config import ServerConfig, SmtpConfig
from bot.errors import OutboxError

log = logging.getLogger(__name__)

# a bare address with nothing a parser could split differently (CVE-2023-27043)
_ADDRESS = re.compile(r"^[^\s@<>()\[\],;:\\\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


class SmtpError(OutboxError):
    """Raised when the submission server does not take a reply. The message starts with
    "temporary:" (`transient` is True: the same reply may go through later) or "permanent:"
    (a setting, the server or the reply must change first)."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message, transient=transient)


class _TokenRefused(Exception):
    """The server answered 535 to an OAuth2 token that may only have expired."""


class SmtpOutbox:
    """Hands replies to an SMTP submission server (`[outbox] kind = "smtp"`), logging in with
    a password or an OAuth2 token; certificates are always verified.

        outbox = SmtpOutbox(config.outbox, sender=config.bot.address)
        outbox.send(reply)
    """

    def __init__(
        self,
        config: SmtpConfig,
        sender: str,
        *,
        sent_lookup: Callable[[str], bool] | None = None,
    ) -> None:
        self.server: ServerConfig = config.server
        self.sender = sender
        self._sent_lookup = sent_lookup
        self._tls: ssl.SSLContext | None = None  # made once: it reads the system's CAs (50 ms)

    def send(self, message: EmailMessage, *, draft: bool = False) -> str:
        """Submit the reply to its To and Cc addresses; returns its Message-ID."""
        if draft:
            raise ValueError("SmtpOutbox cannot keep drafts: draft mode saves to IMAP Drafts")
        message_id = str(message.get("Message-ID", "")).strip()
        if not message_id:
            raise ValueError("the reply has no Message-ID (render_reply sets one)")
        recipients = _recipients(message)
        raw = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        try:
            refused = self._submit(raw, recipients, retry_token=self.server.auth == "oauth2")
        except _TokenRefused:
            log.info("%s refused the OAuth2 token; running token_command again", self.server.host)
            refused = self._submit(raw, recipients, retry_token=False)
        if refused:
            log.warning("reply %s refused for %s", message_id, ", ".join(sorted(refused)))
        log.info(
            "reply %s handed to %s for %d recipient(s)",
            message_id,
            self.server.host,
            len(recipients) - len(refused),
        )
        return message_id

    def keep_copy(self, message: EmailMessage) -> None:
        """SMTP keeps no copy (the IMAP outbox files one in the sent folder)."""

    def delivered(self, message_id: str) -> bool:
        """Whether the reply already went out. SMTP cannot tell: this asks `sent_lookup` (e.g.
        a search of the sent folder) and says False without one, so a crash between sending
        and recording may send a reply twice."""
        return self._sent_lookup(message_id) if self._sent_lookup else False

    def _submit(self, raw: bytes, recipients: list[str], *, retry_token: bool) -> dict[str, str]:
        """One connection: secure, log in, send. Returns the recipients the server refused
        while taking the message for the others."""
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            raise _translate(self.server, exc) from None
        try:
            self._login(client, retry_token=retry_token)
            refused = client.sendmail(self.sender, recipients, raw)
        except (OSError, smtplib.SMTPException) as exc:
            raise _translate(self.server, exc) from None
        finally:
            _close(client)
        return {address: _reply_text(reply[1]) for address, reply in refused.items()}

    def _context(self) -> ssl.SSLContext:
        """The TLS settings for every connection of this outbox, made at the first one."""
        if self._tls is None:
            self._tls = tls_context(self.server)
        return self._tls

    def _connect(self) -> smtplib.SMTP:
        """An open, secured connection (overridable, e.g. for a proxy)."""
        server = self.server
        helo = self.sender.rpartition("@")[2] or "localhost"  # no getfqdn(): it may wait on DNS
        if server.security == "tls":
            return smtplib.SMTP_SSL(
                server.host,
                server.port,
                local_hostname=helo,
                timeout=server.timeout_seconds,
                context=self._context(),
            )
        client = smtplib.SMTP(
            server.host, server.port, local_hostname=helo, timeout=server.timeout_seconds
        )
        if server.security == "starttls":
            try:
                client.ehlo()
                if not client.has_extn("starttls"):
                    raise SmtpError(
                        f"permanent: {server.host}:{server.port} does not offer STARTTLS, and "
                        "the login would go out unencrypted; check outbox.port and "
                        'outbox.security (use "tls" for port 465)',
                        transient=False,
                    )
                client.starttls(context=self._context())
                client.ehlo()
            except BaseException:
                client.close()  # no QUIT: after a failed handshake the session is unusable
                raise
        return client

    def _login(self, client: smtplib.SMTP, *, retry_token: bool) -> None:
        server = self.server
        if not server.username:
            return
        if server.auth == "password":
            client.login(server.username, credential(server))
            return
        client.ehlo_or_helo_if_needed()
        mechanisms = client.esmtp_features.get("auth", "").upper().split()
        if "XOAUTH2" not in mechanisms:
            raise SmtpError(
                f"permanent: {server.host}:{server.port} does not offer AUTH XOAUTH2 "
                f"(it offers {' '.join(mechanisms) or 'no AUTH'}); check outbox.auth",
                transient=False,
            )
        token = credential(server)
        initial = f"user={server.username}\x01auth=Bearer {token}\x01\x01"

        def respond(challenge: bytes | None = None) -> str:
            # after a refusal the server sends a JSON error as a challenge: answer empty
            return initial if challenge is None else ""

        try:
            client.auth("XOAUTH2", respond)
        except smtplib.SMTPAuthenticationError as exc:
            if exc.smtp_code == 535 and retry_token:
                raise _TokenRefused from None
            raise


def _recipients(message: EmailMessage) -> list[str]:
    """The To and Cc addresses, each checked strictly; a malformed one refuses the reply."""
    values = [str(value) for name in ("To", "Cc") for value in message.get_all(name, [])]
    found: list[str] = []
    for _, address in getaddresses(values):
        if not _ADDRESS.match(address):
            raise SmtpError(
                f"permanent: the reply's To/Cc holds {address!r}, not a plain address; "
                "nothing was sent",
                transient=False,
            )
        if address.lower() not in (a.lower() for a in found):
            found.append(address)
    if not found:
        raise SmtpError("permanent: the reply has no To or Cc address", transient=False)
    return found


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        pass  # already gone; close() below releases the socket either way
    finally:
        client.close()


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _translate(server: ServerConfig, exc: BaseException) -> SmtpError:
    """One place that turns smtplib, ssl and socket errors into an SmtpError naming the server,
    the cause and, where it is a setting, what to change."""
    if isinstance(exc, SmtpError):
        return exc
    if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, OSError):
        exc = exc.__context__  # smtplib wraps a timeout or reset while reading a reply
    where = f"{server.host}:{server.port}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
        code = min(code for code, _ in replies) if replies else 550
        text = "; ".join(f"{a}: {c} {_reply_text(t)}" for a, (c, t) in exc.recipients.items())
        return _by_code(where, code, f"every recipient refused ({text})")
    if isinstance(exc, smtplib.SMTPAuthenticationError) and exc.smtp_code == 535:
        return _by_code(where, exc.smtp_code, _reply_text(exc.smtp_error), fix=_auth_fix(server))
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(where, exc.smtp_code, _reply_text(exc.smtp_error))
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return SmtpError(
            f"permanent: {where}: {str(exc).rstrip('.')}; check outbox.port and "
            "outbox.security (submission servers offer AUTH on 587 and 465)",
            transient=False,
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SmtpError(
            f"permanent: {where}: certificate not trusted ({exc.verify_message}); set "
            "outbox.ca_file to the CA that signed it, or check outbox.host matches it",
            transient=False,
        )
    if isinstance(exc, ssl.SSLError):
        return SmtpError(
            f"permanent: {where}: TLS failed ({exc.reason or exc}); check outbox.security "
            '("tls" for port 465, "starttls" for 587)',
            transient=False,
        )
    if isinstance(exc, socket.gaierror):
        return SmtpError(
            f"temporary: {server.host}: name not resolved ({exc.strerror}); check outbox.host",
            transient=True,
        )
    if isinstance(exc, ConnectionRefusedError):
        return SmtpError(
            f"temporary: {where}: connection refused; is the server up and outbox.port right?",
            transient=True,
        )
    if isinstance(exc, TimeoutError):
        return SmtpError(
            f"temporary: {where}: no answer in {server.timeout_seconds:g} s; check outbox.host, "
            'outbox.port and outbox.security ("tls" for 465, "starttls" for 587)',
            transient=True,
        )
    if isinstance(exc, (OSError, smtplib.SMTPServerDisconnected)):
        return SmtpError(f"temporary: {where}: {exc}", transient=True)
    return SmtpError(f"permanent: {where}: {exc}", transient=False)


def _by_code(where: str, code: int, text: str, *, fix: str = "") -> SmtpError:
    transient = 400 <= code < 500
    kind = "temporary" if transient else "permanent"
    return SmtpError(
        f"{kind}: {where}: {code} {text}{f'; {fix}' if fix else ''}", transient=transient
    )


def _auth_fix(server: ServerConfig) -> str:
    if server.auth == "oauth2":
        return (
            "the OAuth2 token was refused twice: check outbox.username and that "
            "outbox.token_command prints a current token for it with the SMTP scope"
        )
    return (
        "authentication failed: check outbox.username and the password in the variable "
        f"{server.password_env} (named by outbox.password_env)"
    )
