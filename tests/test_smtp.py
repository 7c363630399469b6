"""The SMTP outbox against a real aiosmtpd server: what arrives, how it logs in, how TLS is
checked, and how each failure is reported."""

from __future__ import annotations

import base64
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from servers import PASSWORD, TOKEN, USERNAME, SmtpSink, TokenStore, free_port

from bot.adapters import smtp
from bot.adapters.secrets import tls_context
from bot.adapters.smtp import SmtpError, SmtpOutbox
from bot.config import ServerConfig, SmtpConfig
from bot.errors import ConfigError, OutboxError

SENDER = "quotes@printshop.example"
ENV = "QUOTEBOT_TEST_PASSWORD"


def reply(**headers: str) -> EmailMessage:
    """A reply as render_reply makes one: auto-replied, threaded, to a buyer with a Cc."""
    message = EmailMessage(policy=policy.default)
    message["From"] = f"Quotes desk <{SENDER}>"
    message["To"] = "Jörg Buyer <buyer@acme.example>"
    message["Cc"] = "eng@acme.example"
    message["Subject"] = "Re: Quote for 500 brackets"
    message["Date"] = "Mon, 03 Mar 2025 09:00:00 +0000"
    message["Message-ID"] = "<reply-1@printshop.example>"
    message["In-Reply-To"] = "<q1@acme.example>"
    message["References"] = "<q1@acme.example>"
    message["Auto-Submitted"] = "auto-replied"
    for name, value in headers.items():
        del message[name.replace("_", "-")]
        message[name.replace("_", "-")] = value
    message.set_content("Which revision of the drawing should we quote?\n")
    return message


def outbox(server: ServerConfig, **changes: object) -> SmtpOutbox:
    """An SmtpOutbox for `server` with some fields changed."""
    return SmtpOutbox(SmtpConfig(kind="smtp", server=replace(server, **changes)), sender=SENDER)


def sink_outbox(sink: SmtpSink, **changes: object) -> SmtpOutbox:
    """An SmtpOutbox for one of the test sinks (password login from $QUOTEBOT_TEST_PASSWORD)."""
    return outbox(sink.settings().server_config(password_env=ENV), **changes)


def token_command(tmp_path: Path, *tokens: str) -> str:
    """A token_command that prints the next of `tokens` each time it runs."""
    queue = tmp_path / "tokens"
    queue.write_text("".join(f"{token}\n" for token in tokens))
    return f"head -n1 {queue} && sed -i 1d {queue}"


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sinks' password sits in the variable the config names, as in production."""
    monkeypatch.setenv(ENV, PASSWORD)


def test_send_delivers_the_exact_bytes_with_the_envelope(smtp_sink: SmtpSink) -> None:
    """The reply arrives byte for byte from the bot's address to its To and Cc; send returns
    its Message-ID."""
    message = reply()
    assert sink_outbox(smtp_sink).send(message) == "<reply-1@printshop.example>"
    [got] = smtp_sink.received
    assert got.mail_from == SENDER
    assert got.rcpt_tos == ("buyer@acme.example", "eng@acme.example")
    assert got.content == message.as_bytes(policy=policy.default.clone(linesep="\r\n"))
    parsed = message_from_bytes(got.content, policy=policy.default)
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["In-Reply-To"] == "<q1@acme.example>"
    assert str(parsed["To"]) == "Jörg Buyer <buyer@acme.example>"


def test_a_draft_is_a_programming_error(smtp_sink: SmtpSink) -> None:
    """Drafts belong in the IMAP Drafts folder: draft=True raises and sends nothing."""
    with pytest.raises(ValueError, match="Drafts"):
        sink_outbox(smtp_sink).send(reply(), draft=True)
    assert smtp_sink.received == []


def test_a_recipient_that_is_not_a_plain_address_stops_the_send(smtp_sink: SmtpSink) -> None:
    """A To that parses to something odd is refused before connecting."""
    with pytest.raises(SmtpError, match="^permanent: .*not a plain address") as refused:
        sink_outbox(smtp_sink).send(reply(To="buyer@acme.example, broken (no address)"))
    assert refused.value.transient is False
    assert smtp_sink.received == []


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_password_login_with_each_mechanism(
    start_smtp_sink: Callable[..., SmtpSink], mechanism: str
) -> None:
    """The password from the environment logs in with whichever of PLAIN and LOGIN the
    server offers."""
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[mechanism]
    sink = start_smtp_sink(users={USERNAME: PASSWORD}, exclude_mechanisms=(other,))
    sink_outbox(sink).send(reply())
    assert sink.received[0].auth == (mechanism, USERNAME)


