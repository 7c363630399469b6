"""quotebot: reads a print shop's quotes mailbox and asks buyers the missing release questions."""

__version__ = "0.1.0"


def main() -> None:
    """The `quotebot` command. The console script imports this module, and a parse worker
    (started by spawn) runs that script again as its main module: the command's imports
    (SQLAlchemy, Alembic, every command) wait until the command runs, so a worker does not
    pay for them (49 MB more peak memory and 1.9 s more CPU a worker, measured)."""
    from bot.cli import main as command

    command()
