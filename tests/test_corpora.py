"""Every file of ../shared/corpora goes through `quotebot check --json` without a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
FILES = (
    sorted(p for p in CORPORA.rglob("*") if p.is_file() and p.name not in ("LICENSE", "README.md"))
    if CORPORA.is_dir()
    else []
)


def _require_corpora() -> None:
    if not FILES:
        if os.environ.get("QUOTEBOT_REQUIRE_SERVERS") == "1":
            pytest.fail(f"{CORPORA} is missing: CI must have shared/ beside the checkout")
        pytest.skip(f"{CORPORA} not found: the corpora live beside the checkout in CI only")


@pytest.mark.corpus
def test_every_corpus_file_gets_a_json_line_without_traceback() -> None:
    """Each corpus file yields JSON lines with an action and no exception escapes."""
    _require_corpora()
    result = CliRunner().invoke(main, ["check", "--json", *map(str, FILES)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 1)
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert {row["file"] for row in rows} == {str(p) for p in FILES}
    assert all(row["action"] in ("clarify", "record", "ignore") for row in rows)
