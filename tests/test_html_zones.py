"""HTML replies of each mail client, through bot.parse and bot.zones: only the reply is new text.

Each mail is built here with the standard library as an HTML-only message (the case where
quotebot reads the HTML; a multipart/alternative mail is read from its text/plain part). The
markup follows what each client writes: Gmail's div.gmail_quote, Outlook's border-top header
box and Outlook on the web's #divRplyFwdMsg, Apple Mail's and Thunderbird's blockquote
type=cite, iOS Mail's "Sent from my iPhone".
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from bot.html_text import html_text
from bot.parse import html_to_text, parse_message
from bot.rules import Rules
from bot.zones import split_zones

REPO = Path(__file__).resolve().parent.parent

SHOP = "Printshop Quotes &lt;quotes@printshop.example&gt;"
GMAIL_QUOTE_STYLE = (
    "margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex"
)

GMAIL = f"""\
<div dir="ltr">Looks good, please go ahead with the 250 units of rev C7.<br clear="all"><div><br>\
</div><span class="gmail_signature_prefix">-- </span><br><div dir="ltr" class="gmail_signature" \
data-smartmail="gmail_signature"><div dir="ltr"><div>D. Ortiz | Purchasing Lead</div><div>Acme \
Robotics</div></div></div></div><br><div class="gmail_quote gmail_quote_container"><div dir="ltr" \
class="gmail_attr">On Tue, Mar 4, 2025 at 10:40 AM Printshop Quotes &lt;<a \
href="mailto:quotes@printshop.example">quotes@printshop.example</a>&gt; wrote:<br></div>\
<blockquote class="gmail_quote" style="{GMAIL_QUOTE_STYLE}"><div dir="ltr">Quote Q-1042: 250 \
units of rev C7, $4.10 each.<div>How many units are released now?</div></div></blockquote></div>
"""

GMAIL_INLINE = f"""\
<div dir="ltr">Answers below.</div><br><div class="gmail_quote"><div dir="ltr" \
class="gmail_attr">On Tue, Mar 4, 2025 at 10:40 AM {SHOP} wrote:<br></div><blockquote \
class="gmail_quote" style="{GMAIL_QUOTE_STYLE}"><div dir="ltr">1. How many units are released \
now?</div></blockquote><div>250 units</div><div><br></div><blockquote class="gmail_quote" \
style="{GMAIL_QUOTE_STYLE}"><div dir="ltr">2. Which file or revision controls the run?</div>\
</blockquote><div>Rev B4</div></div>
"""

GMAIL_JAPANESE = f"""\
<div dir="ltr">Approved, please start the run.</div><br><div class="gmail_quote"><div dir="ltr" \
class="gmail_attr">2025年3月4日(火) 10:40 {SHOP}:<br></div><blockquote class="gmail_quote" \
style="{GMAIL_QUOTE_STYLE}"><div dir="ltr">Quote Q-1042: 250 units of rev C7.</div></blockquote>\
</div>
"""

WORD_HEAD = """\
<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" \
xmlns:w="urn:schemas-microsoft-com:office:word" xmlns="http://www.w3.org/TR/REC-html40"><head>
<meta http-equiv=Content-Type content="text/html; charset=utf-8">
<meta name=Generator content="Microsoft Word 15 (filtered medium)">
<style><!--
@font-face {font-family:"Cambria Math"; panose-1:2 4 5 3 5 4 6 3 2 4;}
p.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0in; font-size:11.0pt; font-family:"Calibri";}
--></style></head>
<body lang=EN-US link="#0563C1" vlink="#954F72" style='word-wrap:break-word'>
<div class=WordSection1>
"""


def _p(text: str) -> str:
    return f"<p class=MsoNormal>{text}<o:p></o:p></p>\n"


def _outlook_header(labels: tuple[str, str, str, str], *, box: bool, unit: str = "in") -> str:
    """Outlook desktop's reply header: bold labels in a border-top box (or a plain div)."""
    style = f"border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0{unit} 0{unit} 0{unit}"
    values = (SHOP, "Tuesday, March 4, 2025 10:40 AM", "Buyer &lt;buyer@acme.example&gt;", "Q-1042")
    fields = "<br>".join(
        f"<b>{label}</b> {value}" for label, value in zip(labels, values, strict=True)
    )
    opening = f"<div style='{style}'>" if box else "<div>"
    return f"<div>{opening}<p class=MsoNormal>{fields}<o:p></o:p></p></div></div>\n"


