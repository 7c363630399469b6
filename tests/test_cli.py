"""The quotebot command: check --json keys and exit codes, run --once, help texts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.model import ACTIONS, FIELDS, STAGES

ROOT = Path(__file__).parent.parent
DATA = ROOT / "tests" / "data" / "labelled"
KEYS = {
    "file",
    "message_id",
    "action",
    "stage",
    "missing",
    "quantity",
    "held_quantity",
    "revision",
    "material",
    "timing",
    "po_number",
    "new_text",
    "reason",
    "evidence",
}


def _check_json(*args: str) -> tuple[int, list[dict[str, object]]]:
    result = CliRunner().invoke(
        main, ["check", "--json", "--config", str(DATA / "quotebot.toml"), *args]
    )
    return result.exit_code, [json.loads(line) for line in result.output.splitlines() if line]


def test_check_json_has_every_key_with_valid_values() -> None:
    """Every line of check --json carries the documented keys with values from their enums."""
    files = sorted(str(p) for p in DATA.glob("*.eml"))
    code, rows = _check_json(*files)
    assert code == 0
    assert len(rows) == len(files)
    seen_actions, seen_stages = set(), set()
    for row in rows:
        assert row.keys() >= KEYS
        assert row["action"] in ACTIONS
        assert row["stage"] in STAGES
        assert list(row["missing"]) == [f for f in FIELDS if f in row["missing"]]  # type: ignore[operator]
        assert row["quantity"] is None or isinstance(row["quantity"], int)
        assert isinstance(row["evidence"], dict)
        seen_actions.add(row["action"])
        seen_stages.add(row["stage"])
    assert seen_actions == set(ACTIONS)
    assert seen_stages == set(STAGES)


def test_check_json_mbox_gives_one_line_per_message() -> None:
    """An mbox is one thread: one JSON line per message, all naming the same file."""
    mbox = sorted(DATA.glob("*.mbox"))[0]
    code, rows = _check_json(str(mbox))
    assert code == 0
    assert len(rows) > 1
    assert {row["file"] for row in rows} == {str(mbox)}


def test_check_unreadable_file_gets_an_error_line_and_exit_1(tmp_path: Path) -> None:
    """A file that cannot be read still gets a line (ignore, error) and the command goes on."""
    good = sorted(DATA.glob("*.eml"))[0]
    code, rows = _check_json(str(tmp_path / "missing.eml"), str(good))
    assert code == 1
    assert rows[0]["action"] == "ignore" and "error" in rows[0]
    assert rows[1]["file"] == str(good) and "error" not in rows[1]


def test_check_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A config error prints one `Error:` line naming the file and exits 2."""
    bad = tmp_path / "quotebot.toml"
    bad.write_text(
        '[bot]\naddress = "quotes@x.example"\nmode = "loud"\n[mailbox]\npath="m"\n[outbox]\npath="o"\n'
    )
    result = CliRunner().invoke(
        main, ["check", "--config", str(bad), str(sorted(DATA.glob("*.eml"))[0])]
    )
    assert result.exit_code == 2
    assert result.output.strip().startswith("Error: ")
    assert "bot.mode" in result.output and "loud" in result.output
    assert "Traceback" not in result.output


