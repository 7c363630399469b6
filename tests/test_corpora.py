"""Every file of ../shared/corpora goes through `quotebot check --json` without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main


@pytest.mark.corpus
def test_every_corpus_file_gets_a_json_line_without_traceback(corpora: Path) -> None:
    """Each corpus file yields JSON lines with an action and no exception escapes."""
    skip = ("LICENSE", "README.md")
    files = sorted(p for p in corpora.rglob("*") if p.is_file() and p.name not in skip)
    assert files, f"{corpora} holds no mail"
    result = CliRunner().invoke(main, ["check", "--json", *map(str, files)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 1)
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert {row["file"] for row in rows} == {str(p) for p in files}
    assert all(row["action"] in ("clarify", "record", "ignore") for row in rows)
