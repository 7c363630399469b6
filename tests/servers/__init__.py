"""Real mail servers for the tests: a throwaway Dovecot (plain, TLS or OAuth2) on loopback, a
token-introspection endpoint for its OAuth2 logins, and an aiosmtpd sink that records what it
receives. Each server takes a free port and its own temporary folder, so several can run at once
and none collides with a system Dovecot on 143/993."""

from servers.common import (
    AIOSMTPD,
    AIOSMTPD_MISSING,
    DOVECOT,
    DOVECOT_MISSING,
    LOOPBACK,
    OPENSSL_MISSING,
    PASSWORD,
    TOKEN,
    USERNAME,
    LocalCA,
    ServerSettings,
    TokenStore,
    free_port,
    unavailable,
)
from servers.config import write_config
from servers.dovecot import Dovecot
from servers.postgres import PG_CTL_MISSING, PostgresDatabase, PostgresServer, postgres_problem
from servers.smtp import Received, SmtpSink

__all__ = [
    "AIOSMTPD",
    "AIOSMTPD_MISSING",
    "DOVECOT",
    "DOVECOT_MISSING",
    "LOOPBACK",
    "OPENSSL_MISSING",
    "PASSWORD",
    "PG_CTL_MISSING",
    "TOKEN",
    "USERNAME",
    "Dovecot",
    "LocalCA",
    "PostgresDatabase",
    "PostgresServer",
    "Received",
    "ServerSettings",
    "SmtpSink",
    "TokenStore",
    "free_port",
    "postgres_problem",
    "unavailable",
    "write_config",
]