OUTLOOK = (
    WORD_HEAD
    + _p("Approved, please release 300 clamps.")
    + _p("&nbsp;")
    + _p("Kind regards,")
    + _p("Sam")
    + _p("&nbsp;")
    + _outlook_header(("From:", "Sent:", "To:", "Subject:"), box=True)
    + _p("&nbsp;")
    + _p("Quote Q-1177: 300 clamps, rev A, $2.20 each.")
    + _p("How many units are released now?")
    + "</div></body></html>\n"
)

OUTLOOK_GERMAN = (
    WORD_HEAD
    + _p("Bitte warten Sie mit der Fertigung, der Einkauf hat noch nicht freigegeben.")
    + _p("&nbsp;")
    + _p("Mit freundlichen Grüßen")
    + _p("Jürgen Müller")
    + _p("&nbsp;")
    + _outlook_header(("Von:", "Gesendet:", "An:", "Betreff:"), box=True, unit="cm")
    + _p("&nbsp;")
    + _p("Release 400 units of rev B, start now.")
    + "</div></body></html>\n"
)

# the same German reply after a gateway stripped the styles: only the words tell the header
OUTLOOK_GERMAN_PLAIN_DIV = (
    WORD_HEAD
    + _p("Bitte warten Sie mit der Fertigung, der Einkauf hat noch nicht freigegeben.")
    + _p("&nbsp;")
    + _outlook_header(("Von:", "Gesendet:", "An:", "Betreff:"), box=False)
    + _p("&nbsp;")
    + _p("Release 400 units of rev B, start now.")
    + _p("Diese E-Mail enthält vertrauliche Informationen der Printshop GmbH.")
    + "</div></body></html>\n"
)

# a language no rule knows: the header box alone marks the history
OUTLOOK_JAPANESE = (
    WORD_HEAD
    + _p("Please hold, we are still waiting on budget.")
    + _p("&nbsp;")
    + _outlook_header(("差出人:", "送信日時:", "宛先:", "件名:"), box=True)
    + _p("Release 500 units of rev D2 now.")
    + "</div></body></html>\n"
)

OUTLOOK_WEB = f"""\
<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><style \
type="text/css" style="display:none;"> P {{margin-top:0;margin-bottom:0;}} </style></head>
<body dir="ltr"><div class="elementToProof" style="font-family: Aptos, Aptos_EmbeddedFont, \
Calibri, Helvetica, sans-serif; font-size: 12pt; color: rgb(0, 0, 0);">We are still waiting on \
budget, please hold the order.</div><div id="appendonsend"></div><hr \
style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><font \
face="Calibri, sans-serif" style="font-size:11pt" color="#000000"><b>From:</b> {SHOP}<br><b>Sent:\
</b> Tuesday, March 4, 2025 10:40<br><b>To:</b> Lee Park &lt;lee.park@acme-robotics.example&gt;\
<br><b>Subject:</b> Quote Q-1042</font><div>&nbsp;</div></div><div><div dir="ltr">Please \
confirm the release of 500 units of rev D2.</div></div></body></html>
"""

