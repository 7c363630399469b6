"""An aiosmtpd server that records what it receives and can answer with a chosen failure."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from servers.common import (
    AIOSMTPD,
    AIOSMTPD_MISSING,
    LOOPBACK,
    LocalCA,
    ServerSettings,
    TokenStore,
    free_port,
)


@dataclass(frozen=True)
class Received:
    """One message the SMTP sink accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    auth: tuple[str, str] | None = None  # (mechanism, login) when the client logged in


SinkSecurity = Literal["none", "starttls", "tls"]


class _SinkHandler:
    """The aiosmtpd handler: records envelopes, answers one DATA with a chosen failure, checks
    XOAUTH2 tokens."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        # AUTH is enforced here: aiosmtpd's auth_required warns when TLS is not required too
        if self.sink.users is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.sink._lock:
            failure = self.sink._failures.pop(0) if self.sink._failures else None
        if failure:
            return failure
        content = envelope.original_content or envelope.content
        auth = session.auth_data if isinstance(session.auth_data, tuple) else None
        self.sink.received.append(
            Received(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(content), auth)
        )
        if self.sink.on_accept is not None:  # e.g. file it in Sent, as Gmail and M365 do
            self.sink.on_accept(bytes(content))
        return "250 2.0.0 OK queued"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.sink.slow_seconds:  # a slow server: the client waits before the data
            await asyncio.sleep(self.sink.slow_seconds)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> Any:
        from aiosmtpd.smtp import MISSING, AuthResult

        if len(args) > 1:
            blob: Any = _b64decode(args[1])
        else:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        fields = dict(
            part.split("=", 1) for part in (blob or b"").decode().split("\x01") if "=" in part
        )
        user, bearer = fields.get("user", ""), fields.get("auth", "")
        tokens = self.sink.tokens
        token = bearer.removeprefix("Bearer ")
        if tokens is not None and user and tokens.username(token) == user:
            return AuthResult(success=True, auth_data=("XOAUTH2", user))
        # like Gmail: a JSON error as a challenge, the client's empty answer, then 535
        error = json.dumps({"status": "401", "schemes": "bearer", "scope": "mail"})
        await server.challenge_auth(error)
        return AuthResult(
            success=False, handled=False, message="535 5.7.8 Username and Password not accepted"
        )


def _b64decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        return None


@dataclass
class SmtpSink:
    """An aiosmtpd server on a free loopback port that records every message it accepts.

    `users` turns on AUTH (PLAIN, LOGIN, and XOAUTH2 checked against `tokens`) and requires
    it; `security` "starttls" offers and requires STARTTLS, "tls" speaks implicit TLS, both
    with `ca`'s certificate. `fail_next(451)` makes the next DATA fail with that code.
    """

    security: SinkSecurity = "none"
    ca: LocalCA | None = None
    users: Mapping[str, str] | None = None
    tokens: TokenStore | None = None
    exclude_mechanisms: tuple[str, ...] = ()
    host: str = LOOPBACK
    port: int = 0
    received: list[Received] = field(default_factory=list)
    on_accept: Callable[[bytes], None] | None = None  # called with each accepted message
    slow_seconds: float = 0.0  # delay before answering each RCPT
    _failures: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Any = None

    def start(self) -> SmtpSink:
        """Start serving; returns once the server answers."""
        if not AIOSMTPD:
            raise RuntimeError(AIOSMTPD_MISSING)
        from aiosmtpd.controller import Controller

        if self.security != "none" and self.ca is None:
            raise ValueError(f"security {self.security!r} needs a LocalCA")
        context = self.ca.server_context() if self.ca else None
        options: dict[str, Any] = {
            "server_hostname": "sink.printshop.example",  # no getfqdn(): it can wait on DNS
            "auth_exclude_mechanism": list(self.exclude_mechanisms),
        }
        if self.users is not None:
            users = self.users
            options |= {
                "authenticator": lambda server, session, envelope, mechanism, data: _check(
                    users, mechanism, data
                ),
                # only STARTTLS counts as TLS for aiosmtpd; implicit TLS and loopback are fine
                "auth_require_tls": self.security == "starttls",
            }
        if self.security == "starttls":
            options |= {"tls_context": context, "require_starttls": True}
        if self.security == "tls":
            options["ssl_context"] = context
        for _ in range(5):
            self.port = free_port()
            controller = Controller(
                _SinkHandler(self), hostname=self.host, port=self.port, **options
            )
            try:
                controller.start()
            except OSError:
                continue  # the port was taken between free_port() and bind
            self._controller = controller
            return self
        raise RuntimeError("the SMTP sink found no free port")

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def fail_next(self, code: int, text: str = "") -> None:
        """Answer the next DATA with `code` (451: try later; 550: rejected) instead of 250."""
        default = "4.3.0 Try again later" if code < 500 else "5.7.1 Message rejected"
        with self._lock:
            self._failures.append(f"{code} {text or default}")

    def settings(self, username: str | None = None) -> ServerSettings:
        """Host, port, security, login and CA file for a client of this sink."""
        users = dict(self.users or {})
        user = username or next(iter(users), "")  # no AUTH offered: no login
        return ServerSettings(
            host=self.host,
            port=self.port,
            security=self.security,
            username=user,
            password=users.get(user, ""),
            ca_file=self.ca.ca_file if self.ca else None,
        )


def _check(users: Mapping[str, str], mechanism: str, data: Any) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    if isinstance(data, LoginPassword):
        login, password = data.login.decode(), data.password.decode()
        if users.get(login) == password:
            return AuthResult(success=True, auth_data=(mechanism, login))
    return AuthResult(success=False, handled=False)
