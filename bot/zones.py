"""Split a body into new text, quoted history, signature, forwarded part and disclaimer.

Each line is first classed as the sender's own, quoted history or a forwarded copy; then every
run of own lines (the top of the message, or an answer written between quoted questions) is
split into new text, signature and disclaimer.
"""

from __future__ import annotations

import re

from bot.model import Zones
from bot.quote_headers import library_header
from bot.rules import Patterns, Rules, any_match
from bot.sentences import clip_text

_QUOTED = re.compile(r"^\s*>")
_FIELD = re.compile(r"^\W{0,2}[^\W\d_][^:\n]{0,24}?:\W{0,2}(?:\s|$)")  # "Sent: x", "*To:* x"
_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")
_OWN, _QUOTE, _FORWARD = "own", "quoted", "forwarded"
_NEW, _SIGNATURE, _DISCLAIMER = "new", "signature", "disclaimer"


def normalize(sentence: str) -> str:
    """A sentence reduced for comparison: no quote marks, case or spacing differences."""
    # str.split() breaks at the whitespace `\s` matches: the same, four times faster
    return " ".join(sentence.replace(">", " ").split()).strip(" .!?,;:-").lower()


def _library_cut(lines: list[str], rules: Rules) -> int | None:
    """Where mail-parser-reply sees the first quote header, as a line index."""
    try:
        header = library_header("\n".join(lines), rules.reply_languages)
    except Exception:  # the library raises on odd input; our own patterns still apply
        return None
    if not header:
        return None
    first = header.splitlines()[0].strip()
    for index, line in enumerate(lines):
        if line.strip() == first and not _QUOTED.match(line):
            return index
    return None


def _following(lines: list[str], start: int, count: int) -> list[str]:
    """The next `count` non-blank lines from `start`, stripped."""
    found: list[str] = []
    for index in range(start, len(lines)):
        if lines[index].strip():
            found.append(lines[index].strip())
            if len(found) == count:
                break
    return found


def _quote_follows(lines: list[str], start: int) -> bool:
    after = _following(lines, start, 1)
    return bool(after) and bool(_QUOTED.match(after[0]))


def _is_separator(line: str, rules: Rules) -> bool:
    return bool(line.strip()) and bool(any_match(rules.zone_lines["separator"], line.strip()))


def _fields_start(lines: list[str], index: int, rules: Rules) -> bool:
    """A "From:" line followed by header fields, or a separator above an address header."""
    line = lines[index].strip()
    from_block = bool(any_match(rules.zone_lines["from_block"], line))
    if not from_block and not _is_separator(line, rules):
        return False  # most lines: the fields below are not read
    after = _following(lines, index + 1, 4)
    fields = [entry for entry in after if _FIELD.match(entry)]
    if from_block:
        return len(fields) >= 2
    if len(fields) >= 3:
        return any("@" in entry or _TIME.search(entry) for entry in fields)
    return False


def _header_span(lines: list[str], index: int, rules: Rules) -> int:
    """How many lines the quote header starting at `index` takes, 0 when none starts there."""
    if not lines[index].strip() or _QUOTED.match(lines[index]):
        return 0
    if _fields_start(lines, index, rules):
        return 1
    for span in (1, 2, 3):
        chunk = [line.strip() for line in lines[index : index + span]]
        if len(chunk) < span or not all(chunk) or any(_QUOTED.match(c) for c in chunk):
            break
        if span > 1 and chunk[0].endswith((".", "!", "?")):
            break
        after = index + span
        if any(_is_header(chunk[tail:], lines, after, rules) for tail in range(1, span)):
            break  # the header starts on a later line; this line is prose above it
        if _is_header(chunk, lines, after, rules):
            return span
    return 0


def _is_header(chunk: list[str], lines: list[str], after: int, rules: Rules) -> bool:
    """Whether the joined `chunk` is a quote header, or an attribution above '>' lines."""
    joined = " ".join(chunk)
    if any_match(rules.quote_headers, joined):
        return True
    return bool(any_match(rules.zone_lines["attribution"], joined)) and _quote_follows(lines, after)


