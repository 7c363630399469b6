"""A throwaway DNS server (dnsmasq) on a free loopback port, answering TXT records the test
gives it (DKIM keys) and nothing else; `stop()` leaves lookups unanswered, as in an outage."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import dns.exception
import dns.resolver

from servers.common import LOOPBACK, STARTUP_SECONDS, free_port

DNSMASQ = shutil.which("dnsmasq", path="/usr/sbin:/usr/bin:/sbin")
DNSMASQ_MISSING = (
    "dnsmasq is not installed (apt-get install dnsmasq-base); the DKIM tests need a DNS server"
)
PROBE = "probe.quotebot.test"  # answered once dnsmasq is up
MAX_STRING = 255  # one TXT character-string; longer keys are split, as zone files do


class DnsServer:
    """dnsmasq serving `records` (name -> TXT text) on 127.0.0.1:`port`, UDP and TCP."""

    def __init__(self, records: dict[str, str]) -> None:
        self.records = records
        self.port = free_port()
        self._folder = Path(tempfile.mkdtemp(prefix="quotebot-dns-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return LOOPBACK, self.port

    def start(self) -> None:
        """Start dnsmasq and wait until it answers."""
        assert DNSMASQ is not None
        args = [
            DNSMASQ,
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            f"--port={self.port}",
            f"--listen-address={LOOPBACK}",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--local=/#/",  # authoritative: a name without a record is NXDOMAIN, not REFUSED
            "--user=root",
            f"--pid-file={self._folder / 'dnsmasq.pid'}",
        ]
        for name, text in {**self.records, PROBE: "up"}.items():
            parts = [text[i : i + MAX_STRING] for i in range(0, len(text), MAX_STRING)]
            args.append(f"--txt-record={name}," + ",".join(parts))  # no shell, so no quotes
        self._process = subprocess.Popen(args, stderr=subprocess.PIPE)
        deadline = time.monotonic() + STARTUP_SECONDS
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                assert self._process.stderr is not None
                self._process.kill()
                error = self._process.stderr.read()
                self.stop()
                raise RuntimeError(f"dnsmasq did not start: {error!r}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = [LOOPBACK], self.port
        try:
            resolver.resolve(PROBE, "TXT", lifetime=0.5)
        except (dns.exception.DNSException, OSError):
            return False
        return True

    def stop(self) -> None:
        """Stop answering: lookups time out, as when the shop's resolver is down."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            if self._process.stderr is not None:
                self._process.stderr.close()
            self._process = None

    def __enter__(self) -> DnsServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        shutil.rmtree(self._folder, ignore_errors=True)
