"""Text to sentences and sentences to clauses, for statement extraction."""

from __future__ import annotations

import re

_BULLET = re.compile(r"^\s*(?:[-*•·>]+|\(?\d{1,2}[.)]|\(?[a-d][.)])\s+")
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Za-z0-9\"'(])")
_ABBREVIATION = re.compile(
    r"\b(rev|no|approx|e\.g|i\.e|qty|dr|mr|mrs|ms|st|vs|etc|p\.o|nr|ca|incl|pcs|ref)\.$", re.I
)


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
    """Sentences of a text, one per item; "Rev. A" and "approx. 5" do not end one."""
    result: list[str] = []
    for line in _paragraph_lines(text):
        pending = ""
        for part in _SPLIT.split(line):
            pending = f"{pending} {part}".strip() if pending else part
            if not _ABBREVIATION.search(pending):
                result.append(pending)
                pending = ""
        if pending:
            result.append(pending)
    return result


def split_clauses(sentence: str, pattern: re.Pattern[str]) -> list[str]:
    """Clauses of one sentence, split by `pattern` (Rules.clause_split) where a new
    instruction starts."""
    return [c.strip(" ,") for c in pattern.split(sentence) if c and c.strip(" ,")]
