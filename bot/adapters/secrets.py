"""Passwords and OAuth2 tokens, read when a connection needs them and never logged."""

from __future__ import annotations

import os
import ssl
import subprocess

from bot.config import ServerConfig
from bot.errors import ConfigError

TOKEN_COMMAND_SECONDS = 60


def credential(server: ServerConfig) -> str:
    """The password (from `password_env`) or a fresh OAuth2 access token (the first line
    `token_command` prints, run through the shell as mbsync's PassCmd and msmtp's
    passwordeval are)."""
    if server.auth == "oauth2":
        return _token(server)
    name = server.password_env or ""
    value = os.environ.get(name)
    if not value:
        raise ConfigError(
            f"{server.host}: the environment variable {name} is not set; "
            f"export the password for {server.username} in {name}"
        )
    return value


def _token(server: ServerConfig) -> str:
    command = server.token_command or ""
    try:
        done = subprocess.run(
            command,
            shell=True,
            capture_output=True,
            text=True,
            timeout=TOKEN_COMMAND_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"{server.host}: token_command did not finish in {TOKEN_COMMAND_SECONDS} s"
        ) from None
    token = done.stdout.strip().splitlines()[0].strip() if done.stdout.strip() else ""
    if done.returncode != 0 or not token:
        why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output"
        raise ConfigError(
            f"{server.host}: token_command failed (exit {done.returncode}: {why}); "
            "run it by hand to see why"
        )
    return token


def tls_context(server: ServerConfig) -> ssl.SSLContext:
    """Certificates verified (hostname included) against the system's CAs plus the server's
    `ca_file` when set; verification is never switched off."""
    context = ssl.create_default_context()
    if server.ca_file is not None:
        context.load_verify_locations(cafile=str(server.ca_file))
    return context
