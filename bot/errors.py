"""One error hierarchy: every failure the bot reports to a person is a QuotebotError."""


class QuotebotError(Exception):
    """Base of every error quotebot raises on purpose; its message says what to fix."""


class ConfigError(QuotebotError):
    """Raised when the config file is missing, is not TOML, or has a bad key or value."""


class RulesError(QuotebotError):
    """Raised when a rules/*.toml file is missing, malformed, or holds a bad pattern."""


class TemplateError(QuotebotError):
    """Raised when a reply template is missing or fails to render."""


class MessageError(QuotebotError):
    """Raised when one message cannot be read or parsed; the run goes on without it."""


class MailboxError(QuotebotError):
    """Raised when the mailbox cannot be opened or read."""


class OutboxError(QuotebotError):
    """Raised when a reply cannot be handed to the outbox. `transient`: the same reply may go
    through later (a connection, a 4xx); otherwise something must change first (a 5xx)."""

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


class StoreError(QuotebotError):
    """Raised when the database cannot be opened or written."""


class SchemaError(StoreError):
    """Raised when the database's schema is older (or newer) than this quotebot's: the message
    names the command that upgrades it."""


class RaceLostError(StoreError):
    """Raised when another worker recorded the same message first (the unique constraint on
    one record, and one reply, per inbound message per mailbox): this worker backs off."""
