"""bot.zones over ../shared/corpora/reply-fragments: only the sender's new text is kept.

The bodies come from zapier/email-reply-parser's fixtures (MIT). The expected new text of each
was written by hand from reading the file, in line with what that project's tests call the
visible reply; where quotebot goes further (a custom mobile sign-off, a mailing-list footer) the
expectation says so.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.rules import Rules
from bot.zones import split_zones

RIAK_QUESTION = """\
Hi folks

What is the best way to clear a Riak bucket of all key, values after
running a test?
I am currently using the Java HTTP API."""

RIAK_ANSWER = """\
Hi,

You can list the keys for the bucket and call delete for each. Or if you
put the keys (and kept track of them in your test) you can delete them
one at a time (without incurring the cost of calling list first.)

Something like:

        String bucket = "my_bucket";
        BucketResponse bucketResponse = riakClient.listBucket(bucket);
        RiakBucketInfo bucketInfo = bucketResponse.getBucketInfo();

        for(String key : bucketInfo.getKeys()) {
            riakClient.delete(bucket, key);
        }


would do it.

See also

http://wiki.basho.com/REST-API.html#Bucket-operations

which says

"At the moment there is no straightforward way to delete an entire
Bucket. There is, however, an open ticket for the feature. To delete all
the keys in a bucket, you\u2019ll need to delete them all individually.\""""

BULLETS = """\
One: Here's what I've got.

- This would be the first bullet point that wraps to the second line
to the next
- This is the second bullet point and it doesn't wrap
- This is the third bullet point and I'm having trouble coming up with enough
to say
- This is the fourth bullet point

Two:
- Here is another bullet point
- And another one

This is a paragraph that talks about a bunch of stuff. It goes on and on
for a while."""

TEXTMATE = """\
On your remote host you can run:

     telnet 127.0.0.1 52698