def test_run_missing_config_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """run with a missing config prints one Error line and exits 1."""
    result = CliRunner().invoke(main, ["run", "--once", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("Error: ")


@pytest.mark.parametrize("command", ["check", "run"])
def test_every_command_help_ends_with_an_example(command: str) -> None:
    """Each command's --help ends with an example line."""
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert "quotebot " in result.output.split("Example:")[1]


def test_db_upgrade_help_ends_with_an_example() -> None:
    """`quotebot db upgrade --help` ends with an example line, as every command's does."""
    result = CliRunner().invoke(main, ["db", "upgrade", "--help"])
    assert result.exit_code == 0
    assert "quotebot db upgrade --config" in result.output.split("Example:")[1]


def test_python_dash_m_bot_is_the_same_command() -> None:
    """`python -m bot --help` runs the quotebot command."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ},
        check=False,
    )
    assert result.returncode == 0
    assert "check" in result.stdout and "run" in result.stdout


# What pip writes for `[project.scripts] quotebot = "bot:main"`, and a parse worker's check
CONSOLE_SCRIPT = """\
import sys
from bot import main


def _loaded():
    heavy = ("bot.cli", "bot.adapters", "sqlalchemy", "sqlmodel", "alembic")
    return sorted(m for m in sys.modules if m.startswith(heavy))


if __name__ == "__main__":
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # as bot.pipeline starts its workers
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        print(pool.submit(_loaded).result())
"""


def test_a_parse_worker_of_the_console_script_does_not_import_the_commands(
    tmp_path: Path,
) -> None:
    """Spawn runs the console script again in each parse worker: its one import must be
    light, or each worker loads SQLAlchemy, Alembic and every command (49 MB a worker)."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["quotebot"] == "bot:main"
    script = tmp_path / "quotebot"
    script.write_text(CONSOLE_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_console_entry_point_runs_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import bot; bot.main()", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0
    assert "check" in result.stdout and "run" in result.stdout


def _eval_folder(tmp_path: Path, labels: str) -> Path:
    folder = tmp_path / "set"
    folder.mkdir()
    for name in ("001-vague-go-ahead.eml", "002-approved-alone-purchasing.eml"):
        (folder / name).write_bytes((DATA / name).read_bytes())
    (folder / "quotebot.toml").write_text(
        (DATA / "quotebot.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (folder / "labels.toml").write_text(labels, encoding="utf-8")
    return folder


def test_eval_prints_accuracy_confusion_and_false_releases(tmp_path: Path) -> None:
    """eval scores each labelled field and prints the action confusion; the second label
    (ignore) disagrees with the bot's clarify, so actions score 1 of 2."""
    folder = _eval_folder(
        tmp_path,
        '[[case]]\nfile = "001-vague-go-ahead.eml"\naction = "clarify"\nstage = "unclear"\n'
        'missing = ["quantity", "revision", "authority"]\n\n'
        '[[case]]\nfile = "002-approved-alone-purchasing.eml"\naction = "ignore"\n'
        'stage = "none"\nmissing = []\n',
    )
    result = CliRunner().invoke(main, ["eval", str(folder)])
    assert result.exit_code == 0, result.output
    assert "action         1/2 (50.0%)" in result.output
    assert "missing (clarify) 1/1 (100.0%)" in result.output
    assert "false releases: 0" in result.output
    confusion = result.output.split("actions (rows: label, columns: bot):")[1].splitlines()
    assert confusion[2].split() == ["clarify", "1", "0", "0", "0"]
    assert confusion[4].split() == ["ignore", "1", "0", "0", "0"]


def test_eval_names_false_releases(tmp_path: Path) -> None:
    """A complete release where the label has none is listed by file name."""
    folder = tmp_path / "set"
    folder.mkdir()
    name = "029-production-complete-outlook.eml"  # a complete production release
    (folder / name).write_bytes((DATA / name).read_bytes())
    (folder / "quotebot.toml").write_bytes((DATA / "quotebot.toml").read_bytes())
    (folder / "labels.toml").write_text(
        f'[[case]]\nfile = "{name}"\naction = "clarify"\nstage = "unclear"\n'
        'missing = ["quantity"]\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["eval", str(folder)])
    assert "false releases: 1" in result.output
    assert f"  {name}: labelled clarify unclear, bot recorded a production release" in (
        result.output
    )


def test_eval_label_error_is_one_line(tmp_path: Path) -> None:
    """A label naming a missing file stops eval with exit 2 and one line that names it."""
    folder = _eval_folder(
        tmp_path, '[[case]]\nfile = "nope.eml"\naction = "clarify"\nstage = "unclear"\n'
    )
    result = CliRunner().invoke(main, ["eval", str(folder)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: {folder / 'labels.toml'}: case 1: file 'nope.eml' is not in {folder}"
    ]


@pytest.mark.parametrize("command", ["check", "eval"])
def test_missing_config_named_by_flag_is_an_error(tmp_path: Path, command: str) -> None:
    """--config naming a file that is not there stops with one line, not the defaults."""
    target = str(DATA / "001-vague-go-ahead.eml") if command == "check" else str(DATA)
    result = CliRunner().invoke(main, [command, "--config", str(tmp_path / "nope.toml"), target])
    assert result.exit_code == 2
    assert result.output.startswith("Error: ") and "nope.toml" in result.output