APPLE_MAIL = f"""\
<html aria-label="message body"><head><meta http-equiv="content-type" content="text/html; \
charset=utf-8"></head><body style="overflow-wrap: break-word; -webkit-nbsp-mode: space; \
line-break: after-white-space;">Approved, go ahead with rev B4 for all 250 units.<div><br></div>\
<div>Lee</div><div><br id="lineBreakAtBeginningOfMessage"><div><br><blockquote type="cite"><div>\
On Mar 4, 2025, at 10:40, {SHOP} wrote:</div><br class="Apple-interchange-newline"><div><div>\
Quote Q-1042: 250 units of rev C7, $4.10 each.</div><div>Which file or revision controls the \
run?</div></div></blockquote></div><br></div></body></html>
"""

THUNDERBIRD = """\
<!DOCTYPE html>
<html>
  <head>
    <meta http-equiv="Content-Type" content="text/html; charset=UTF-8">
  </head>
  <body>
    <div class="moz-cite-prefix">Am 04.03.25 um 10:40 schrieb Printshop Quotes:<br>
    </div>
    <blockquote type="cite" cite="mid:q-1042@printshop.example">
      <p>Please confirm: release 400 units of rev B and start now?</p>
    </blockquote>
    <p>Please hold the order for now, the budget is not approved yet.</p>
    <div class="moz-signature">-- <br>
      Jürgen Müller<br>
      Einkauf, Müller Maschinenbau GmbH</div>
  </body>
</html>
"""

IPHONE = f"""\
<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head><body \
dir="auto"><div dir="ltr">Approved, start the run of 250 units now.</div><div dir="ltr"><br>\
</div><div dir="ltr"><br id="lineBreakAtBeginningOfSignature"><div dir="ltr">Sent from my \
iPhone</div><div dir="ltr"><br><blockquote type="cite">On Mar 4, 2025, at 10:40, {SHOP} \
wrote:<br><br></blockquote></div><blockquote type="cite"><div dir="ltr">\ufeff<div>Quote \
Q-1042: 250 units of rev C7. Lead time 10 business days.</div></div></blockquote></div></body>\
</html>
"""

SIGNATURE_TABLE = (
    WORD_HEAD
    + _p("Please release 250 units of rev B4 now. PO 45001 is attached.")
    + _p("&nbsp;")
    + "<table class=MsoNormalTable border=0 cellspacing=0 cellpadding=0><tr><td width=200>"
    + _p("<b>Lee Park</b>")
    + _p("Purchasing Manager | Acme Robotics")
    + "</td><td width=260>"
    + _p("T +1 (555) 010-2000")
    + _p("M +1 555 010 2001")
    + _p("250 Main Street, Springfield, IL 62701")
    + _p('<a href="https://acme-robotics.example">www.acme-robotics.example</a>')
    + "</td></tr></table>\n</div></body></html>\n"
)

DISCLAIMER = (
    WORD_HEAD
    + _p("Go ahead with the 300 brackets, rev K1.")
    + _p("&nbsp;")
    + _p("Best regards,")
    + _p("Dana Ortiz")
    + "<hr>\n"
    + '<p style="font-size:8pt;color:gray">CONFIDENTIALITY NOTICE: This e-mail and any '
    "attachments are confidential and intended solely for the addressee. If you are not the "
    "intended recipient, please delete it. No order is released by e-mail unless a purchase "
    "order follows.</p>\n</div></body></html>\n"
)