This should connect to TextMate (on your Mac, via the tunnel). If that
fails, the tunnel is not working."""

# file name -> the new text, compared line by line without trailing spaces
NEW_TEXT = {
    "correct_sig.txt": "this is an email with a correct -- signature.",
    "email_1_1.txt": RIAK_QUESTION,
    "email_1_2.txt": RIAK_ANSWER,
    "email_1_3.txt": "Oh thanks.\n\nHaving the function would be great.",
    "email_1_4.txt": "Awesome! I haven't had another problem with it.",
    "email_1_5.txt": BULLETS,
    # email-reply-parser keeps the custom sign-off; any "Sent from ..." line is a signature here
    "email_1_6.txt": "I get proper rendering as well.",
    "email_1_7.txt": ":+1:",
    "email_1_8.txt": "I will reply under this one\n\nand under this.",
    "email_2_1.txt": "Outlook with a reply",
    "email_2_2.txt": "Outlook with a reply directly above line",
    "email_2_3.txt": "Outlook with a reply above headers using unusual format",
    "email_BlackBerry.txt": "Here is another email",
    "email_bullets.txt": (
        "test 2 this should list second\n\nand have spaces\n\nand retain this formatting\n\n\n"
        "   - how about bullets\n   - and another"
    ),
    "email_gmail.txt": "This is a test for inbox replying to a github message.",
    "email_headers_no_delimiter.txt": "And another reply!",
    "email_iPhone.txt": "Here is another email",
    "email_multi_word_sent_from_my_mobile_device.txt": "Here is another email",
    "email_one_is_not_on.txt": (
        "Thank, this is really helpful.\n\nOne outstanding question I had:\n\n"
        "Locally (on development), when I run..."
    ),
    "email_partial_quote_header.txt": TEXTMATE,
    "email_sent_from_my_not_signature.txt": (
        "Here is another email\n\nSent from my desk, is much easier then my mobile phone."
    ),
    "email_sig_delimiter_in_middle_of_line.txt": (
        "Hi there!\n\nStuff happened.\n\nAnd here is a fix -- this is not a signature.\n\nkthxbai"
    ),
    "greedy_on.txt": TEXTMATE,
    "pathological.txt": (
        "I think you're onto something. I will try to fix the problem as soon as I\n"
        "get back to a computer."
    ),
}

# file name -> (zone, text that zone must hold): where the rest of the body went
ELSEWHERE = {
    "correct_sig.txt": ("signature", "rick"),
    "email_1_1.txt": ("disclaimer", "riak-users mailing list"),
    "email_1_2.txt": ("quoted", "I am currently using the Java HTTP API."),
    "email_1_3.txt": ("signature", "-Abhishek Kona"),
    "email_1_4.txt": ("quoted", "Loader seems to be working well."),
    "email_1_6.txt": ("signature", "Sent from a magnificent torch of pixels"),
    "email_1_7.txt": ("quoted", "Steps 0-2 are in prod."),
    "email_1_8.txt": ("signature", "Hey there, this is my signature"),
    "email_2_1.txt": ("quoted", "Google Apps Sync was updated!"),
    "email_2_2.txt": ("quoted", "I am replying to a comment."),
    "email_2_3.txt": ("quoted", "Respond to Kim by replying directly to this email"),
    "email_BlackBerry.txt": ("signature", "Sent from my BlackBerry"),
    "email_bullets.txt": ("signature", "Joe Smith | Director, Product Management"),
    "email_gmail.txt": ("quoted", "personally too lazy to increment a version number"),
    "email_headers_no_delimiter.txt": ("quoted", "This is a message."),
    "email_iPhone.txt": ("signature", "Sent from my iPhone"),
    "email_multi_word_sent_from_my_mobile_device.txt": ("signature", "Verizon Wireless"),
    "email_one_is_not_on.txt": ("quoted", "much better query for lastLocation"),
    "email_partial_quote_header.txt": ("quoted", "port forwarding stopped"),
    "greedy_on.txt": ("quoted", "Reply to this email directly or view it on GitHub"),
    "pathological.txt": ("quoted", "losing data"),
}


@pytest.fixture
def folder(corpora: Path) -> Path:
    """The reply-fragments corpus (conftest finds it, or skips/fails with the reason)."""
    path = corpora / "reply-fragments"
    assert path.is_dir(), f"{path} is missing from the corpora"
    return path


def _body(folder: Path, name: str) -> str:
    return (folder / name).read_bytes().decode("utf-8")  # bytes: keep the CRLF of 1_7


def _lines(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines())


@pytest.mark.corpus
def test_every_fixture_has_an_expectation(folder: Path) -> None:
    """Each .txt file of the corpus has a hand-written expected new text, and no more."""
    assert {p.name for p in folder.glob("*.txt")} == set(NEW_TEXT)


@pytest.mark.corpus
@pytest.mark.parametrize(("name", "expected"), NEW_TEXT.items(), ids=list(NEW_TEXT))
def test_new_text_is_the_senders_reply(
    rules: Rules, folder: Path, name: str, expected: str
) -> None:
    """split_zones keeps exactly the sender's reply as new text."""
    assert _lines(split_zones(_body(folder, name), rules).new_text) == expected


@pytest.mark.corpus
@pytest.mark.parametrize(("name", "where"), ELSEWHERE.items(), ids=list(ELSEWHERE))
def test_history_and_signature_land_in_their_zone(
    rules: Rules, folder: Path, name: str, where: tuple[str, str]
) -> None:
    """What is not new text is kept in the zone it belongs to, not dropped."""
    zone, text = where
    zones = split_zones(_body(folder, name), rules)
    assert text in getattr(zones, zone)
    assert text not in zones.new_text


@pytest.mark.corpus
def test_pathological_quote_is_fast_and_stays_out(rules: Rules, folder: Path) -> None:
    """Thousand-character quoted lines are split in well under a second, all of them quoted."""
    body = _body(folder, "pathological.txt")
    started = time.perf_counter()
    zones = split_zones(body, rules)
    assert time.perf_counter() - started < 1.0
    assert zones.new_text.startswith("I think you're onto something.")
    assert "ATGGAGAGAATAAAGG" in zones.quoted
    assert "ATGGAGAGAATAAAGG" not in zones.new_text
    assert "John Sullivan" not in zones.new_text
