"""The test servers themselves: each fixture gives a real server that imapclient and smtplib
can use, so the adapter tests can trust them."""

from __future__ import annotations

import smtplib
import socket
import ssl

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from servers import PASSWORD, TOKEN, USERNAME, Dovecot, LocalCA, SmtpSink, TokenStore, unavailable

RAW = b"From: buyer@acme.example\r\nSubject: Quote\r\nMessage-ID: <q1@acme.example>\r\n\r\nHi\r\n"


def test_dovecot_login_append_select_fetch(dovecot: Dovecot) -> None:
    """A plain login, APPEND, SELECT and FETCH work and Drafts and Sent exist."""
    settings = dovecot.imap_settings()
    assert (settings.host, settings.security) == ("127.0.0.1", "none")
    with IMAPClient(settings.host, settings.port, ssl=False, timeout=5) as client:
        client.login(settings.username, settings.password)
        names = {name for _, _, name in client.list_folders()}
        assert {"INBOX", "Drafts", "Sent"} <= names
        client.append("INBOX", RAW)
        assert client.select_folder("INBOX")[b"EXISTS"] == 1
        uid = client.search(["ALL"])[0]
        assert client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"] == RAW


def test_dovecot_helpers_deliver_list_and_log(dovecot: Dovecot) -> None:
    """deliver() creates folders and returns UIDs; messages(), flags(), mail_dir and log()
    show what the server holds and did."""
    assert dovecot.deliver(RAW) == 1
    assert dovecot.deliver(RAW.replace(b"q1", b"q2"), "Archive/2024", flags=(b"\\Seen",)) == 1
    assert dovecot.messages() == [RAW]
    assert dovecot.flags("Archive/2024") == {1: (b"\\Seen",)}
    assert list((dovecot.mail_dir / "cur").iterdir()) or list((dovecot.mail_dir / "new").iterdir())
    assert f"Login: user=<{USERNAME}>" in dovecot.log()


def test_dovecot_restart_keeps_port_and_mail(dovecot: Dovecot) -> None:
    """After stop() the port refuses connections; restart() serves the same mail there."""
    dovecot.deliver(RAW)
    port = dovecot.port
    dovecot.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((dovecot.host, port), timeout=1).close()
    dovecot.restart()
    assert dovecot.port == port
    assert dovecot.messages() == [RAW]


def test_dovecot_instances_run_side_by_side(dovecot: Dovecot) -> None:
    """A second instance gets its own port, folder and mail."""
    with Dovecot(users={"other@printshop.example": "pw"}) as other:
        assert other.port != dovecot.port
        other.deliver(RAW)
        assert dovecot.messages() == []
        assert other.messages() == [RAW]


def test_dovecot_tls_verifies_against_the_ca(dovecot_tls: Dovecot, local_ca: LocalCA) -> None:
    """Implicit TLS verifies with a default context that trusts the CA file, hostname 127.0.0.1."""
    settings = dovecot_tls.imap_settings()
    assert (settings.security, settings.ca_file) == ("tls", local_ca.ca_file)
    context = ssl.create_default_context(cafile=str(settings.ca_file))
    with IMAPClient(settings.host, settings.port, ssl_context=context, timeout=5) as client:
        client.login(settings.username, settings.password)
        client.append("INBOX", RAW)
    assert dovecot_tls.messages() == [RAW]


def test_dovecot_tls_is_refused_without_the_ca(dovecot_tls: Dovecot) -> None:
    """A default context without the test CA rejects the certificate: verification is real."""
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(dovecot_tls.host, dovecot_tls.port, ssl=True, timeout=5)


def test_dovecot_oauth2_accepts_valid_and_refuses_revoked_tokens(
    dovecot_oauth2: Dovecot, oauth2_tokens: TokenStore
) -> None:
    """XOAUTH2 and OAUTHBEARER log in with a granted token; a revoked one fails."""
    host, port = dovecot_oauth2.host, dovecot_oauth2.port
    with IMAPClient(host, port, ssl=False, timeout=5) as client:
        client.oauth2_login(USERNAME, TOKEN)
    with IMAPClient(host, port, ssl=False, timeout=5) as client:
        client.oauthbearer_login(USERNAME, TOKEN)
    oauth2_tokens.revoke(TOKEN)
    with IMAPClient(host, port, ssl=False, timeout=5) as client, pytest.raises(LoginError):
        client.oauth2_login(USERNAME, TOKEN)
    oauth2_tokens.grant("fresh-token")
    with IMAPClient(host, port, ssl=False, timeout=5) as client:
        client.oauth2_login(USERNAME, "fresh-token")
    assert oauth2_tokens.seen.count(TOKEN) == 3


