"""What the test servers share: names, ports, the local CA, OAuth2 tokens and the skip rule."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qs

import pytest

from bot.config import Auth, Security, ServerConfig

USERNAME = "quotes@printshop.example"
PASSWORD = "secret"
TOKEN = "valid-token"
LOOPBACK = "127.0.0.1"
REQUIRE_ENV = "QUOTEBOT_REQUIRE_SERVERS"
DOVECOT = shutil.which("dovecot", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/local/sbin")
DOVECOT_MISSING = (
    "Dovecot is not installed (apt-get install dovecot-imapd); the IMAP tests need a real server"
)
AIOSMTPD = importlib.util.find_spec("aiosmtpd") is not None
AIOSMTPD_MISSING = "aiosmtpd is not installed (pip install -e '.[dev]'); the SMTP tests need it"
OPENSSL_MISSING = "the openssl command is not installed; the TLS tests need it for certificates"
STARTUP_SECONDS = 10.0


def unavailable(message: str) -> NoReturn:
    """Skip the test because a server is missing, or fail it when QUOTEBOT_REQUIRE_SERVERS=1
    (CI, where a skipped server test would hide a broken setup)."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message} (required: {REQUIRE_ENV}=1)")
    pytest.skip(message)


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class ServerSettings:
    """What a client needs to reach one of these servers and log in."""

    host: str
    port: int
    security: Security
    username: str
    password: str
    ca_file: Path | None = None

    def server_config(
        self,
        *,
        auth: Auth = "password",
        password_env: str | None = "QUOTEBOT_TEST_PASSWORD",
        token_command: str | None = None,
        timeout_seconds: float = 5.0,
    ) -> ServerConfig:
        """A ServerConfig for this server; the test puts the password into `password_env`."""
        return ServerConfig(
            host=self.host,
            port=self.port,
            security=self.security,
            username=self.username,
            auth=auth,
            password_env=password_env if auth == "password" else None,
            token_command=token_command,
            ca_file=self.ca_file,
            timeout_seconds=timeout_seconds,
        )


@dataclass(frozen=True)
class LocalCA:
    """A throwaway certificate authority and the certificate it signed for 127.0.0.1 and
    localhost; clients trust it through `ca_file` only."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    @classmethod
    def create(cls, folder: Path) -> LocalCA:
        """Make the CA and the server certificate in `folder` with the openssl command."""
        folder.mkdir(parents=True, exist_ok=True)
        ca, ca_key = folder / "ca.pem", folder / "ca.key"
        cert, key, csr = folder / "server.pem", folder / "server.key", folder / "server.csr"
        extensions = folder / "server.ext"
        extensions.write_text(
            "subjectAltName = DNS:localhost, IP:127.0.0.1\n"
            "basicConstraints = critical, CA:FALSE\n"
            "keyUsage = critical, digitalSignature\n"
            "extendedKeyUsage = serverAuth\n"
            "subjectKeyIdentifier = hash\n"
            "authorityKeyIdentifier = keyid\n"
        )
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        _openssl(
            "req", "-x509", *ec, "-days", "7", "-keyout", ca_key, "-out", ca,
            "-subj", "/CN=quotebot test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
        _openssl("req", "-new", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
        _openssl(
            "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-out", cert, "-days", "7",
            "-set_serial", f"0x{secrets.token_hex(8)}", "-extfile", extensions,
        )  # fmt: skip
        for path in (ca, cert, key):
            path.chmod(0o644)  # Dovecot's config process and the tests read them
        return cls(ca_file=ca, cert_file=cert, key_file=key)

    def client_context(self) -> ssl.SSLContext:
        """A default client context (verification on) that trusts this CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def server_context(self) -> ssl.SSLContext:
        """A server context presenting the certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _openssl(*args: str | Path) -> None:
    done = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.strip()}")


class TokenStore:
    """OAuth2 access tokens the test servers accept, each naming its user; a test grants and
    revokes them while the servers run."""

    def __init__(self, tokens: Mapping[str, str] | None = None) -> None:
        self._tokens = dict(tokens or {})
        self._lock = threading.Lock()
        self.seen: list[str] = []  # every token a server was asked about, in order

    def grant(self, token: str, username: str = USERNAME) -> None:
        """Accept `token` for `username` from now on."""
        with self._lock:
            self._tokens[token] = username

    def revoke(self, token: str) -> None:
        """Refuse `token` from now on."""
        with self._lock:
            self._tokens.pop(token, None)

    def username(self, token: str) -> str | None:
        """The user a token belongs to, or None when it is not valid."""
        with self._lock:
            self.seen.append(token)
            return self._tokens.get(token)


class IntrospectionEndpoint:
    """An RFC 7662 token-introspection endpoint on loopback, as Dovecot's oauth2 passdb calls it
    with `introspection_mode = post`: answers {"active": true, "username": ...} or
    {"active": false}."""

    def __init__(self, tokens: TokenStore) -> None:
        store = tokens

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode("ascii", "replace"))
                user = store.username(form.get("token", [""])[0])
                answer = {"active": True, "username": user} if user else {"active": False}
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test output stays clean

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{LOOPBACK}:{self._server.server_address[1]}/introspect"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