# id -> (html, From header, sentences of the new text, {zone: sentences that must be there})
CASES = {
    "gmail": (
        GMAIL,
        "Dana Ortiz <dana.ortiz@acme-robotics.example>",
        ["Looks good, please go ahead with the 250 units of rev C7."],
        {
            "quoted": ["Quote Q-1042: 250 units", "How many units are released now?"],
            "signature": ["D. Ortiz | Purchasing Lead"],
        },
    ),
    "gmail-inline-answers": (
        GMAIL_INLINE,
        "Dana Ortiz <dana.ortiz@acme-robotics.example>",
        ["Answers below.", "250 units", "Rev B4"],
        {"quoted": ["How many units are released now?", "Which file or revision"]},
    ),
    "gmail-japanese-attribution": (
        GMAIL_JAPANESE,
        "Dana Ortiz <dana.ortiz@acme-robotics.example>",
        ["Approved, please start the run."],
        {"quoted": ["2025年3月4日", "250 units of rev C7"]},
    ),
    "outlook-desktop": (
        OUTLOOK,
        "Sam Whitaker <sam.whitaker@northwind-fixtures.example>",
        ["Approved, please release 300 clamps."],
        {
            "quoted": ["Sent: Tuesday", "300 clamps, rev A", "How many units are released now?"],
            "signature": ["Kind regards,", "Sam"],
        },
    ),
    "outlook-web": (
        OUTLOOK_WEB,
        "Lee Park <lee.park@acme-robotics.example>",
        ["We are still waiting on budget, please hold the order."],
        {"quoted": ["From: Printshop Quotes", "release of 500 units of rev D2"]},
    ),
    "outlook-german-von-gesendet": (
        OUTLOOK_GERMAN,
        "Jürgen Müller <jm@mueller-maschinenbau.example>",
        ["Bitte warten Sie mit der Fertigung, der Einkauf hat noch nicht freigegeben."],
        {
            "quoted": ["Gesendet: Tuesday", "Release 400 units of rev B, start now."],
            "signature": ["Mit freundlichen Grüßen", "Jürgen Müller"],
        },
    ),
    "outlook-german-without-styles": (
        OUTLOOK_GERMAN_PLAIN_DIV,
        "Jürgen Müller <jm@mueller-maschinenbau.example>",
        ["Bitte warten Sie mit der Fertigung, der Einkauf hat noch nicht freigegeben."],
        {"quoted": ["Von: Printshop Quotes", "Release 400 units", "vertrauliche Informationen"]},
    ),
    "outlook-japanese-header-box": (
        OUTLOOK_JAPANESE,
        "Lee Park <lee.park@acme-robotics.example>",
        ["Please hold, we are still waiting on budget."],
        {"quoted": ["差出人:", "Release 500 units of rev D2 now."]},
    ),
    "apple-mail": (
        APPLE_MAIL,
        "Lee Park <lee.park@acme-robotics.example>",
        ["Approved, go ahead with rev B4 for all 250 units."],
        {"quoted": ["On Mar 4, 2025, at 10:40", "250 units of rev C7"], "signature": ["Lee"]},
    ),
    "thunderbird-bottom-post": (
        THUNDERBIRD,
        "Jürgen Müller <jm@mueller-maschinenbau.example>",
        ["Please hold the order for now, the budget is not approved yet."],
        {
            "quoted": ["schrieb Printshop Quotes", "release 400 units of rev B and start now"],
            "signature": ["Jürgen Müller", "Einkauf, Müller Maschinenbau GmbH"],
        },
    ),
    "ios-sent-from-iphone": (
        IPHONE,
        "Lee Park <lee.park@acme-robotics.example>",
        ["Approved, start the run of 250 units now."],
        {"quoted": ["Lead time 10 business days."], "signature": ["Sent from my iPhone"]},
    ),
    "signature-table-without-name": (
        SIGNATURE_TABLE,
        "lee.park@acme-robotics.example",
        ["Please release 250 units of rev B4 now. PO 45001 is attached."],
        {
            "signature": [
                "Lee Park",
                "Purchasing Manager | Acme Robotics",
                "T +1 (555) 010-2000",
                "M +1 555 010 2001",
                "250 Main Street, Springfield, IL 62701",
                "www.acme-robotics.example",
            ]
        },
    ),
    "legal-disclaimer": (
        DISCLAIMER,
        "Dana Ortiz <dana.ortiz@acme-robotics.example>",
        ["Go ahead with the 300 brackets, rev K1."],
        {
            "signature": ["Best regards,"],
            "disclaimer": ["CONFIDENTIALITY NOTICE", "No order is released by e-mail"],
        },
    ),
}