def _first_cut(lines: list[str], rules: Rules) -> tuple[int, int, bool]:
    """Where quoted or forwarded history starts, how many header lines it has, and whether
    it is a forward."""
    library = _library_cut(lines, rules)
    end = len(lines) if library is None else library
    for index in range(end):
        line = lines[index].strip()
        if not line or _QUOTED.match(line):
            continue
        if any_match(rules.forward_markers, line):
            return index, 1, True
        span = _header_span(lines, index, rules)
        if span:
            return index, span, False
    if library is None:
        return len(lines), 0, False
    return library, max(1, _header_span(lines, library, rules)), False


def _pull_back(lines: list[str], start: int, rules: Rules, floor: int = 0) -> int:
    """`start` moved up over the blank and separator lines right above it."""
    while start > floor and (
        not lines[start - 1].strip() or _is_separator(lines[start - 1], rules)
    ):
        start -= 1
    return start


def _line_kinds(lines: list[str], rules: Rules) -> list[str]:
    """Each line's kind: the sender's own, quoted history or a forwarded copy."""
    kinds = [_QUOTE if _QUOTED.match(line) else _OWN for line in lines]
    cut, span, forwarded = _first_cut(lines, rules)
    start = _pull_back(lines, cut, rules)
    if forwarded:
        kinds[start:] = [_FORWARD] * (len(lines) - start)
    elif cut < len(lines):
        rest = cut + span
        kinds[start:rest] = [_QUOTE] * (rest - start)
        if not _quote_follows(lines, rest):  # Outlook style: the history is not '>' quoted
            kinds[rest:] = [_QUOTE] * (len(lines) - rest)
        for index in range(rest, len(lines)):  # answers between '>' lines stay own text
            if kinds[index] == _OWN and lines[index].strip() and _ends_answers(lines, index, rules):
                kinds[index:] = [_QUOTE] * (len(lines) - index)
                break
    for index in range(1, len(lines)):  # separators and blanks above a quote belong to it
        if kinds[index] == _QUOTE and kinds[index - 1] == _OWN:
            above = _pull_back(lines, index, rules)
            kinds[above:index] = [_QUOTE] * (index - above)
    return kinds


def _ends_answers(lines: list[str], index: int, rules: Rules) -> bool:
    """An unquoted header or forward marker below the answers: all that follows is history."""
    return bool(_header_span(lines, index, rules)) or bool(
        any_match(rules.forward_markers, lines[index].strip())
    )


def _name_lines(sender_name: str) -> frozenset[str]:
    """Lines that are just the sender signing off: "Lee", "Lee Park", "- Lee", "LP"."""
    parts = [p for p in re.split(r"[\s,]+", sender_name) if p.isalpha()]
    if not parts:
        return frozenset()
    first = parts[-1] if "," in sender_name else parts[0]  # "Park, Lee" signs as "Lee"
    initials = "".join(p[0] for p in parts)
    variants = (first, " ".join(parts), " ".join(reversed(parts)), initials)
    return frozenset(v.lower() for v in variants if len(v) >= 2)


def _name_like(line: str) -> bool:
    """A short line of capitalised words without digits: a name, a title or a company."""
    words = line.split()
    if not words or len(words) > 8 or len(line) > 70 or line.endswith(("!", "?", ":", ";")):
        return False
    if any(ch.isdigit() for ch in line):
        return False
    return all(w[0].isupper() or len(w) <= 3 or not any(c.isalpha() for c in w) for w in words)


def _contact_like(line: str, contact: Patterns) -> bool:
    """A phone, address, mail or web line, and not a sentence that happens to hold one."""
    if len(line) > 80 or not any_match(contact, line):
        return False
    plain = [w for w in line.split() if w.isalpha() and w.islower() and len(w) > 2]
    return len(plain) <= 2


def _contact_start(lines: list[str], rules: Rules, floor: int) -> int:
    """Where a closing block of contact, name and title lines starts, or len(lines)."""
    start, contacts = len(lines), 0
    for index in range(len(lines) - 1, floor - 1, -1):
        line = lines[index].strip()
        if not line:
            continue
        if _contact_like(line, rules.zone_lines["contact"]):
            contacts += 1
        elif not _name_like(line):
            break
        start = index
    filled = sum(1 for line in lines[start:] if line.strip())
    return start if contacts and filled >= 2 else len(lines)


