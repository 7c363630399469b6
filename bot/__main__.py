"""`python -m bot` is the `quotebot` command."""

from bot.cli import main

main()
