"""One edition's email, written out as bytes once and addressed to each subscriber.

Everything every recipient shares is flattened once per edition: the multipart/mixed body
(the text/HTML alternative, quoted-printable, and the base64 PDF) and the shared headers
(Subject, From, List-Id, List-Unsubscribe, the Content-Type with the edition's boundary),
with a placeholder wherever a subscriber's unsubscribe token goes. Per subscriber an
`EmailMessage` holds only their own headers (To, Date, Message-ID) and the token is written
over the placeholder: a message costs three headers and one join, not a 135 KB flatten, and
only the message being sent is held in memory. The SMTP form of the body is dot-stuffed once
too, so sending does not scan every message for lines that start with ".".
"""

from __future__ import annotations

import io
import itertools
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderParseError
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage, MIMEPart
from email.parser import HeaderParser
from email.utils import format_datetime, getaddresses, make_msgid
from typing import Generic, TypeVar

from briefing.deliver.transport import END_OF_DATA, DotStuffed, dot_stuff


class UriListHeader(UnstructuredHeader, BaseHeader):
    """List-Unsubscribe: `<uri>, <uri>` folded between the URIs and never encoded (RFC 2369).

    The standard folding would turn a long URI into RFC 2047 encoded words, which mail
    clients then cannot read as a link.
    """

    def fold(self, *, policy) -> str:
        uris = re.findall(r"<[^>]*>", str(self))
        return f"{self.name}: " + f",{policy.linesep} ".join(uris) + policy.linesep


_HEADERS = HeaderRegistry()
_HEADERS.map_to_type("list-unsubscribe", UriListHeader)
MAIL_POLICY = policy.SMTP.clone(header_factory=_HEADERS)
# For an address beyond ASCII, sent with SMTPUTF8 (as smtplib's send_message would).
UTF8_POLICY = MAIL_POLICY.clone(utf8=True)
# What a token may be made of: characters that quoted-printable, URL quoting and HTML
# escaping all leave as they are, so a token takes the placeholder's place byte for byte.
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


# An RFC 2047 encoded word, as the email package reads one ("=?utf-8?q?…?=").
_ENCODED_WORD = re.compile(r"=\?[^?]*\?[bBqQ]\?.*?\?=")
# Per subscriber, exactly these headers are written before the shared ones.
OWN_HEADERS = ["To", "Date", "Message-ID"]
# The plain parser: what a mail server or client would take the header lines to be.
_READ_BACK = HeaderParser(policy=policy.compat32)


class UnsafeMessageError(ValueError):
    """A message read back does not hold exactly the headers we set: it must not leave."""


def header_text(value: str | None) -> str:
    """User-supplied text made safe for a header: one line of plain text.

    Encoded words are decoded (again while they decode to more of them) and every control
    character and run of space becomes one space: Pythons before 3.11.10 / 3.12.5 would
    otherwise write a line break hidden in an encoded word out as a real one (CVE-2024-6923),
    starting a header of the sender's choosing. What is left is encoded afresh when written.
    """
    text = value or ""
    for _ in range(5):
        if "=?" not in text or (decoded := _decode_words(text)) == text:
            break
        text = decoded
    text = text.replace("=?", "= ?")  # nested deeper than that: no longer an encoded word
    text = "".join(" " if unicodedata.category(char) == "Cc" else char for char in text)
    return " ".join(text.split())


def _decode_words(text: str) -> str:
    try:
        return str(make_header(decode_header(text)))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        return _ENCODED_WORD.sub(" ", text)


def check_head(head: bytes, address: str) -> None:
    """Refuse a subscriber's own headers unless they read back as exactly To, Date and
    Message-ID, with one To address: `address`."""
    message = _READ_BACK.parsestr(head.decode("utf-8", "replace"))
    names = message.keys()
    if names != OWN_HEADERS or message.get_payload():
        raise UnsafeMessageError(f"its headers read back as {names}, not {OWN_HEADERS}")
    addresses = [found for _, found in getaddresses(message.get_all("To", []))]
    if addresses != [address]:
        raise UnsafeMessageError(f"its To header reads back as {addresses}, not [{address!r}]")


