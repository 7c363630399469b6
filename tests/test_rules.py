"""Tests for bot.rules: rules/*.toml loaded and validated into typed objects."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.errors import RulesError
from bot.rules import Rules, any_match, load_rules

# The question wording is part of the contract (release-rules.md, "The four release questions").
CONTRACT_QUESTIONS = {
    "quantity": "How many units are released now?",
    "revision": "Which file or revision controls the run?",
    "timing": "Should the batch start now, or is it waiting on another checkpoint?",
    "authority": "Is this release authorized by purchasing or the buyer who can approve the spend?",
}


@pytest.fixture
def rules_copy(tmp_path: Path, rules_dir: Path) -> Path:
    """A private copy of rules/ that a test may break."""
    target = tmp_path / "rules"
    shutil.copytree(rules_dir, target)
    return target


def _edit(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_shipped_questions_are_worded_as_the_contract(rules: Rules) -> None:
    """The four questions in rules/release.toml read exactly as release-rules.md words them."""
    assert dict(rules.questions) == CONTRACT_QUESTIONS


def test_authority_roles_are_purchasing_and_owner(rules: Rules) -> None:
    """Only purchasing and owner contacts carry commercial authority."""
    assert rules.authority_roles == frozenset({"purchasing", "owner"})


def test_rules_remember_their_folder(rules: Rules, rules_dir: Path) -> None:
    """Loaded rules know the folder they came from."""
    assert rules.source == rules_dir


@pytest.mark.parametrize(
    ("name", "old", "new", "key"),
    [
        ("release.toml", "'\\bhold\\b', ", "'(hold', ", "cues.hold"),
        ("release.toml", "units = '(units?|", "units = '((units?|", "quantity.units"),
        ("release.toml", "number = '\\b(?:PO|", "number = '*\\b(?:PO|", "po.number"),
        (
            "zones.toml",
            "'^begin forwarded message:\\s*$'",
            "'^begin forwarded message:\\s*$('",
            "forward.markers",
        ),
        (
            "never_answer.toml",
            "value = '^\\s*(bulk|list|junk)\\b'",
            "value = '^\\s*(bulk|list|junk\\b'",
            "header[1].value",
        ),
    ],
    ids=["cue", "units", "po-number", "zones", "never-header"],
)
def test_bad_regex_names_file_and_key(
    rules_copy: Path, name: str, old: str, new: str, key: str
) -> None:
    """A pattern that does not compile raises RulesError naming the file, the key and the regex."""
    _edit(rules_copy, name, old, new)
    with pytest.raises(RulesError, match="bad regular expression") as caught:
        load_rules(rules_copy)
    message = str(caught.value)
    assert str(rules_copy / name) in message
    assert key in message


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        ("release.toml", "[questions]", "[questions", "not valid TOML"),
        ("zones.toml", "[reply]", "[reply", "not valid TOML"),
        ("release.toml", "one = 1,", 'one = "1",', "quantity.words"),
        (
            "release.toml",
            'quantity = "How many units are released now?"',
            "quantity = 1",
            "questions.quantity",
        ),
    ],
    ids=["release-toml", "zones-toml", "word-not-number", "question-not-string"],
)
def test_malformed_rules_raise_rules_error(
    rules_copy: Path, name: str, old: str, new: str, expected: str
) -> None:
    """Broken TOML or a wrongly typed value raises RulesError naming the file and what is wrong."""
    _edit(rules_copy, name, old, new)
    with pytest.raises(RulesError) as caught:
        load_rules(rules_copy)
    assert str(rules_copy / name) in str(caught.value)
    assert expected in str(caught.value)


def test_missing_rules_file_raises_rules_error(rules_copy: Path) -> None:
    """A missing rules file raises RulesError naming it."""
    (rules_copy / "zones.toml").unlink()
    with pytest.raises(RulesError, match="zones.toml"):
        load_rules(rules_copy)


def test_edited_question_wording_is_used(rules_copy: Path) -> None:
    """A shop can reword a question in release.toml without touching code."""
    _edit(
        rules_copy,
        "release.toml",
        'timing = "Should the batch start now, or is it waiting on another checkpoint?"',
        'timing = "When should we start?"',
    )
    assert load_rules(rules_copy).questions["timing"] == "When should we start?"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("please HOLD the run", "HOLD"), ("nothing to see", None)],
    ids=["case-insensitive-match", "no-match"],
)
def test_any_match(rules: Rules, text: str, expected: str | None) -> None:
    """any_match returns the first match of any pattern, case-insensitively, or None."""
    found = any_match(rules.cues.hold, text)
    assert (found.group(0) if found else None) == expected


def test_bad_regex_names_the_line(rules_copy: Path) -> None:
    """The error points at the line of the broken pattern, so a shop can fix it at once."""
    _edit(rules_copy, "release.toml", "'\\bpause\\b', ", "'(pause', ")
    with pytest.raises(RulesError) as caught:
        load_rules(rules_copy)
    lines = (rules_copy / "release.toml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(lines, start=1) if "'(pause'" in text)
    assert str(caught.value).startswith(f"{rules_copy / 'release.toml'}:{line}: cues.hold: ")


def test_unknown_key_is_refused_with_its_line(rules_copy: Path) -> None:
    """A misspelt key would switch a rule off silently: it is refused, naming file and line."""
    _edit(rules_copy, "release.toml", "[cues]\n", "[cues]\napprovals = ['sign here']\n")
    with pytest.raises(RulesError, match="cues.approvals: unknown key") as caught:
        load_rules(rules_copy)
    assert f"{rules_copy / 'release.toml'}:" in str(caught.value)


def test_language_files_add_phrases(rules: Rules) -> None:
    """rules/lang/de.toml adds German to the same keys; English stays."""
    assert "de" in rules.languages
    assert any_match(rules.cues.approval, "Wir geben die 250 Stück frei")
    assert any_match(rules.cues.approval, "please go ahead")
    assert any_match(rules.cues.hold, "Bitte noch nicht drucken")
    assert rules.quantity.words["zehn"] == 10 and rules.quantity.words["ten"] == 10


def test_new_language_file_is_picked_up(rules_copy: Path) -> None:
    """A shop adds a language by dropping a file into rules/lang/, without code."""
    (rules_copy / "lang" / "nl.toml").write_text(
        "[cues]\napproval = ['\\bgoedgekeurd\\b']\n", encoding="utf-8"
    )
    rules = load_rules(rules_copy)
    assert "nl" in rules.languages
    assert any_match(rules.cues.approval, "Revisie B4 is goedgekeurd")


def test_bad_language_file_names_its_file_and_line(rules_copy: Path) -> None:
    """Errors in a language file name that file, the key and the line."""
    path = rules_copy / "lang" / "nl.toml"
    path.write_text("[cues]\napproval = ['ok']\n\n[quantity]\nunits = '(stuks'\n", encoding="utf-8")
    with pytest.raises(RulesError, match="bad regular expression") as caught:
        load_rules(rules_copy)
    assert str(caught.value).startswith(f"{path}:5: quantity.units")
    path.write_text("[cues]\napprove = ['ok']\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"nl.toml:2: cues.approve: unknown key"):
        load_rules(rules_copy)