def _marker_at(lines: list[str], floor: int, patterns: Patterns, names: frozenset[str]) -> int:
    for index in range(floor, len(lines)):
        line = lines[index].strip()
        if any_match(patterns, line) or (
            names and line.strip(" -\u2013\u2014~.,!").lower() in names
        ):
            return index
    return len(lines)


def _block_labels(block: list[str], rules: Rules, names: frozenset[str], *, top: bool) -> list[str]:
    """Labels for one run of own lines: new text, then signature, then disclaimer. At the top
    of the message the first line is always new text; an answer may be a signature only."""
    first = next((i for i, line in enumerate(block) if line.strip()), len(block))
    floor = first + 1 if top else first
    disclaimer = _marker_at(block, floor, rules.disclaimer_markers, frozenset())
    signature = _marker_at(block[:disclaimer], floor, rules.signature_markers, names)
    signature = min(signature, _contact_start(block[:signature], rules, floor))
    if disclaimer < len(block):
        disclaimer = _pull_back(block, disclaimer, rules, floor)
    if signature < disclaimer:
        signature = _pull_back(block, signature, rules, floor)
    signature = min(signature, disclaimer)
    return (
        [_NEW] * signature
        + [_SIGNATURE] * (disclaimer - signature)
        + [_DISCLAIMER] * (len(block) - disclaimer)
    )


def _labels(lines: list[str], rules: Rules, sender_name: str) -> list[str]:
    kinds = _line_kinds(lines, rules)
    names = _name_lines(sender_name)
    labels: list[str] = []
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    index = 0
    while index < len(lines):
        end = index
        while end < len(lines) and kinds[end] == kinds[index]:
            end += 1
        if kinds[index] == _OWN:
            labels += _block_labels(lines[index:end], rules, names, top=index <= first)
        else:
            labels += [kinds[index]] * (end - index)
        index = end
    return labels


def _zone_text(lines: list[str], labels: list[str], zone: str) -> str:
    """The lines labelled `zone`; runs split apart by other zones are separate paragraphs."""
    runs: list[list[str]] = [[]]
    for line, label in zip(lines, labels, strict=True):
        if label == zone:
            runs[-1].append(line)
        elif runs[-1]:
            runs.append([])
    texts = ("\n".join(run).strip() for run in runs)
    return "\n\n".join(text for text in texts if text)


def _lines(text: str) -> list[str]:
    text = clip_text(text)  # bounded work whatever the caller hands in
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def line_labels(text: str, rules: Rules, *, sender_name: str = "") -> tuple[str, ...]:
    """Each line's zone by the message alone (the thread's own sentences not yet applied):
    the costly part of split_zones, which needs nothing but the message."""
    return tuple(_labels(_lines(text), rules, sender_name))


def split_zones(
    text: str,
    rules: Rules,
    *,
    own_sentences: frozenset[str] = frozenset(),
    sender_name: str = "",
    labels: tuple[str, ...] | None = None,
) -> Zones:
    """Split `text` into zones; sentences the bot itself sent count as quoted history, and a
    line that is only the sender's name starts the signature. `labels`: what
    `line_labels(text, rules, sender_name=sender_name)` gives, when it was worked out already.

    >>> split_zones("Approved.\\n\\nOn Tue, Mar 4, 2025 Shop <q@shop.example> wrote:\\n> Quote",
    ...             rules).new_text
    'Approved.'
    """
    lines = _lines(text)
    found = _labels(lines, rules, sender_name) if labels is None else list(labels)
    if own_sentences:
        found = [
            _QUOTE if label == _NEW and normalize(line) in own_sentences else label
            for line, label in zip(lines, found, strict=True)
        ]
    return Zones(
        new_text=_zone_text(lines, found, _NEW),
        quoted=_zone_text(lines, found, _QUOTE),
        signature=_zone_text(lines, found, _SIGNATURE),
        forwarded=_zone_text(lines, found, _FORWARD),
        disclaimer=_zone_text(lines, found, _DISCLAIMER),
    )
