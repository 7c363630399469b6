"""Shared fixtures: the shipped rules folder, loaded once per run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the venv may not have quotebot installed in editable mode
    sys.path.insert(0, str(REPO))

from bot.rules import Rules, load_rules  # noqa: E402  (needs REPO on sys.path)


@pytest.fixture(scope="session")
def rules_dir() -> Path:
    """The rules/ folder shipped with quotebot."""
    return REPO / "rules"


@pytest.fixture(scope="session")
def templates_dir() -> Path:
    """The templates/ folder shipped with quotebot."""
    return REPO / "templates"


@pytest.fixture(scope="session")
def rules(rules_dir: Path) -> Rules:
    """The shipped rules, loaded once."""
    return load_rules(rules_dir)
