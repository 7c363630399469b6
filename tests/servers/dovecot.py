"""A throwaway Dovecot on a free loopback port (plain, implicit TLS, or OAuth2)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType

from imapclient import IMAPClient

from bot.config import Security
from servers.common import (
    DOVECOT,
    DOVECOT_MISSING,
    LOOPBACK,
    PASSWORD,
    STARTUP_SECONDS,
    USERNAME,
    IntrospectionEndpoint,
    LocalCA,
    ServerSettings,
    TokenStore,
    free_port,
)


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
        try:
            return self.start()
        except BaseException:
            self.close()  # __exit__ will not run: remove the folder and the endpoint here
            raise

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

    def deliver(
        self,
        raw: bytes,
        folder: str = "INBOX",
        *,
        flags: tuple[bytes, ...] = (),
        username: str | None = None,
    ) -> int:
        """Put a message into `folder` (created when missing) of `username`'s mailbox (default:
        the first user) by IMAP APPEND; returns its UID."""
        with self.connect(username) as client:
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
