"""Text to sentences and sentences to clauses, for statement extraction."""

from __future__ import annotations

import re
from functools import lru_cache

_BULLET = re.compile(r"^\s*(?:[-*•·>]+|\(?\d{1,2}[.)]|\(?[a-d][.)])\s+")
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Za-z0-9\"'(])")
_ABBREVIATION = re.compile(
    r"\b(rev|no|approx|e\.g|i\.e|qty|dr|mr|mrs|ms|st|vs|etc|p\.o|nr|ca|incl|pcs|ref)\.$", re.I
)

# Bounds that keep the work of zoning and extraction small whatever arrives: extraction runs
# its patterns over every clause and over each clause's sentence, so its cost grows with
# clauses times sentence length. Real buyer mail stays far below each (the labelled sets:
# 318-character sentences, 4 clauses to a sentence, 119 sentences to a message).
MAX_TEXT_CHARS = 100_000  # of a body: zoning is linear (0.3 s for 100,000 characters)
MAX_EXTRACT_CHARS = 50_000  # of new text: extraction stays under 1.5 s on any text
MAX_LINE_CHARS = 10_000
MAX_SENTENCE_CHARS = 1_000
MAX_SENTENCES = 200
MAX_CLAUSES = 10


def clip_text(text: str, max_chars: int = MAX_TEXT_CHARS) -> str:
    """`text` cut to its first `max_chars` characters, each line to MAX_LINE_CHARS."""
    text = text[:max_chars]
    if len(text) <= MAX_LINE_CHARS or all(len(line) <= MAX_LINE_CHARS for line in text.split("\n")):
        return text
    return "\n".join(line[:MAX_LINE_CHARS] for line in text.split("\n"))


def _pieces(sentence: str) -> list[str]:
    """A sentence longer than MAX_SENTENCE_CHARS cut into pieces at spaces (a pasted table or
    a message without punctuation is no sentence a person wrote)."""
    pieces = []
    while len(sentence) > MAX_SENTENCE_CHARS:
        cut = sentence.rfind(" ", MAX_SENTENCE_CHARS // 2, MAX_SENTENCE_CHARS + 1)
        cut = cut if cut > 0 else MAX_SENTENCE_CHARS
        pieces.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    return [*pieces, sentence] if sentence else pieces


def clause_pattern(contrast: list[str], starters: list[str], and_starters: list[str]) -> str:
    """The split pattern for clauses, from the word lists in rules/release.toml [clauses]."""
    return (
        rf"\s*;\s*|,?\s+(?:{'|'.join(contrast)})\s+|\s+[-\u2013\u2014]\s+"
        rf"|[,:]\s*(?:and\s+|then\s+|so\s+)?(?=(?:please\s+)?(?:{'|'.join(starters)})\b)"
        rf"|\s+and\s+(?=(?:please\s+)?(?:{'|'.join(and_starters)})\b)"
    )


def _paragraph_lines(text: str) -> list[str]:
    """Join lines a mail client wrapped; keep bullets and short lines on their own."""
    joined: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            joined.append("")
            continue
        bullet = _BULLET.match(line)
        if bullet:
            line = line[bullet.end() :].strip()
        wrapped = (
            joined
            and joined[-1]
            and not bullet
            and len(joined[-1]) >= 50
            and joined[-1][-1] not in ".!?:;"
        )
        if wrapped:
            joined[-1] = f"{joined[-1]} {line}"
        else:
            joined.append(line)
    return [line for line in joined if line]


def split_sentences(text: str) -> list[str]:
    """Sentences of a text, one per item; "Rev. A" and "approx. 5" do not end one. A sentence
    said again is not repeated; at most MAX_SENTENCES, none longer than MAX_SENTENCE_CHARS."""
    found: dict[str, None] = {}  # in order, each once: extraction compares equal sentences
    for line in _paragraph_lines(clip_text(text, MAX_EXTRACT_CHARS)):
        memo = len(line) <= MEMO_CHARS
        found.update(dict.fromkeys(_remembered(line) if memo else _line_sentences(line)))
        if len(found) >= MAX_SENTENCES:
            break
    return list(found)[:MAX_SENTENCES]


def _line_sentences(line: str) -> tuple[str, ...]:
    """The sentences of one joined line, in order."""
    found: list[str] = []
    pending = ""
    for part in _SPLIT.split(line):
        pending = f"{pending} {part}".strip() if pending else part
        if not _ABBREVIATION.search(pending[-16:]):  # the end is enough; linear
            found += _pieces(pending)
            pending = ""
    if pending:
        found += _pieces(pending)
    return tuple(found)


# Each message of a thread quotes the ones before it, so the same lines and sentences come
# back again and again: 90% of the lines of the shop's own mail in the bench's mailbox, 88%
# of its sentences. What is worked out for them is remembered, for the last MEMO_ITEMS of
# them up to MEMO_CHARS long: 2,048 found 90% and 87% (4,096: the same time, twice the
# memory), and held 1.6 MB after the bench's 5,249 messages of the shop (at most a few MB
# in each memo, whatever arrives).
MEMO_ITEMS = 2_048
MEMO_CHARS = 1_000
_remembered = lru_cache(maxsize=MEMO_ITEMS)(_line_sentences)


def split_clauses(sentence: str, pattern: re.Pattern[str]) -> list[str]:
    """Clauses of one sentence, split by `pattern` (Rules.clause_split) where a new
    instruction starts; past MAX_CLAUSES, the rest of the sentence is the last clause."""
    parts = pattern.split(sentence[:MAX_SENTENCE_CHARS], maxsplit=MAX_CLAUSES - 1)
    return [c.strip(" ,") for c in parts if c and c.strip(" ,")]
