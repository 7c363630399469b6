"""Shared fixtures: the shipped rules folder, loaded once per run, and ../shared/corpora."""

from __future__ import annotations

import os
import subprocess
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


def _corpora_candidates() -> list[Path]:
    """$QUOTEBOT_CORPORA, then shared/corpora beside the checkout, then beside the checkout
    a local clone was made from (`git clone . /tmp/fresh` keeps finding the corpora)."""
    found = [Path(os.environ["QUOTEBOT_CORPORA"])] if os.environ.get("QUOTEBOT_CORPORA") else []
    found.append(REPO.parent / "shared" / "corpora")
    origin = subprocess.run(
        ["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        found.append(Path(origin).resolve().parent / "shared" / "corpora")
    return found


@pytest.fixture(scope="session")
def corpora() -> Path:
    """The real-mail corpora. Missing: skip with the reason, or fail under
    QUOTEBOT_REQUIRE_SERVERS=1 (CI has shared/ beside the checkout)."""
    candidates = _corpora_candidates()
    for path in candidates:
        if path.is_dir():
            return path
    looked = ", ".join(map(str, candidates))
    if os.environ.get("QUOTEBOT_REQUIRE_SERVERS") == "1":
        pytest.fail(
            f"corpora missing (looked in {looked}): CI must have shared/ beside the checkout"
        )
    pytest.skip(f"corpora not found (looked in {looked}); set QUOTEBOT_CORPORA to run these")