def _raw(html: str, sender: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "Printshop Quotes <quotes@printshop.example>"
    message["Subject"] = "RE: Quote Q-1042"
    message["Date"] = "Tue, 04 Mar 2025 11:02:00 -0500"
    message["Message-ID"] = make_msgid(domain="acme-robotics.example")
    message.set_content(html, subtype="html")
    return message.as_bytes()


@pytest.mark.parametrize(("html", "sender", "new", "elsewhere"), CASES.values(), ids=list(CASES))
def test_html_reply_keeps_only_the_reply_as_new_text(
    rules: Rules, html: str, sender: str, new: list[str], elsewhere: dict[str, list[str]]
) -> None:
    """The reply's sentences are new text; history, signature and footer are in their zones."""
    message = parse_message(_raw(html, sender))
    assert message.from_html
    zones = split_zones(message.text, rules, sender_name=message.from_name)
    for sentence in new:
        assert sentence in zones.new_text
    for zone, sentences in elsewhere.items():
        for sentence in sentences:
            assert sentence in getattr(zones, zone), f"{sentence!r} not in {zone}"
            assert sentence not in zones.new_text, f"{sentence!r} leaked into the new text"


def _split_at(html: str, markup: str) -> str:
    """The text with the history cut at `markup` in the string: the markup's own offset."""
    start = html.index(markup)
    history = html_text(html[start:], containers=False).splitlines()
    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in history)
    return f"{html_text(html[:start], containers=False).rstrip()}\n\n{quoted}\n"


@pytest.mark.parametrize(
    ("html", "found"),
    [(OUTLOOK, "<div style='border:none"), (OUTLOOK_WEB, '<div id="appendonsend">')],
    ids=["outlook-header-box", "outlook-web-append-on-send"],
)
def test_quote_container_is_found_by_its_markup(html: str, found: str) -> None:
    """Outlook's reply header box and Outlook on the web's marker start the history where the
    markup starts: the text is that of the body cut there."""
    assert html_to_text(html) == _split_at(html, found)


def test_blockquote_quotes_are_left_in_place() -> None:
    """Gmail's blockquotes are not cut: answers written between them must stay unquoted."""
    assert html_text(GMAIL_INLINE, containers=True) == html_text(GMAIL_INLINE, containers=False)
    assert "\n250 units" in html_to_text(GMAIL_INLINE)


def test_history_below_a_quote_container_becomes_quoted_lines() -> None:
    """Everything from Outlook's header on is turned into '>' lines, so it stays history."""
    text = html_to_text(OUTLOOK_WEB)
    assert "> From: Printshop Quotes <quotes@printshop.example>" in text
    assert "> Please confirm the release of 500 units of rev D2." in text
    assert text.startswith("We are still waiting on budget")


def test_signature_and_numbered_lines_come_out_as_written() -> None:
    """Gmail's "-- " signature line and numbered lines come out as written, with no Markdown
    escapes (html2text, until the eighth session, wrote "1\\. Rev B4")."""
    text = html_to_text('<div>1. Rev B4</div><span class="gmail_signature_prefix">-- </span>')
    assert "1. Rev B4" in text
    assert "\\" not in text
    assert any(line.strip() == "--" for line in text.splitlines())


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One</p><p>Two<br>three</p>", "One\n\nTwo\nthree\n"),
        ("<div>a  b\n c</div>", "a b c\n"),
        (
            "<blockquote>old<blockquote>older</blockquote></blockquote>new",
            "> old\n>\n>> older\n\nnew\n",
        ),
        ("<ul><li>one</li><li>two<ol><li>x</li></ol></li></ul>", "* one\n* two\n  1. x\n"),
        (
            "<table><tr><td>Qty</td><td>500</td></tr><tr><td>Rev</td><td>B</td></tr></table>",
            "Qty500\nRevB\n",
        ),
        ("<p>St&uuml;ck, let&rsquo;s, caf\u00e9&nbsp;5</p>", "St\u00fcck, let's, caf\u00e9 5\n"),
        (
            "<html><head><title>T</title><style>p {}</style></head><body>x<script>y</script>z</body>",
            "xz\n",
        ),
        ("<p>a</p><hr><p>b</p>", "a\n\n* * *\n\nb\n"),
        ("<pre>  two\n  lines</pre>", "  two\n  lines\n"),
    ],
    ids=[
        "paragraphs",
        "spaces",
        "blockquotes",
        "lists",
        "table-cells",
        "characters",
        "head",
        "rule",
        "pre",
    ],
)
def test_html_text_lines(html: str, text: str) -> None:
    """One line per block, a blank line between paragraphs, '>' for each blockquote level;
    table cells run together as html2text wrote them (a number in a cell is not a count)."""
    assert html_text(html) == text


