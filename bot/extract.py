"""Approval statements and release fields from a message's new text (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from bot.model import Attachment, Extraction, Fields, Modality, Stage, Statement
from bot.rules import Patterns, Rules, any_match, clause_local
from bot.sentences import (
    MAX_EXTRACT_CHARS,
    MEMO_CHARS,
    MEMO_ITEMS,
    clip_text,
    split_clauses,
    split_sentences,
)

_NUMBER = re.compile(
    r"(?<![\w.$€£#/+-])(\d{1,3}(?:[,.\u00a0\u202f ]\d{3})+|\d{1,6})"
    r"(-(?:unit|piece|part|pc)s?\b|(?:pcs|pc|stk|units?)\b)?(?![\w,]\d|\w)"
)
_WORD_NUMBER = re.compile(r"\b([a-z]+)\b", re.I)
_ADJECTIVES = r"\s*(?:-\s*)?(?:[a-z][\w-]*\s+){0,3}?"


@dataclass(frozen=True)
class _Clause:
    text: str
    sentence: str
    modality: Modality
    approval: bool
    hold: bool
    balance: bool
    negated: bool
    technical: bool
    boundary: bool = False  # says production is not released ("this does not release production")
    po_line: bool = False  # a line of an attached purchase order, not the sender's words
    sentence_boundary: bool = False  # its sentence has a boundary cue


@dataclass(frozen=True)
class _Count:
    value: int
    kind: str  # released | held | total | forecast | observed
    sentence: str
    clause: str


def _modality(sentence: str, clause: str, rules: Rules) -> Modality:
    """How a clause is meant; questions and "if" reach over the whole sentence."""
    cues = rules.cues
    if sentence.rstrip().endswith("?") and not (
        any_match(cues.request_question, sentence) or any_match(cues.request_question, clause)
    ):
        return "question"
    if any_match(cues.hearsay, clause):
        return "hearsay"
    tentative = any_match(cues.conditional_tentative, sentence)
    if any_match(cues.future, clause):
        return "future"
    hedged = any_match(cues.hedged, sentence)
    if hedged and (tentative or any_match(cues.conditional, sentence)):
        return "future"  # "probably 300 once budget is approved": an intention, not a release
    if tentative or any_match(cues.conditional, clause):
        return "conditional"
    if any_match(cues.hedged, clause):
        return "hedged"
    return "plain"


def _negated(clause: str, cue: re.Match[str], rules: Rules) -> bool:
    words = clause[: cue.start()].split()[-4:]
    after = clause[cue.end() :]
    return bool(
        any_match(rules.cues.negation, " ".join(words))
        or any_match(rules.cues.negation_after, after)  # "passt nicht"
    )


def _released(clause: str, rules: Rules, *, answering: bool = False) -> bool:
    counts = _counts(clause, clause, rules, hold=False, answering=answering)
    return any(c.kind == "released" for c in counts)


def _states_fields(clause: str, rules: Rules) -> bool:
    """Whether a clause states a count or a start: an answer to our questions. A revision
    alone is not one ("we are also trying rev C8")."""
    return _released(clause, rules, answering=True) or bool(any_match(rules.timing_now, clause))


def _order(clause: str, rules: Rules) -> bool:
    """A clause that orders by itself: a count, a start and the revision or PO ("60 more of
    coaster_v2.3mf asap")."""
    return bool(
        _released(clause, rules)
        and any_match(rules.timing_now, clause)
        and (any_match(rules.revision, clause) or rules.po_number.search(clause))
    )


def _clauses(text: str, rules: Rules, *, answering: bool = False) -> list[_Clause]:
    """Clauses with their cues. `answering`: the text answers the shop's release questions,
    so a clause that states fields is itself the release statement ("300 of rev B2, now")."""
    cues = rules.cues
    found = []
    gated = clause_local(cues.boundary)
    for sentence in split_sentences(text):
        ordered = _order(sentence, rules)
        bounded = bool(any_match(cues.boundary, sentence))
        for clause in split_clauses(sentence, rules.clause_split):
            modality = _modality(sentence, clause, rules)
            approval = any_match(cues.approval, clause) or (
                modality == "plain"
                and (
                    (ordered and _released(clause, rules))
                    or (answering and _states_fields(clause, rules))
                )
            )
            hold = any_match(cues.hold, clause) and not any_match(cues.not_hold, clause)
            found.append(
                _Clause(
                    text=clause,
                    sentence=sentence,
                    modality=modality,
                    approval=bool(approval),
                    hold=bool(hold),
                    balance=bool(hold and any_match(cues.balance, clause)),
                    negated=bool(
                        isinstance(approval, re.Match)
                        and not hold
                        and _negated(clause, approval, rules)
                    ),
                    technical=bool(any_match(cues.technical, clause)),
                    # a clause's cue is a cue in its sentence: most sentences rule it out
                    boundary=(bounded or not gated) and bool(any_match(cues.boundary, clause)),
                    sentence_boundary=bounded,
                )
            )
    return found


def _counts(
    text: str, sentence: str, rules: Rules, *, hold: bool, answering: bool = False
) -> list[_Count]:
    """Every count in a clause that is a quantity: released, held, total, forecast, or
    observed (parts already received or checked). `answering`: a bare number answers "how
    many" ("200 / rev C / asap")."""
    q = rules.quantity
    counts = []
    candidates = [
        (m.start(), m.end(), int(re.sub(r"\D", "", m.group(1))), bool(m.group(2)), False)
        for m in _NUMBER.finditer(text)
    ]
    for m in _WORD_NUMBER.finditer(text):
        value = q.words.get(m.group(1).lower())
        if value is not None:
            candidates.append((m.start(), m.end(), value, False, True))
    for start, end, value, hyphen_unit, word in sorted(candidates):
        before, after = text[max(0, start - 40) : start], text[end : end + 40]
        named = q.of_after.match(after)  # "300 x rev B3", "500 of knob_v3.stl"
        led = any_match(q.lead, before) or q.held_before.search(before)
        if not hyphen_unit:
            if q.not_before.search(before) or (q.not_after.match(after) and not named):
                continue
            unit = re.match(_ADJECTIVES + q.units.pattern + r"\b", after, re.I)
            plural = re.match(r"\s*(?:[a-z][\w-]*\s+)?(" + q.plural_unit.pattern + ")", after, re.I)
            if plural and q.not_units.match(plural.group(1)):
                plural = None
            if not (unit or plural or named or ((led or answering) and not word)):
                continue  # a word ("all five pass") counts only with its unit
            counted = unit or plural
            if counted and not named and q.pack_after.match(after[counted.end() :]):
                continue  # "25 pcs per bag": a pack count
        elif q.pack_after.match(after):
            continue  # "50pcs per bag"
        if value == 0 or value > 1_000_000:
            continue
        clause_before = text[:start]
        if hold and (q.held_before.search(before) or any_match(q.held, clause_before)):
            kind = "held"
        elif q.total_before.search(before):
            kind = "total"
        elif any_match(q.forecast, f"{before} {value} {after}"):
            kind = "forecast"
        elif not led and any_match(q.observed, f"{before} {value} {after}"):
            kind = "observed"  # "I checked the 4 samples", "5 samples received"
        else:
            kind = "released"
        counts.append(_Count(value, kind, sentence, text))
    return counts


def _first(
    patterns: Patterns, clauses: list[_Clause], *, groups: bool = False
) -> tuple[str, str] | None:
    """The first match (or its first captured group) in the clauses, with its sentence."""
    for clause in clauses:
        found = any_match(patterns, clause.text)
        if found is None:
            continue
        value = next((g for g in found.groups() if g), None) if groups else found.group(0)
        if value:
            return " ".join(value.split()), clause.sentence
    return None


def _revisions(clauses: list[_Clause], rules: Rules) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for clause in clauses:
        for pattern in rules.revision:
            for found in pattern.finditer(clause.text):
                value = found.group(1)
                value = value.upper() if "." not in value else value
                if value not in (v for v, _ in seen):
                    seen.append((value, clause.sentence))
    return seen


def _timing(clauses: list[_Clause], rules: Rules) -> tuple[str, str] | None:
    for clause in clauses:
        if clause.modality in ("question", "future", "hearsay") or clause.hold:
            continue
        if clause.modality == "conditional" and any_match(rules.cues.conditional, clause.text):
            continue
        if clause.po_line and not rules.po_delivery.search(clause.text):
            continue  # an order date on a PO is not the start date
        found = any_match(rules.timing_now, clause.text)
        if found:
            return found.group(0).strip(), clause.sentence
    return None


def _unconditional(text: str, rules: Rules) -> str:
    """A clause without its condition ("... once the samples are signed off")."""
    starts = [
        found.start()
        for patterns in (rules.cues.conditional, rules.cues.conditional_tentative)
        for pattern in patterns
        if (found := pattern.search(text))
    ]
    return text[: min(starts)] if starts else text


def _scope(
    release: list[_Clause], others: list[_Clause], counts: list[_Count], balance: bool, rules: Rules
) -> Stage:
    cues = rules.cues
    # "Samples are signed off. Please proceed with 500 units": a checkpoint on samples
    # already made does not make the release that follows a sample release.
    checkpoints = [c for c in release if any_match(cues.sample_checkpoint, c.text)]
    in_release = {
        c.sentence for c in release if c not in checkpoints or len(checkpoints) == len(release)
    } | {c.sentence for c in counts if c.kind == "released"}
    sentences = " ".join(
        _unconditional(c.text, rules)
        for c in others
        if c.sentence in in_release and not (c.hold or c.boundary or c.negated)
    )
    if any_match(cues.sample, sentences):
        return "sample"
    if (
        balance
        or any(c.kind in ("held", "total") for c in counts)
        or any_match(cues.partial, sentences)
    ):
        return "partial"
    if any(c.kind == "released" for c in counts) or any_match(cues.production, sentences):
        return "production"
    return "unclear"


def _positive(sentence: str, clauses: list[_Clause]) -> str:
    """A sentence without its boundary, negated and hold clauses."""
    return " ".join(
        c.text
        for c in clauses
        if c.sentence == sentence and not (c.boundary or c.negated or c.hold)
    )


def _commercial(
    clause: _Clause, clauses: list[_Clause], counts: list[_Count], po: bool, rules: Rules
) -> bool:
    """Whether an approval clause says more than 'the part is technically right'."""
    cues = rules.cues
    if po or any(c.kind == "released" for c in counts):
        return True  # an approval beside a count released now ("Passt. Bitte 500 Stück")
    text = _positive(clause.sentence, clauses)
    instruction = any_match(rules.timing_now, text)
    return bool(
        instruction
        or any_match(cues.production, text)
        or any_match(cues.partial, text)
        or (any_match(cues.sample, text) and not clause.technical)
    )


def _stage(
    clauses: list[_Clause], counts: list[_Count], po: bool, rules: Rules
) -> tuple[Stage, bool, str]:
    """The stage, whether a technical approval is bounded, and a short reason."""
    definite = [
        c
        for c in clauses
        if c.modality in ("plain", "conditional")
        # reported approval with an instruction or a count: the release is stated, only its
        # authority is second-hand ("Helen said it's fine to start the 500 of rev E this week")
        or (
            c.modality == "hearsay"
            and (
                any_match(rules.timing_now, c.text) or any(n.sentence == c.sentence for n in counts)
            )
        )
    ]
    # A boundary clause releases nothing, unless it is itself a technical approval
    # ("approved from an engineering standpoint only").
    release = [
        c
        for c in definite
        if c.approval
        and not c.negated
        and not c.hold
        and not (c.boundary and not c.technical)
        and not _past_business(c, rules)
    ]
    released_revisions = {r for c in release for r in _revisions([c], rules)}
    gate = _gate(clauses, rules) if release else None
    full_holds = [
        c
        for c in definite
        if c.hold
        and not c.balance
        and c is not gate
        and not (release and any_match(rules.cues.reduction, c.text))
        and not _other_revision(c, released_revisions, rules)
    ]
    balance_holds = [c for c in definite if c.hold and c.balance]
    refusals = [c for c in definite if c.approval and c.negated]
    bounded = any(c.sentence_boundary for c in clauses)
    if po and not release and not full_holds:
        release = [
            c for c in definite if c.po_line and not any_match(rules.cues.not_release, c.text)
        ]
    commercial = [c for c in release if _commercial(c, clauses, counts, po, rules)]
    # "It fits the hinge perfectly. Approved from my side.": a bare approval beside technical
    # findings, with nothing commercial, approves the technical side only.
    observed = any(c.technical and not c.hold for c in clauses)
    if (
        release
        and not commercial
        and all(c.technical or (observed and not _scoped(c.text, rules)) for c in release)
    ):
        return "technical", bounded, "technical approval only"
    if full_holds and not (release and bounded):
        return "hold", False, "the sender asks to hold or stop"
    if release:
        scope = _scope(release, clauses, counts, bool(balance_holds), rules)
        if scope == "unclear" and bounded and any(c.technical for c in release):
            return "technical", True, "technical approval only"
        reason = "approval whose scope cannot be told" if scope == "unclear" else f"{scope} release"
        return scope, False, reason
    if balance_holds:
        return "hold", False, "the sender asks to hold part of the work"
    if refusals:
        return "none", False, "the sender says nothing is released yet"
    if any(c.approval and c.modality in ("hedged", "hearsay") for c in clauses):
        return "unclear", False, "approval that is hedged or reported second-hand"
    return "none", False, "no approval or release statement"


def _gate(clauses: list[_Clause], rules: Rules) -> _Clause | None:
    """A stop that waits on an event ("production must not commence until ... signed off")."""
    return next(
        (
            c
            for c in clauses
            if c.hold and not c.balance and any_match(rules.cues.conditional, c.text)
        ),
        None,
    )


def _past_business(clause: _Clause, rules: Rules) -> bool:
    """An approval about money or goods already moved ("tracking shows 12 cartons delivered
    - counts look right"); an instruction beside it still counts ("approved for payment -
    please run the 60 pilot units this week")."""
    if any_match(rules.cues.not_release, clause.text):
        return True
    return bool(
        any_match(rules.cues.not_release, clause.sentence)
        and not any_match(rules.timing_now, clause.text)
    )


def _scoped(text: str, rules: Rules) -> bool:
    """Whether a clause names a scope (samples, a lot, production)."""
    cues = rules.cues
    return bool(
        any_match(cues.sample, text)
        or any_match(cues.partial, text)
        or any_match(cues.production, text)
    )


def _other_revision(clause: _Clause, released: set[tuple[str, str]], rules: Rules) -> bool:
    """A hold on a revision other than the one released ("do not print anything on C7")."""
    named = {value for value, _ in _revisions([clause], rules)}
    named |= {m.group(0).upper() for m in rules.revision_bare.finditer(clause.text)}
    return bool(named and released and not named & {value for value, _ in released})


def _statements(clauses: list[_Clause], stage: Stage, bounded: bool) -> tuple[Statement, ...]:
    result = []
    for clause in clauses:
        if not (clause.approval or clause.hold):
            continue
        scope: Stage = (
            "hold"
            if clause.hold
            else ("technical" if clause.technical and stage == "technical" else stage)
        )
        result.append(Statement(clause.sentence, scope, clause.negated, clause.modality, bounded))
    return tuple(result)


_MONEY = re.compile(
    r"^[$€£]?\d{1,3}(?:[.,\s]\d{3})*[.,]\d{2,4}$|^[$€£]\d+$|^(?:usd|eur|€|\$)$", re.I
)
_INTEGER = re.compile(r"^\d{1,3}(?:,\d{3})+$|^\d{1,6}$")
_DATE = re.compile(r"^(?:\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2})$")
_CODE = re.compile(r"^(?:[A-Z]{1,2}\d{0,3}|\d{1,2}[A-Z]?)$")


def _po_row(row: str, rev_before_qty: bool | None, rules: Rules) -> tuple[int, str | None] | None:
    """Quantity and revision of one line-item row: prices, amounts and dates are the trailing
    columns, the count is the integer before them, the revision its neighbour by the header."""
    tokens = row.split()
    while tokens and (_MONEY.match(tokens[-1]) or _DATE.match(tokens[-1])):
        tokens.pop()
    if tokens and rules.quantity.units.fullmatch(tokens[-1]):
        tokens.pop()  # a unit-of-measure column ("800 EA")
    if len(tokens) < 3:
        return None
    if rev_before_qty is False and _CODE.match(tokens[-1]) and _INTEGER.match(tokens[-2]):
        return int(tokens[-2].replace(",", "")), tokens[-1]
    if not _INTEGER.match(tokens[-1]):
        return None
    revision = tokens[-2] if rev_before_qty and _CODE.match(tokens[-2]) else None
    return int(tokens[-1].replace(",", "")), revision


def _po_table(lines: list[str], rules: Rules) -> tuple[list[tuple[int, str | None, str]], set[int]]:
    """Line items of a PO table: (quantity, revision, row) each, and the line numbers used."""
    items: list[tuple[int, str | None, str]] = []
    used: set[int] = set()
    for index, line in enumerate(lines):
        tokens = [t.strip(".:").lower() for t in line.split()]
        qty_at = next(
            (i for i, t in enumerate(tokens) if rules.po_quantity_column.fullmatch(t)), None
        )
        if qty_at is None or len(tokens) < 3 or any(any(ch.isdigit() for ch in t) for t in tokens):
            continue
        rev_at = next(
            (i for i, t in enumerate(tokens) if rules.po_revision_column.fullmatch(t)), None
        )
        rev_before_qty = None if rev_at is None else rev_at < qty_at
        used.add(index)
        for row_index in range(index + 1, len(lines)):
            parsed = _po_row(lines[row_index], rev_before_qty, rules)
            if parsed is None:
                break
            used.add(row_index)
            items.append((*parsed, lines[row_index]))
        if items:
            break
    return items, used


def _dated(line: str, rules: Rules) -> bool:
    """Whether a PO line gives a date (not "TBD", not "before the date is confirmed")."""
    return any(
        any(ch.isdigit() for ch in found.group(0))
        for pattern in rules.timing_now
        for found in pattern.finditer(line)
    )


def _po_clause(text: str, line: str, name: str, rules: Rules) -> _Clause:
    sentence = f"{line} (attached purchase order {name})"
    bounded = bool(any_match(rules.cues.boundary, sentence))
    return _Clause(
        text, sentence, "plain", True, False, False, False, False, po_line=True,
        sentence_boundary=bounded,
    )  # fmt: skip


def _po_clauses(attachments: tuple[Attachment, ...], rules: Rules) -> list[_Clause]:
    """What an attached purchase order states: its number, line items (quantity, revision)
    and delivery date, as the message's own statement. Terms and notes are left out."""
    found = []
    for attachment in attachments:
        if not attachment.text or not rules.po_document.search(attachment.text):
            continue
        name = attachment.filename or "attached PDF"
        lines = [" ".join(raw.split()) for raw in attachment.text.splitlines() if raw.strip()]
        items, used = _po_table(lines, rules)
        for quantity, revision, row in items:
            named = any_match(rules.revision, row)  # a file name in the description
            text = f"qty {quantity}" + (f" rev {revision}" if revision else "")
            text += f" {named.group(0)}" if named and not revision else ""
            found.append(_po_clause(text, row, name, rules))
        for index, line in enumerate(lines):
            if index in used:
                continue
            counted = bool(
                rules.po_quantity_column.search(line) and _counts(line, line, rules, hold=False)
            )
            useful = (
                rules.po_number.search(line)
                or counted
                or (not items and any_match(rules.revision, line))
                or (rules.po_delivery.search(line) and _dated(line, rules))
            )
            if useful:
                found.append(_po_clause(line, line, name, rules))
    return found


def revisions_in(text: str, rules: Rules, *, sentences: list[str] | None = None) -> tuple[str, ...]:
    """Every revision or file named in a text (the shop's quote, say), clause by clause as
    `extract` reads them, without the clauses' cue analysis (which a name does not need).
    `sentences`: split_sentences(text), when the caller has them already."""
    seen: dict[str, None] = {}
    for sentence in split_sentences(text) if sentences is None else sentences:
        memo = len(sentence) <= MEMO_CHARS
        named = _remembered_names(sentence, rules) if memo else _names_in(sentence, rules)
        seen.update(dict.fromkeys(named))
    return tuple(seen)


def _names_in(sentence: str, rules: Rules) -> tuple[str, ...]:
    """The revisions and files one sentence names, in order (`revisions_in`'s work on it)."""
    if clause_local(rules.revision) and not any_match(rules.revision, sentence):
        return ()  # most sentences name none: no clause splitting for them
    seen: dict[str, None] = {}
    for clause in split_clauses(sentence, rules.clause_split):
        for pattern in rules.revision:
            for found in pattern.finditer(clause):
                value = found.group(1)
                seen[value.upper() if "." not in value else value] = None
    return tuple(seen)


# a thread's mail quotes the same sentences again and again (bot.sentences.MEMO_ITEMS)
_remembered_names = lru_cache(maxsize=MEMO_ITEMS)(_names_in)


def _known_revisions(
    clauses: list[_Clause], known: frozenset[str], rules: Rules, quoted: str = ""
) -> list[tuple[str, str]]:
    """Bare codes ("B2 fit check passed") that are revisions the shop quoted in the thread,
    or that the history in `quoted` names (read only when there is a bare code to look up)."""
    codes = [
        (match.group(0).upper(), clause.sentence)
        for clause in clauses
        if clause.modality != "question"
        for match in rules.revision_bare.finditer(clause.text)
    ]
    if codes and quoted:
        known = known | {r.upper() for r in revisions_in(quoted, rules)}
    found: list[tuple[str, str]] = []
    for code, sentence in codes:
        if code in known and code not in (v for v, _ in found):
            found.append((code, sentence))
    return found


def extract(
    text: str,
    rules: Rules,
    *,
    attachments: tuple[Attachment, ...] = (),
    known_revisions: frozenset[str] = frozenset(),
    quoted: str = "",
    answering: bool = False,
) -> Extraction:
    """Statements, fields and stage of one message's new text and its attached purchase order.
    `known_revisions`: revisions the shop named earlier in the thread, and those `quoted` (the
    history the message quotes) names; `answering`: the text answers the shop's release
    questions."""
    text = clip_text(text, MAX_EXTRACT_CHARS)  # bounded work whatever the caller hands in
    clauses = _clauses(text, rules, answering=answering) + _po_clauses(attachments, rules)
    counts = [
        count
        for clause in clauses
        if not (clause.technical and not (clause.approval or clause.hold))  # "checked all three"
        and not (clause.hold and any_match(rules.cues.reduction, clause.text))  # "cancel 100"
        for count in _counts(
            clause.text,
            clause.sentence,
            rules,
            hold=clause.hold or clause.negated,
            answering=answering and clause.modality == "plain",
        )
    ]
    # "we will place the production order of about 2000pcs": not released now
    tentative = {c.text for c in clauses if c.modality in ("future", "hedged", "question")}
    counts = [
        replace(n, kind="forecast") if n.kind == "released" and n.clause in tentative else n
        for n in counts
    ]
    evidence: dict[str, str] = {}
    po_found = _first(
        (rules.po_number,), [c for c in clauses if c.modality != "question"], groups=True
    )
    po_attached = any(rules.po_attachment.search(a.filename) for a in attachments if a.filename)
    po_attached = po_attached or any(c.po_line for c in clauses)
    stage, bounded, reason = _stage(clauses, counts, bool(po_found or po_attached), rules)

    releasing = stage in ("sample", "partial", "production", "unclear")
    # The count of an approval sentence wins over a count elsewhere ("thanks for the three
    # samples ... we release 600 units").
    approving = [c for c in clauses if c.approval and not c.hold]
    in_clause = {c.text for c in approving}
    in_sentence = {c.sentence for c in approving}
    released = next(
        (c for c in counts if c.kind == "released" and c.clause in in_clause),
        next(
            (c for c in counts if c.kind == "released" and c.sentence in in_sentence),
            next((c for c in counts if c.kind == "released"), None),
        ),
    )
    released = released if releasing else None
    held = next((c for c in counts if c.kind == "held"), None)
    forecast = next((c for c in counts if c.kind in ("total", "forecast")), None)
    revisions = _revisions(clauses, rules)
    if not revisions and (known_revisions or quoted):
        revisions = _known_revisions(clauses, known_revisions, rules, quoted)
    timing = _timing(clauses, rules) if releasing else None
    conditional = next(
        (c for c in clauses if c.approval and c.modality == "conditional" and not c.balance), None
    )
    gate = _gate(clauses, rules)
    if gate and stage in ("sample", "partial", "production"):
        conditional, timing = gate, None  # "must not commence until QA signs off the FAI"
    if conditional and timing and timing[1] == conditional.sentence:
        timing = None
    material = _first(rules.material, clauses)
    finish = _first(rules.finish, clauses)
    trigger = _first(rules.trigger, [c for c in clauses if c.balance], groups=True)
    for name, found in (
        ("quantity", released and (str(released.value), released.sentence)),
        ("held_quantity", held and (str(held.value), held.sentence)),
        ("revision", revisions[0] if revisions else None),
        ("timing", timing),
        ("condition", conditional and ("", conditional.sentence)),
        ("material", material),
        ("finish", finish),
        ("po_number", po_found),
        ("trigger", trigger),
    ):
        if found:
            evidence[name] = found[1]
    fields = Fields(
        quantity=released.value if released else None,
        held_quantity=held.value if held else None,
        forecast_quantity=forecast.value if forecast else None,
        revision=revisions[0][0] if revisions else None,
        revisions=tuple(v for v, _ in revisions),
        material=material[0] if material else None,
        finish=finish[0] if finish else None,
        timing=timing[0] if timing else None,
        condition=conditional.text if conditional else None,
        po_number=po_found[0] if po_found else None,
        po_attached=po_attached,
        trigger=trigger[0] if trigger else None,
        evidence=tuple(evidence.items()),
    )
    return Extraction(_statements(clauses, stage, bounded), fields, stage, reason)
