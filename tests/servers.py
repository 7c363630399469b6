"""Real mail servers for the tests: a throwaway Dovecot (plain, TLS or OAuth2) on loopback, a
token-introspection endpoint for its OAuth2 logins, and an aiosmtpd sink that records what it
receives. Each server takes a free port and its own temporary folder, so several can run at once
and none collides with a system Dovecot on 143/993."""

from __future__ import annotations

import base64
import binascii
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NoReturn
from urllib.parse import parse_qs

import pytest
from imapclient import IMAPClient

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


class Dovecot:
    """A throwaway Dovecot on a free loopback port, in its own temporary folder.

    Plain IMAP by default; with `ca`, implicit TLS only (imaps) with that CA's certificate; with
    `tokens`, XOAUTH2 and OAUTHBEARER logins are checked against a local introspection
    endpoint. Password logins (PLAIN, LOGIN) work in every variant, so the helpers below can
    always log in as `username`.

        with Dovecot() as server:
            uid = server.deliver(raw)
    """

    def __init__(
        self,
        *,
        ca: LocalCA | None = None,
        tokens: TokenStore | None = None,
        users: Mapping[str, str] | None = None,
    ) -> None:
        if DOVECOT is None:
            raise RuntimeError(DOVECOT_MISSING)
        self.ca, self.tokens = ca, tokens
        self.users = dict(users or {USERNAME: PASSWORD})
        self.username, self.password = next(iter(self.users.items()))
        self.host = LOOPBACK
        self.port = 0
        self.root = Path(tempfile.mkdtemp(prefix="quotebot-dovecot-"))
        # Dovecot's login processes run as dovenull without a chroot: they must reach base_dir
        self.root.chmod(0o711)
        self.log_path = self.root / "dovecot.log"
        self._endpoint: IntrospectionEndpoint | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def security(self) -> Security:
        """`tls` when the server speaks implicit TLS, else `none`."""
        return "tls" if self.ca else "none"

    @property
    def mail_dir(self) -> Path:
        """The Maildir of `username` (INBOX at its top, other folders below it)."""
        return self.root / "mail" / self.username

    def imap_settings(self, username: str | None = None) -> ServerSettings:
        """Host, port, security, login and CA file for a client of this server."""
        user = username or self.username
        return ServerSettings(
            host=self.host,
            port=self.port,
            security=self.security,
            username=user,
            password=self.users.get(user, ""),
            ca_file=self.ca.ca_file if self.ca else None,
        )

    def start(self) -> Dovecot:
        """Write the config and start Dovecot; returns once the port answers."""
        if self._process is not None:
            return self
        if self.tokens is not None and self._endpoint is None:
            self._endpoint = IntrospectionEndpoint(self.tokens)
        for attempt in range(5):
            self.port = self.port if attempt == 0 and self.port else free_port()
            self._write_config()
            if self._spawn():
                return self
        raise RuntimeError(f"Dovecot did not start; its log says:\n{self.log()}")

    def stop(self, *, graceful: bool = False) -> None:
        """Stop every Dovecot process. Fast by default (SIGKILL to the process group: clients
        see the connection drop); `graceful` lets Dovecot say BYE but takes over a second."""
        process, self._process = self._process, None
        if process is None:
            return
        if graceful:
            process.terminate()
            process.wait(timeout=STARTUP_SECONDS)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        _wait_group_gone(process.pid)

    def restart(self, *, graceful: bool = False) -> None:
        """Stop and start again on the same port, keeping the mail."""
        self.stop(graceful=graceful)
        self.start()

    def close(self) -> None:
        """Stop Dovecot and the introspection endpoint and delete the temporary folder."""
        self.stop()
        if self._endpoint is not None:
            self._endpoint.close()
            self._endpoint = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def log(self) -> str:
        """Dovecot's log so far (after a fast stop the last lines may be missing)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @contextmanager
    def connect(self, username: str | None = None) -> Iterator[IMAPClient]:
        """A logged-in imapclient connection, logged out at the end."""
        user = username or self.username
        context = self.ca.client_context() if self.ca else None
        with IMAPClient(
            self.host, self.port, ssl=self.ca is not None, ssl_context=context, timeout=10
        ) as client:
            client.login(user, self.users[user])
            yield client

    def deliver(self, raw: bytes, folder: str = "INBOX", *, flags: tuple[bytes, ...] = ()) -> int:
        """Put a message into `folder` (created when missing) by IMAP APPEND; returns its UID."""
        with self.connect() as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            answer = client.append(folder, raw, flags=flags)
        found = re.search(rb"APPENDUID \d+ (\d+)", answer)
        if not found:
            raise RuntimeError(f"Dovecot did not say the UID of the appended message: {answer!r}")
        return int(found.group(1))

    def messages(self, folder: str = "INBOX") -> list[bytes]:
        """The raw messages in `folder`, by UID, read without setting \\Seen."""
        return [raw for raw, _ in self._fetch(folder).values()]

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """UID → flags of every message in `folder`."""
        return {
            uid: tuple(f for f in flags if f != b"\\Recent")  # per-session, not stored
            for uid, (_, flags) in self._fetch(folder).items()
        }

    def _fetch(self, folder: str) -> dict[int, tuple[bytes, tuple[bytes, ...]]]:
        with self.connect() as client:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            data = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"]) if uids else {}
        return {uid: (data[uid][b"BODY[]"], tuple(data[uid][b"FLAGS"])) for uid in sorted(data)}

    def _spawn(self) -> bool:
        """Start the master and wait for the port; False when the port was taken meanwhile."""
        # a killed master leaves its pid file and maybe the state dotlock behind; a new
        # master would wait on that lock instead of serving
        (self.root / "base" / "master.pid").unlink(missing_ok=True)
        shutil.rmtree(self.root / "state", ignore_errors=True)
        (self.root / "state").mkdir()
        with open(self.root / "stderr.log", "ab") as stderr:
            process = subprocess.Popen(
                [str(DOVECOT), "-F", "-c", str(self.root / "dovecot.conf")],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,  # its own process group: stop() kills all of it
            )
        self._process = process
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self._process = None
                process.wait()
                _wait_group_gone(process.pid)
                if "Address already in use" in self.log():
                    return False
                raise RuntimeError(f"Dovecot exited at start:\n{self.log()}")
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.005)
        self.stop()
        raise RuntimeError(f"Dovecot did not answer on port {self.port}:\n{self.log()}")

    def _write_config(self) -> None:
        root = self.root
        mail = root / "mail"
        if not mail.exists():
            mail.mkdir()
            shutil.chown(mail, "dovecot", "dovecot")  # mail is written as the dovecot user
        users = root / "users"
        users.write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in self.users.items()))
        users.chmod(0o644)
        listener = f"inet_listener imaps {{\n    port = {self.port}\n    ssl = yes\n  }}"
        if self.ca is None:
            listener = f"inet_listener imap {{\n    port = {self.port}\n  }}"
        tls = (
            f"ssl = required\nssl_cert = <{self.ca.cert_file}\nssl_key = <{self.ca.key_file}\n"
            if self.ca
            else "ssl = no\n"
        )
        oauth2 = ""
        if self._endpoint is not None:
            (root / "oauth2.conf.ext").write_text(
                f"introspection_url = {self._endpoint.url}\n"
                "introspection_mode = post\n"
                "force_introspection = yes\n"
                "username_attribute = username\n"
                "active_attribute = active\n"
                "active_value = true\n"
            )
            oauth2 = OAUTH2_PASSDB.format(root=root)
        (root / "dovecot.conf").write_text(
            DOVECOT_CONFIG.format(root=root, listener=listener, tls=tls, oauth2=oauth2)
        )


DOVECOT_CONFIG = """\
# a throwaway test instance: its own folders, a loopback port, nothing from /etc/dovecot
instance_name = {root.name}
base_dir = {root}/base
state_dir = {root}/state
log_path = {root}/dovecot.log
listen = 127.0.0.1
protocols = imap
{tls}disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_verbose = yes
auth_failure_delay = 0
# Dovecot refuses root for mail access and for its login processes: use the Debian users
default_login_user = dovenull
default_internal_user = dovecot
mail_uid = dovecot
mail_gid = dovecot
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u:LAYOUT=fs
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
}}
{oauth2}passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = {root}/users
}}
# every refused login ends here: fail at once (nodelay) instead of after ~0.5 s
passdb {{
  driver = static
  args = nopassword=yes nodelay=yes
  deny = yes
}}
userdb {{
  driver = static
  args = home={root}/mail/%u
}}
service imap-login {{
  chroot =
  {listener}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0  # no auth penalty: refused logins from 127.0.0.1 do not slow later ones
  }}
}}
"""


OAUTH2_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/oauth2.conf.ext
}}
"""


def _wait_group_gone(pgid: int) -> None:
    """Wait until no live process is left in the group (zombies are ignored: they hold no
    ports or files, and PID 1 in a container may never reap them)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline and _group_alive(pgid):
        time.sleep(0.005)


def _group_alive(pgid: int) -> bool:
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()  # after "(command name)"
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


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
        return "250 2.0.0 OK queued"

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