def test_a_wrong_password_is_permanent_and_names_the_settings(
    smtp_sink_auth: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """535 says which settings to check, never the password itself."""
    monkeypatch.setenv(ENV, "not-the-password")
    with pytest.raises(SmtpError) as refused:
        sink_outbox(smtp_sink_auth).send(reply())
    text = str(refused.value)
    assert text.startswith(f"permanent: 127.0.0.1:{smtp_sink_auth.port}: 535 ")
    assert "outbox.username" in text and ENV in text
    assert "not-the-password" not in text
    assert refused.value.transient is False
    assert smtp_sink_auth.received == []


def test_a_missing_password_variable_is_a_config_error(
    smtp_sink_auth: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unset password_env variable says which variable to export."""
    monkeypatch.delenv(ENV)
    with pytest.raises(ConfigError, match=ENV):
        sink_outbox(smtp_sink_auth).send(reply())


def test_starttls_verifies_the_certificate_against_ca_file(smtp_sink_starttls: SmtpSink) -> None:
    """STARTTLS with ca_file naming the test CA sends; the login happens inside TLS."""
    settings = smtp_sink_starttls.settings()
    assert settings.security == "starttls"
    sink_outbox(smtp_sink_starttls).send(reply())
    assert smtp_sink_starttls.received[0].auth == ("PLAIN", USERNAME)


def test_one_outbox_reads_the_trusted_cas_once(
    smtp_sink_starttls: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each reply has a connection of its own, but the TLS settings (the system's CAs and
    ca_file, 50 ms to read) are made once per outbox; a plain connection makes none."""
    made: list[object] = []

    def counted(server: ServerConfig) -> ssl.SSLContext:
        made.append(server)
        return tls_context(server)

    monkeypatch.setattr(smtp, "tls_context", counted)
    outbox = sink_outbox(smtp_sink_starttls)
    outbox.send(reply())
    outbox.send(reply())
    assert len(smtp_sink_starttls.received) == 2 and len(made) == 1


def test_a_plain_connection_reads_no_cas(
    smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """security = "none" (a relay on the same host) builds no TLS settings at all."""
    made: list[object] = []
    monkeypatch.setattr(smtp, "tls_context", lambda server: made.append(server))
    sink_outbox(smtp_sink).send(reply())
    assert len(smtp_sink.received) == 1 and made == []


def test_starttls_refuses_a_certificate_from_an_untrusted_ca(
    smtp_sink_starttls: SmtpSink,
) -> None:
    """Without the test CA the certificate is refused, so verification is really on."""
    with pytest.raises(SmtpError, match="^permanent: .*certificate not trusted") as refused:
        sink_outbox(smtp_sink_starttls, ca_file=None).send(reply())
    assert "outbox.ca_file" in str(refused.value)
    assert smtp_sink_starttls.received == []


def test_starttls_is_required_when_configured(smtp_sink_auth: SmtpSink) -> None:
    """A server that does not offer STARTTLS gets no login and no message."""
    with pytest.raises(SmtpError, match="^permanent: .*does not offer STARTTLS"):
        sink_outbox(smtp_sink_auth, security="starttls").send(reply())
    assert smtp_sink_auth.received == []


def test_implicit_tls(smtp_sink_tls: SmtpSink) -> None:
    """security = "tls" speaks TLS from the first byte, verified against ca_file."""
    sink_outbox(smtp_sink_tls).send(reply())
    assert len(smtp_sink_tls.received) == 1


def test_tls_against_a_plain_server_names_the_setting(smtp_sink: SmtpSink) -> None:
    """Implicit TLS to a plain port fails as a TLS error pointing at outbox.security."""
    with pytest.raises(SmtpError, match="^permanent: .*outbox.security"):
        sink_outbox(smtp_sink, security="tls", username="").send(reply())


def test_xoauth2_logs_in_with_the_token_command(
    smtp_sink_starttls: SmtpSink, oauth2_tokens: TokenStore, tmp_path: Path
) -> None:
    """auth = "oauth2" sends the token from token_command with AUTH XOAUTH2."""
    command = token_command(tmp_path, TOKEN)
    sink_outbox(smtp_sink_starttls, auth="oauth2", token_command=command).send(reply())
    assert smtp_sink_starttls.received[0].auth == ("XOAUTH2", USERNAME)
    assert oauth2_tokens.seen == [TOKEN]


def test_xoauth2_runs_the_token_command_again_after_a_refusal(
    smtp_sink_auth: SmtpSink, oauth2_tokens: TokenStore, tmp_path: Path
) -> None:
    """A token refused with 535 (expired, revoked) is replaced by running token_command once
    more, and the reply goes out."""
    oauth2_tokens.revoke(TOKEN)
    oauth2_tokens.grant("fresh-token")
    command = token_command(tmp_path, TOKEN, "fresh-token")
    sink_outbox(smtp_sink_auth, auth="oauth2", token_command=command).send(reply())
    assert oauth2_tokens.seen == [TOKEN, "fresh-token"]
    assert smtp_sink_auth.received[0].auth == ("XOAUTH2", USERNAME)


def test_xoauth2_refused_twice_is_permanent(
    smtp_sink_auth: SmtpSink, oauth2_tokens: TokenStore, tmp_path: Path
) -> None:
    """Two refused tokens give up with a pointer to token_command; nothing is sent."""
    oauth2_tokens.revoke(TOKEN)
    command = token_command(tmp_path, TOKEN, TOKEN, TOKEN)
    with pytest.raises(SmtpError, match="^permanent: .*535 .*outbox.token_command"):
        sink_outbox(smtp_sink_auth, auth="oauth2", token_command=command).send(reply())
    assert oauth2_tokens.seen == [TOKEN, TOKEN]
    assert smtp_sink_auth.received == []


@pytest.mark.parametrize(
    ("code", "kind", "transient"), [(451, "temporary", True), (550, "permanent", False)]
)
def test_a_refused_message_is_temporary_or_permanent_by_code(
    smtp_sink: SmtpSink, code: int, kind: str, transient: bool
) -> None:
    """4xx after DATA may work later, 5xx will not; the error says which and why."""
    smtp_sink.fail_next(code)
    with pytest.raises(SmtpError) as refused:
        sink_outbox(smtp_sink).send(reply())
    assert str(refused.value).startswith(f"{kind}: 127.0.0.1:{smtp_sink.port}: {code} ")
    assert refused.value.transient is transient
    assert isinstance(refused.value, OutboxError)


def test_nothing_listening_is_temporary() -> None:
    """A refused connection is a temporary error naming host and port."""
    port = free_port()
    server = ServerConfig(host="127.0.0.1", port=port, security="none", password_env=ENV)
    with pytest.raises(SmtpError, match=f"^temporary: 127.0.0.1:{port}: connection refused"):
        outbox(server).send(reply())


def test_a_silent_server_times_out_as_temporary() -> None:
    """A server that accepts but never greets gives a temporary error after timeout_seconds."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        server = ServerConfig(
            host="127.0.0.1", port=port, security="none", timeout_seconds=0.2, password_env=ENV
        )
        with pytest.raises(SmtpError, match="^temporary: .*no answer in 0.2 s") as failed:
            outbox(server).send(reply())
    assert failed.value.transient is True


def test_an_unknown_host_is_temporary() -> None:
    """A name that does not resolve is a temporary error pointing at outbox.host."""
    server = ServerConfig(host="smtp.nonexistent.invalid", port=587, security="starttls")
    with pytest.raises(SmtpError, match="^temporary: smtp.nonexistent.invalid: .*outbox.host"):
        outbox(server).send(reply())


def test_no_secret_reaches_logs_or_output(
    smtp_sink_auth: SmtpSink,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Neither the password, the token nor their AUTH encodings are logged or printed."""
    caplog.set_level(logging.DEBUG)
    sink_outbox(smtp_sink_auth).send(reply())
    command = token_command(tmp_path, TOKEN)
    sink_outbox(smtp_sink_auth, auth="oauth2", token_command=command).send(reply())
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bot")]
    out = "\n".join(ours) + "".join(capsys.readouterr())  # the sink's own log is not ours
    plain = base64.b64encode(f"\0{USERNAME}\0{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, TOKEN, plain, "Which revision"):
        assert secret not in out
    assert "<reply-1@printshop.example>" in out


def test_delivered_asks_the_sent_lookup() -> None:
    """SMTP cannot tell what went out: delivered() asks the lookup given, else says False."""
    server = ServerConfig(host="127.0.0.1", port=25, security="none")
    config = SmtpConfig(kind="smtp", server=server)
    assert SmtpOutbox(config, sender=SENDER).delivered("<r@x>") is False
    sent = {"<r@x>"}
    assert SmtpOutbox(config, sender=SENDER, sent_lookup=sent.__contains__).delivered("<r@x>")
