"""No data we put in a header can add a header: names, titles and settings holding RFC 2047
encoded words that decode to line breaks (CPython CVE-2024-6923 on Pythons before 3.11.10 /
3.12.5) arrive as plain text in their own header, and every message is read back before it
leaves."""

from __future__ import annotations

import email
import json
from email import policy
from pathlib import Path

import pytest

from briefing.deliver.mail import UnsafeMessageError, check_head
from tests.deliver_fixtures import SENDER, prepare

INJECTION = "=?utf-8?q?=0D=0ABcc:_victim@evil.example?="
NESTED = "=?utf-8?q?=3D=3Futf-8=3Fq=3F=3D0D=3D0ABcc=3A=5Fvictim=40evil.example=3F=3D?="
EXPECTED = {
    "To",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Subject",
    "From",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Content-Type",
}


def headers_of(data: bytes) -> email.message.Message:
    return email.message_from_bytes(data, policy=policy.compat32)


def assert_only_our_headers(data: bytes, address: str) -> None:
    message = headers_of(data)
    assert set(message.keys()) == EXPECTED and len(message.keys()) == len(EXPECTED)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\nbcc" not in head.lower()
    parsed = email.message_from_bytes(data, policy=policy.default)
    assert [a.addr_spec for a in parsed["To"].addresses] == [address]


@pytest.mark.parametrize("name", [INJECTION, NESTED], ids=["encoded word", "nested"])
def test_an_encoded_line_break_in_names_titles_and_sender_adds_no_header(
    cli, tmp_path, monkeypatch, server, mailbox, name
):
    brief = f'[briefs.daily]\ntitle = "Brief {INJECTION}"\n'
    edition_id = prepare(
        tmp_path, monkeypatch, server.port, [], top=brief, extra=f'from_name = "{INJECTION}"\n'
    )
    added = cli("subscribers", "add", "inj@example.org", "--name", name)
    csv = tmp_path / "readers.csv"
    csv.write_text(f'email,name\nimp@example.org,"{name}"\n')
    imported = cli("subscribers", "import", str(csv))
    assert added.code == 0 and imported.code == 0, added.err + imported.err

    dry = cli("send", "--edition", edition_id, "--dry-run", "--json")
    sent = cli("send", "--edition", edition_id, "--json")

    assert sent.code == 0, sent.err
    assert sorted(mailbox.addresses()) == ["imp@example.org", "inj@example.org"]
    for received in mailbox.received:
        assert_only_our_headers(received.data, received.recipients[0])
        message = email.message_from_bytes(received.data, policy=policy.default)
        assert "Bcc: victim@evil.example" in str(message["To"])  # shown, harmless, as text
        assert "Bcc" in message["Subject"] and str(message["From"]).endswith(f"<{SENDER}>")
    files = sorted(Path(json.loads(dry.out)["outbox"]).glob("*.eml"))
    assert len(files) == 2
    for file in files:
        assert_only_our_headers(file.read_bytes(), headers_of(file.read_bytes())["To"][-16:-1])


def test_a_message_whose_headers_read_back_wrong_never_leaves():
    good = b"To: Ann <ann@example.org>\r\nDate: x\r\nMessage-ID: <1@x>\r\n"
    check_head(good, "ann@example.org")
    for bad in (
        good + b"Bcc: victim@evil.example\r\n",
        b"To: Ann <ann@example.org>, eve@evil.example\r\nDate: x\r\nMessage-ID: <1@x>\r\n",
        b"To: <ann@example.org>\r\n\r\nBcc: v@e.x\r\nDate: x\r\nMessage-ID: <1@x>\r\n",
    ):
        with pytest.raises(UnsafeMessageError):
            check_head(bad, "ann@example.org")