def test_smtp_sink_records_envelope_and_bytes(smtp_sink: SmtpSink) -> None:
    """What smtplib sends arrives in `received` with its envelope and exact bytes."""
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=5) as client:
        refused = client.sendmail("quotes@printshop.example", ["a@acme.example"], RAW)
    assert refused == {}
    [got] = smtp_sink.received
    assert (got.mail_from, got.rcpt_tos, got.content, got.auth) == (
        "quotes@printshop.example",
        ("a@acme.example",),
        RAW,
        None,
    )


@pytest.mark.parametrize("code", [451, 550])
def test_smtp_sink_fails_the_next_data_on_request(smtp_sink: SmtpSink, code: int) -> None:
    """fail_next() makes one DATA fail with the code; the next message goes through."""
    smtp_sink.fail_next(code)
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPDataError) as failed:
            client.sendmail("quotes@printshop.example", ["a@acme.example"], RAW)
        client.sendmail("quotes@printshop.example", ["a@acme.example"], RAW)
    assert failed.value.smtp_code == code
    assert len(smtp_sink.received) == 1


def test_smtp_sink_auth_requires_a_login(smtp_sink_auth: SmtpSink) -> None:
    """Mail without AUTH is refused, a wrong password fails, the right one is recorded."""
    host, port = smtp_sink_auth.host, smtp_sink_auth.port
    with smtplib.SMTP(host, port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPSenderRefused):
            client.sendmail(USERNAME, ["a@acme.example"], RAW)
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login(USERNAME, "wrong")
        client.login(USERNAME, PASSWORD)
        client.sendmail(USERNAME, ["a@acme.example"], RAW)
    assert smtp_sink_auth.received[0].auth == ("PLAIN", USERNAME)


def test_smtp_sink_starttls_verifies_against_the_ca(
    smtp_sink_starttls: SmtpSink, local_ca: LocalCA
) -> None:
    """STARTTLS with a context trusting the CA works; without it the certificate is refused."""
    host, port = smtp_sink_starttls.host, smtp_sink_starttls.port
    with (
        smtplib.SMTP(host, port, timeout=5) as client,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        client.starttls(context=ssl.create_default_context())
    with smtplib.SMTP(host, port, timeout=5) as client:
        client.starttls(context=local_ca.client_context())
        client.login(USERNAME, PASSWORD)
        client.sendmail(USERNAME, ["a@acme.example"], RAW)
    assert len(smtp_sink_starttls.received) == 1


def test_smtp_sink_implicit_tls(smtp_sink_tls: SmtpSink, local_ca: LocalCA) -> None:
    """The implicit-TLS sink takes SMTP_SSL connections verified against the CA."""
    settings = smtp_sink_tls.settings()
    context = local_ca.client_context()
    with smtplib.SMTP_SSL(settings.host, settings.port, timeout=5, context=context) as client:
        client.login(settings.username, settings.password)
        client.sendmail(USERNAME, ["a@acme.example"], RAW)
    assert smtp_sink_tls.received[0].auth == ("PLAIN", USERNAME)


def test_missing_servers_skip_or_fail_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing server skips the test, except under QUOTEBOT_REQUIRE_SERVERS=1 where it fails."""
    monkeypatch.delenv("QUOTEBOT_REQUIRE_SERVERS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Dovecot is not installed"):
        unavailable("Dovecot is not installed (apt-get install dovecot-imapd)")
    monkeypatch.setenv("QUOTEBOT_REQUIRE_SERVERS", "1")
    with pytest.raises(pytest.fail.Exception, match="Dovecot is not installed"):
        unavailable("Dovecot is not installed (apt-get install dovecot-imapd)")
