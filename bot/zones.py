"""Split a body into new text, quoted history, signature, forwarded part and disclaimer."""

from __future__ import annotations

import re
from functools import cache

from mailparser_reply import EmailReplyParser

from bot.model import Zones
from bot.rules import Rules, any_match

_HEADERISH = re.compile(r"^\s*[\w][\w .-]{1,24}\s?:\s")
_FROM = re.compile(r"^\s*\**(from|von|de|da|van|od|från)\s*\**\s*:\s*\S", re.IGNORECASE)
_QUOTED = re.compile(r"^\s*>")
_SPACE = re.compile(r"\s+")


def normalize(sentence: str) -> str:
    """A sentence reduced for comparison: no quote marks, case or spacing differences."""
    return _SPACE.sub(" ", sentence.replace(">", " ")).strip(" .!?,;:-").lower()


@cache
def _reply_parser(languages: tuple[str, ...]) -> EmailReplyParser:
    return EmailReplyParser(languages=list(languages))


def _library_cut(lines: list[str], rules: Rules) -> int | None:
    """Where mail-parser-reply sees the first quote header, as a line index."""
    try:
        replies = _reply_parser(rules.reply_languages).read(text="\n".join(lines)).replies
    except Exception:  # the library raises on odd input; our own patterns still apply
        return None
    if len(replies) < 2 or not replies[1].headers:
        return None
    first = replies[1].headers.strip().splitlines()[0].strip()
    for index, line in enumerate(lines):
        if line.strip() == first:
            return index
    return None


def _is_quote_header(lines: list[str], index: int, rules: Rules) -> bool:
    line = lines[index].strip()
    if not line:
        return False
    if _FROM.match(line):
        following = [entry for entry in lines[index + 1 : index + 5] if entry.strip()]
        return sum(1 for entry in following if _HEADERISH.match(entry)) >= 2
    if any_match(rules.quote_headers, line) and not line.lower().startswith(("from", "von", "de")):
        return True
    joined = f"{line} {lines[index + 1].strip()}" if index + 1 < len(lines) else line
    return line.lower().startswith("on ") and joined.lower().endswith("wrote:")


def _first_cut(lines: list[str], rules: Rules) -> tuple[int, bool]:
    """The index where quoted or forwarded history starts, and whether it is a forward."""
    library = _library_cut(lines, rules)
    for index, line in enumerate(lines):
        if library is not None and index >= library:
            break
        if any_match(rules.forward_markers, line.strip()):
            return index, True
        if _is_quote_header(lines, index, rules):
            return index, False
    if library is None:
        return len(lines), False
    before = "\n".join(lines[max(0, library - 2) : library])
    return library, bool(any_match(rules.forward_markers, before))


def _answers_between_quotes(tail: list[str], rules: Rules) -> tuple[list[str], list[str]]:
    """Unquoted lines written between `>` lines of the history are answers: new text."""
    body = [line for line in tail[1:4] if line.strip()]
    if not body or not _QUOTED.match(body[0]):
        return [], tail
    answers: list[str] = []
    quoted: list[str] = [tail[0]]
    seen_quote = False
    for index, line in enumerate(tail[1:], start=1):
        if _QUOTED.match(line):
            seen_quote = True
            quoted.append(line)
        elif not line.strip():
            quoted.append(line)
        elif _is_quote_header(tail, index, rules) or any_match(rules.forward_markers, line):
            quoted.extend(tail[index:])
            break
        elif seen_quote:
            answers.append(line)
    return answers, quoted


def _split_marker(lines: list[str], patterns: tuple[re.Pattern[str], ...]) -> int:
    for index, line in enumerate(lines):
        if index > 0 and any_match(patterns, line.strip()):
            return index
    return len(lines)


def _name_lines(sender_name: str) -> frozenset[str]:
    """Lines that are just the sender signing off: "Lee", "Lee Park", "- Lee", "LP"."""
    parts = [p for p in re.split(r"[\s,]+", sender_name) if p.isalpha()]
    if not parts:
        return frozenset()
    initials = "".join(p[0] for p in parts)
    return frozenset(v.lower() for v in (parts[0], " ".join(parts), initials) if len(v) >= 2)


def split_zones(
    text: str,
    rules: Rules,
    *,
    own_sentences: frozenset[str] = frozenset(),
    sender_name: str = "",
) -> Zones:
    """Split `text` into zones; sentences the bot itself sent count as quoted history, and a
    line that is only the sender's name starts the signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut, forwarded = _first_cut(lines, rules)
    head, tail = lines[:cut], lines[cut:]
    answers, tail = ([], tail) if forwarded or not tail else _answers_between_quotes(tail, rules)
    quoted = [line for line in head if _QUOTED.match(line)]
    own = [line for line in head if not _QUOTED.match(line)]
    disclaimer_at = _split_marker(own, rules.disclaimer_markers)
    disclaimer = own[disclaimer_at:]
    own = own[:disclaimer_at]
    signature_at = _split_marker(own, rules.signature_markers)
    names = _name_lines(sender_name)
    for index, line in enumerate(own[:signature_at]):
        if index > 0 and line.strip(" -\u2013\u2014~.,!").lower() in names:
            signature_at = index
            break
    signature = own[signature_at:]
    answer_sig = _split_marker(answers, rules.signature_markers) if answers else 0
    signature = answers[answer_sig:] + signature
    new_lines = own[:signature_at] + answers[:answer_sig]
    if own_sentences:
        kept = [line for line in new_lines if normalize(line) not in own_sentences]
        quoted += [line for line in new_lines if normalize(line) in own_sentences]
        new_lines = kept
    return Zones(
        new_text="\n".join(new_lines).strip(),
        quoted="\n".join(quoted + ([] if forwarded else tail)).strip(),
        signature="\n".join(signature).strip(),
        forwarded="\n".join(tail).strip() if forwarded else "",
        disclaimer="\n".join(disclaimer).strip(),
    )