def _html_bodies(*folders: Path) -> Iterator[str]:
    for path in sorted(p for f in folders for p in f.rglob("*") if p.is_file()):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
        for part in message.walk():
            if part.get_content_type() == "text/html":
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    try:
                        yield payload.decode(part.get_content_charset() or "utf-8", "replace")
                    except LookupError:  # a charset Python does not know
                        yield payload.decode("latin-1")


ODD_CONTAINERS = [
    ('<div id="&#100;ivRplyFwdMsg">x</div>', True),  # a character reference in the value
    ("<div id=&quot;divRplyFwdMsg>x</div>", False),  # the value is '"divRplyFwdMsg'
    ('<div id="APPENDONSEND">x</div>', True),
    ('<div class="a yahoo&#95;quoted b">x</div>', True),
    (
        "<div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in'>x</div>",
        True,
    ),
    ("<div style='border-top&#58;solid #E1E1E1 1pt;padding:3pt'>x</div>", True),
    ('<p>Zimbra <b id="zwchr">x</b></p>', True),
    ('<div id="stopSpelling">x</div>', True),
    ('<div id="mail-editor-reference-message-container">y</div>', True),
    ('<div class="OutlookMessageHeader">x</div>', True),
    ("<p>border-top: solid 1pt; padding: 3pt written as text</p>", False),
    ("<p>nothing here &amp; no container</p>", False),
    ('<div id="divRplyFwdM\u017fg">x</div>', True),  # re.IGNORECASE takes the long s for an s
    ('<div class="Outloo\u212aMessageHeader">x</div>', True),  # and the Kelvin sign for a k
    ('<div id="stopSpell\u0130ng">x</div>', True),  # and the dotted and dotless capital i for an i
    ('<div id="stopSpell\u0131ng">x</div>', True),
    ("<p>a &unknown; reference and an id=divRplyFwdMsg in text</p>", False),
]


@pytest.mark.parametrize(("html", "container"), ODD_CONTAINERS)
def test_quote_containers_in_odd_markup(html: str, container: bool) -> None:
    """A container is found wherever its attribute matches, whatever the markup around it,
    and the word check that spares other bodies the look at every element finds it too."""
    text = html_to_text(html)
    assert any(line.startswith(">") for line in text.splitlines()) == container
    assert text == html_text(html, containers=True)


def test_the_word_check_finds_every_container_in_the_labelled_and_example_mail() -> None:
    """A body's elements are looked at only when it holds a container's word: the same text
    either way."""
    bodies = list(_html_bodies(REPO / "examples" / "mailbox", REPO / "tests" / "data"))
    assert len(bodies) > 200
    found = [(html_text(b), html_text(b, containers=True)) for b in bodies]
    assert [ours[:80] for ours, every in found if ours != every] == []
    assert sum(1 for ours, _ in found if "\n> " in ours) > 20  # containers were there


@pytest.mark.corpus
def test_the_word_check_finds_every_container_in_the_corpora(corpora: Path) -> None:
    bodies = list(_html_bodies(corpora))
    assert len(bodies) > 30
    differ = [b[:80] for b in bodies if html_to_text(b) != _every_element(b)]
    assert differ == []


def _every_element(html: str) -> str:
    try:
        return html_text(html, containers=True)
    except Exception:
        return html_to_text(html)  # what html_to_text does with a body lxml refuses