def check_shared_head(data: bytes, names: list[str]) -> None:
    """Refuse the edition's shared headers unless they read back as exactly `names`."""
    head = data.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    found = list(HeaderParser(policy=policy.default).parsestr(head.decode("utf-8")).keys())
    if found != names:
        raise UnsafeMessageError(f"the edition's headers read back as {found}, not {names}")


@dataclass(frozen=True)
class Recipient:
    """Who one message goes to; `key` makes its Message-ID traceable to the ledger row."""

    address: str
    name: str | None
    token: str
    key: str


# A message as a file holds it (bytes) or as SMTP's DATA sends it (DotStuffed).
LetterData = TypeVar("LetterData", bytes, DotStuffed)


@dataclass(frozen=True)
class Letter(Generic[LetterData]):
    """One subscriber's message: its Message-ID and its bytes."""

    message_id: str
    data: LetterData


class EditionMail:
    """One edition's email, prepared once; `letter()` addresses it to one subscriber."""

    def __init__(
        self,
        *,
        subject: str,
        sender: Address,
        list_id: str,
        text: str,
        html: str,
        placeholder: str,
        unsubscribe: list[str],
        pdf: bytes,
        filename: str,
    ) -> None:
        """`unsubscribe` are the links of List-Unsubscribe, with `placeholder` for the token;
        with an https one among them, List-Unsubscribe-Post offers one-click unsubscribing."""
        self.sender = sender
        mixed = f"=_mixed_{secrets.token_hex(12)}"
        shared = EmailMessage(policy=MAIL_POLICY)
        shared["MIME-Version"] = "1.0"
        shared["Subject"] = subject
        shared["From"] = sender
        shared["List-Id"] = list_id
        shared["List-Unsubscribe"] = ", ".join(f"<{link}>" for link in unsubscribe)
        if any(link.startswith("https:") for link in unsubscribe):
            shared["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        shared["Content-Type"] = f'multipart/mixed; boundary="{mixed}"'
        frame = f"--{mixed}\r\n".encode()
        rest = b"".join(
            [
                header_bytes(shared, _policy_for(sender.addr_spec)),
                b"\r\n",
                frame,
                mime_bytes(_alternative(text, html)),
                b"\r\n",
                frame,
                mime_bytes(_pdf_part(pdf, filename)),
                f"\r\n--{mixed}--\r\n".encode(),
            ]
        )
        check_shared_head(rest, list(shared.keys()))
        self._rest = Personalised(rest, placeholder)
        self._stuffed_rest = Personalised(dot_stuff(rest), placeholder)

    def headers(self, recipient: Recipient, message_id: str) -> EmailMessage:
        """The headers only this subscriber's copy has (the token is filled in elsewhere)."""
        message = EmailMessage(policy=MAIL_POLICY)
        # In parts: an addr_spec would be parsed again, and refused beyond ASCII (SMTPUTF8).
        username, _, domain = recipient.address.rpartition("@")
        message["To"] = Address(header_text(recipient.name), username, domain)
        # Made here, not user text, and already in their RFC 5322 form: stored unparsed.
        message.set_raw("Date", format_datetime(datetime.now(UTC)))
        message.set_raw("Message-ID", message_id)
        return message

    def letter(self, recipient: Recipient) -> Letter[bytes]:
        """The complete message for one subscriber, as a file or mail client reads it."""
        message_id, head = self._head(recipient)
        return Letter(message_id, self._rest.fill(recipient.token, head=head))

    def smtp_letter(self, recipient: Recipient) -> Letter[DotStuffed]:
        """The same message as `letter()`, dot-stuffed for SMTP's DATA (`DotStuffed`)."""
        message_id, head = self._head(recipient)
        data = self._stuffed_rest.fill(recipient.token, head=dot_stuff(head), tail=END_OF_DATA)
        return Letter(message_id, DotStuffed(data))

    def _head(self, recipient: Recipient) -> tuple[str, bytes]:
        message_id = make_msgid(recipient.key, self.sender.domain)
        message = self.headers(recipient, message_id)
        addresses = recipient.address + self.sender.addr_spec
        head = header_bytes(message, _policy_for(addresses))
        check_head(head, recipient.address)
        return message_id, head


def _policy_for(addresses: str) -> policy.EmailPolicy[EmailMessage]:
    return MAIL_POLICY if addresses.isascii() else UTF8_POLICY


def header_bytes(message: EmailMessage, with_policy: policy.EmailPolicy[EmailMessage]) -> bytes:
    """The message's headers as they go on the wire (what BytesGenerator writes for them)."""
    return b"".join(with_policy.fold_binary(name, value) for name, value in message.raw_items())


def _alternative(text: str, html: str) -> MIMEPart:
    body = MIMEPart(policy=MAIL_POLICY)
    body.set_content(text, cte="quoted-printable")
    body.add_alternative(html, subtype="html", cte="quoted-printable")
    # "=_" cannot occur in base64 or quoted-printable text, so the boundaries never clash.
    body.set_boundary(f"=_alternative_{secrets.token_hex(12)}")
    return body


def _pdf_part(pdf: bytes, filename: str) -> MIMEPart:
    attachment = MIMEPart(policy=MAIL_POLICY)
    attachment.set_content(pdf, "application", "pdf", filename=filename)
    return attachment


def mime_bytes(part: MIMEPart) -> bytes:
    """A part written out as MIME with CRLF line ends (ASCII: its body is encoded)."""
    buffer = io.BytesIO()
    generator: BytesGenerator[MIMEPart] = BytesGenerator(buffer, policy=MAIL_POLICY)
    generator.flatten(part)
    return buffer.getvalue()


class Personalised:
    """Bytes made once with a placeholder wherever each recipient's token goes.

    Tokens are as long as the placeholder and made of characters quoted-printable leaves as
    they are, so the encoded text for a token differs from this template only where the
    placeholder stands, even when a soft line break ("=" CRLF) falls inside it. Neither has
    a "." or a line break, so dot-stuffing the template is dot-stuffing every filled copy.
    """

    def __init__(self, data: bytes, placeholder: str) -> None:
        self.length = len(placeholder)
        pattern = b"(?:=\r\n)?".join(re.escape(char.encode()) for char in placeholder)
        pieces = re.split(b"(" + pattern + b")", data)
        self._fixed = pieces[0::2]
        self._breaks = [_soft_breaks(encoded) for encoded in pieces[1::2]]

    def fill(self, token: str, *, head: bytes = b"", tail: bytes = b"") -> bytes:
        """`head`, the template with `token` in each placeholder's place and `tail`, joined once."""
        if len(token) != self.length or not _TOKEN.fullmatch(token):
            raise ValueError(f"unsubscribe token {token[:4]}… is not {self.length} URL-safe chars")
        value = token.encode("ascii")
        out = [head, self._fixed[0]]
        for breaks, fixed in zip(self._breaks, self._fixed[1:], strict=True):
            if breaks:
                cuts = (0, *breaks, self.length)
                out.append(b"=\r\n".join(value[a:b] for a, b in itertools.pairwise(cuts)))
            else:
                out.append(value)
            out.append(fixed)
        out.append(tail)
        return b"".join(out)


def _soft_breaks(encoded: bytes) -> tuple[int, ...]:
    """Where in an encoded placeholder soft line breaks fall, counted in its characters."""
    chunks = encoded.split(b"=\r\n")
    positions, total = [], 0
    for chunk in chunks[:-1]:
        total += len(chunk)
        positions.append(total)
    return tuple(positions)
