"""quotebot: reads a print shop's quotes mailbox and asks buyers the missing release questions."""

__version__ = "0.1.0"
