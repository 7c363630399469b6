"""DKIM signatures checked by the bot itself (`[security] verify_dkim = true`), for shops whose
receiving server writes no Authentication-Results header the bot can trust. dkimpy does the
cryptography; the keys come from DNS (the system resolver, or `[security] dkim_resolver`).

A signature that does not verify, or whose key is gone, is simply not a pass. A DNS lookup that
times out or finds no server is not an answer either way: the message fails with a MessageError
and is tried again on the poison schedule, so a resolver outage never turns a purchasing lead's
release into a question about authority.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.errors import MessageError

if TYPE_CHECKING:
    import dns.resolver

log = logging.getLogger(__name__)
MAX_SIGNATURES = 5  # a message with more is not checking its sender; a bound on DNS lookups


class _NoAnswer(Exception):
    """DNS gave no answer at all (not dkimpy's DnsTimeoutError: dkimpy reads that as a fail)."""


class DkimVerifier:
    """The signing domains (`d=`) of a raw message's DKIM signatures that verify."""

    def __init__(self, *, resolver: tuple[str, int] | None = None, timeout: float = 5.0) -> None:
        import dns.resolver  # here, not at the top: 40 ms of start-up only a DKIM check needs

        self.timeout = timeout
        self._resolver: dns.resolver.Resolver = dns.resolver.Resolver(configure=resolver is None)
        # a shop hears from a few signing domains: a backlog looks each key up once per TTL
        self._resolver.cache = dns.resolver.LRUCache(1_000)
        if resolver is not None:
            self._resolver.nameservers = [resolver[0]]
            self._resolver.port = resolver[1]

    def _txt(self, name: bytes, timeout: float = 5.0) -> bytes | None:
        """dkimpy's DNS hook: the key record, None when there is none, an error when DNS
        gave no answer at all."""
        import dns.exception
        import dns.resolver

        try:
            answer = self._resolver.resolve(
                name.decode("ascii", "replace"), "TXT", lifetime=timeout, raise_on_no_answer=False
            )
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise _NoAnswer(type(exc).__name__) from None
        for record in answer.rrset or ():
            return b"".join(record.strings)
        return None

    def signers(self, raw: bytes) -> tuple[str, ...]:
        """Lower-cased `d=` domains whose signature verifies; raises MessageError when a key
        could not be looked up (DNS down), so the message is tried again later."""
        import dkim

        try:
            checker = dkim.DKIM(raw, timeout=int(self.timeout) or 1)
        except Exception as exc:  # dkimpy's own parser on a hostile message
            log.debug("DKIM: message not readable: %s", type(exc).__name__)
            return ()
        count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
        passed: list[str] = []
        for index in range(min(count, MAX_SIGNATURES)):
            try:
                ok = checker.verify(idx=index, dnsfunc=self._txt)
            except _NoAnswer as exc:
                raise MessageError(
                    f"DKIM key lookup failed (DNS: {exc}); the message is tried again later"
                ) from None
            except Exception as exc:  # a malformed signature or key: not a pass
                log.debug("DKIM signature %d does not verify: %s", index, type(exc).__name__)
                continue
            if ok and checker.domain:
                passed.append(checker.domain.decode("ascii", "replace").lower())
        return tuple(dict.fromkeys(passed))
