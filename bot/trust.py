"""Whether the shop's own receiving server vouches for a sender (RFC 8601 Authentication-Results).

Only the topmost `Authentication-Results` header whose authserv-id is the shop's counts: the
shop's server prepends its own, and anything below it (or from another authserv-id) is whatever
the sender or a relay chose to write. Where the shop has no such server, the bot's own DKIM check
(bot/adapters/dkim.py, done at the edge) comes in as `Message.dkim_pass`. Pure: no DNS, no I/O;
garbage reads as "not verified".
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from bot.model import Message

HEADER = "authentication-results"
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"?', re.S)
# a key starts after a space or at the start (keeps matching linear on a long garbage token)
_PAIR = re.compile(r'(?<![^\s;])([^\s=;"()]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^\s;"()]*)', re.S)
_ESCAPE = re.compile(r"\\(.)", re.S)
_JOIN = re.compile(r'"(?:[^"\\]|\\.)*"?|\s*([/.])\s*', re.S)


@dataclass(frozen=True)
class AuthResult:
    """One `method=result` of an Authentication-Results header with its reason and properties."""

    method: str  # lower-cased, version dropped: "dkim", "dmarc", "spf"
    result: str  # lower-cased: "pass", "fail", "none", ...
    reason: str | None = None
    properties: tuple[tuple[str, str], ...] = ()  # ("header.d", "acme.example"), lower-cased keys

    def prop(self, name: str) -> str | None:
        """The first value of a property such as "header.d", or None."""
        wanted = name.lower()
        for key, value in self.properties:
            if key == wanted:
                return value
        return None


@dataclass(frozen=True)
class AuthResults:
    """One parsed header: who wrote it and what it found. `authserv_id` is "" when the header
    names none (Microsoft 365 writes `spf=pass ...` straight away); such a header never matches."""

    authserv_id: str
    version: int | None
    results: tuple[AuthResult, ...]


@dataclass(frozen=True)
class Verdict:
    """Whether the sender is vouched for, and why, in words for `quotebot check` and the log."""

    verified: bool
    why: str


def _strip_comments(value: str) -> str:
    """The value unfolded, with (nested) comments outside quoted strings turned into spaces."""
    out: list[str] = []
    depth = 0
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if depth:
            if ch == "\\":
                i += 1
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if not depth:
                    out.append(" ")
        elif ch == '"':
            quoted = _QUOTED.match(value, i)
            end = quoted.end() if quoted else n
            out.append(value[i:end])
            i = end
            continue
        elif ch == "(":
            depth = 1
        elif ch == ")":
            out.append(" ")  # a stray closing parenthesis: not part of any token
        else:
            out.append(" " if ch in "\r\n\t" else ch)
        i += 1
    return "".join(out)


def _split(value: str) -> list[str]:
    """Split on semicolons outside quoted strings."""
    parts: list[str] = []
    start = i = 0
    while i < len(value):
        if value[i] == '"':
            quoted = _QUOTED.match(value, i)
            i = quoted.end() if quoted else len(value)
            continue
        if value[i] == ";":
            parts.append(value[start:i])
            start = i + 1
        i += 1
    parts.append(value[start:])
    return parts


def _unquote(value: str) -> str:
    if value.startswith('"'):
        body = value[1:-1] if len(value) > 1 and value.endswith('"') else value[1:]
        return _ESCAPE.sub(r"\1", body)
    return value


def _resinfo(segment: str) -> AuthResult | None:
    # RFC 8601 allows space around "/" and "." ("dkim / 1 = fail policy . expired = 1")
    segment = _JOIN.sub(lambda m: m.group(1) or m.group(0), segment)
    pairs = [(key.lower(), _unquote(value)) for key, value in _PAIR.findall(segment)]
    if not pairs:
        return None
    (method, result), rest = pairs[0], pairs[1:]
    method = method.split("/", 1)[0]
    if "." in method or not method or not result:
        return None
    reason = next((value for key, value in rest if key == "reason"), None)
    props = tuple((key, value) for key, value in rest if key != "reason")
    return AuthResult(method, result.lower(), reason, props)


def parse_authentication_results(value: str) -> AuthResults | None:
    """Parse one header value; None when it is empty. Never raises.

    >>> parse_authentication_results("mx.example; dmarc=pass (p=REJECT)").results[0].result
    'pass'
    """
    segments = _split(_strip_comments(value))
    head = segments[0].strip()
    authserv_id, version = "", None
    if _PAIR.search(head):  # no authserv-id: the first segment is already a result
        rest = segments
    else:
        rest = segments[1:]
        words = head.split()
        if not words:
            return None
        authserv_id = _unquote(words[0]).strip().lower()
        if len(words) > 1 and words[1].isascii() and words[1].isdigit() and len(words[1]) < 6:
            version = int(words[1])
    results: list[AuthResult] = []
    for segment in rest:
        if segment.strip().lower() == "none":
            continue  # "no results": nothing to record
        found = _resinfo(segment)
        if found is not None:
            results.append(found)
    return AuthResults(authserv_id, version, tuple(results))


def aligned(signer: str, author: str) -> bool:
    """Relaxed alignment without a public-suffix list: the same domain, or one a subdomain of
    the other. A single-label signer ("example") never aligns."""
    d, a = signer.strip().strip(".").lower(), author.strip().strip(".").lower()
    if "." not in d or not a:
        return False
    return d == a or a.endswith("." + d) or d.endswith("." + a)


def _signer(result: AuthResult) -> str:
    """The DKIM signing domain: header.d, else the domain of header.i."""
    domain = result.prop("header.d")
    if domain:
        return domain
    identity = result.prop("header.i") or ""
    return identity.rpartition("@")[2]


def _said(result: AuthResult, domain: str) -> str:
    """A result in words, with the domain it was for when that is not the From domain."""
    said = f"{result.method}={result.result}"
    about = result.prop("header.from") if result.method == "dmarc" else _signer(result)
    if about and about.strip().lower() != domain:
        said += f" for {about}"
    return said


def _judge(results: tuple[AuthResult, ...], domain: str, where: str) -> Verdict:
    dmarc = [r for r in results if r.method == "dmarc"]
    outcomes = sorted({r.result for r in dmarc})
    if "fail" in outcomes or len(outcomes) > 1:
        # the server judged this From and did not vouch for it; two different dmarc results in
        # one header are not something a server writes, so neither counts
        return Verdict(False, f"{', '.join('dmarc=' + o for o in outcomes)} from {where}")
    for r in dmarc:
        header_from = (r.prop("header.from") or domain).strip().lower()
        if r.result == "pass" and header_from == domain:
            return Verdict(True, f"dmarc=pass from {where}")
    signers = [_signer(r) for r in results if r.method == "dkim" and r.result == "pass"]
    for signer in signers:
        if aligned(signer, domain):
            return Verdict(True, f"dkim=pass for {signer.lower()} from {where}")
    if signers:
        return Verdict(
            False, f"dkim=pass for {', '.join(signers)} from {where}, not aligned with {domain}"
        )
    found = ", ".join(_said(r, domain) for r in results if r.method in ("dmarc", "dkim"))
    return Verdict(False, f"{found or 'no dmarc or dkim result'} from {where}")


def verify_sender(message: Message, authserv_ids: Collection[str]) -> Verdict:
    """Whether the topmost Authentication-Results with one of `authserv_ids` vouches for the
    From domain (`dmarc=pass` for it, or `dkim=pass` with an aligned signing domain), or the
    bot's own DKIM check (`message.dkim_pass`) found a signature aligned with it."""
    domain = _from_domain(message)
    if isinstance(domain, Verdict):  # nothing to align with: nobody can vouch
        return domain
    header = _server_verdict(message, domain, authserv_ids)
    if header.verified or message.dkim_pass is None:
        return header
    for signer in message.dkim_pass:
        if aligned(signer, domain):
            return Verdict(True, f"DKIM signature of {signer} verified by quotebot")
    own = f"no DKIM signature aligned with {domain} verified by quotebot"
    if message.dkim_pass:
        own += f" (signed by {', '.join(message.dkim_pass)})"
    return Verdict(False, f"{own}; {header.why}" if authserv_ids else own)


def _from_domain(message: Message) -> str | Verdict:
    """The From domain, lower-cased, or why the message has none to check."""
    if len(message.header_all("from")) > 1:
        return Verdict(False, "more than one From header")
    domain = message.from_addr.rpartition("@")[2].strip().lower()
    if "@" not in message.from_addr or not domain:
        return Verdict(False, "no From address")
    return domain


def _server_verdict(message: Message, domain: str, authserv_ids: Collection[str]) -> Verdict:
    ids = {i.lower() for i in authserv_ids}
    names = " or ".join(sorted(ids)) or "no configured server"
    for value in message.header_all(HEADER):
        parsed = parse_authentication_results(value)
        if parsed is not None and parsed.authserv_id in ids:
            return _judge(parsed.results, domain, parsed.authserv_id)
    return Verdict(False, f"no Authentication-Results from {names}")
