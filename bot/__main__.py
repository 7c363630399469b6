"""`python -m bot` is the `quotebot` command."""

from bot import main

main()
