"""The email of an edition: rendered and encoded once, then addressed to each subscriber.

`EditionMail` holds everything that is the same for every recipient: the shared headers, the
text/HTML alternative (rendered and quoted-printable encoded once, with a placeholder where
each subscriber's unsubscribe token goes) and the PDF part, base64-encoded and written out
once. `EditionMail.message(recipient)` then makes one small `EmailMessage` per subscriber, so
the cost of a message does not grow with a PDF render or re-encoding per subscriber, and only
the message being sent is held in memory.
"""

from __future__ import annotations

import io
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import policy
from email.generator import BytesGenerator
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage, MIMEPart
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import quote

import jinja2

from briefing.compose import Brief
from briefing.config import Settings
from briefing.errors import ConfigError
from briefing.store.subscribers import TOKEN_LENGTH

log = logging.getLogger(__name__)

TEXT_TEMPLATE = "email/brief.txt"
HTML_TEMPLATE = "email/brief.html"


class UriListHeader(UnstructuredHeader):
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
_SLUG = re.compile(r"[^a-z0-9]+")


def header_text(value: str | None) -> str:
    """User-supplied text made safe for a header: every line break and run of space is one space."""
    return " ".join((value or "").split())


def slug(value: str) -> str:
    return _SLUG.sub("-", value.lower()).strip("-") or "brief"


def attachment_name(brief_name: str, day: date) -> str:
    """A file name a reader recognises: 'ukraine-daily-2024-10-26.pdf'."""
    return f"{slug(brief_name)}-{day.isoformat()}.pdf"


def subject_line(template: str, brief: Brief, where: str) -> str:
    """The subject from the brief's template, e.g. '{title} — {date}'."""
    day = brief.edition_date
    fields = {
        "title": brief.title,
        "date": f"{day.day} {day:%B %Y}",
        "iso_date": day.isoformat(),
        "brief": brief.name,
    }
    try:
        return header_text(template.format_map(fields))
    except (KeyError, ValueError, IndexError) as exc:
        known = ", ".join("{" + name + "}" for name in fields)
        raise ConfigError(f"{where}: {exc!s} is not a subject field; use {known}") from None


@dataclass(frozen=True)
class Recipient:
    """Who one message goes to; `key` makes its Message-ID traceable to the ledger row."""

    address: str
    name: str | None
    token: str
    key: str


@dataclass(frozen=True)
class Unsubscribe:
    """Where a subscriber's unsubscribe request goes: always a mailto, an https link if public."""

    mailbox: str
    public_url: str | None

    def mailto(self, token: str) -> str:
        return f"mailto:{self.mailbox}?subject={quote('unsubscribe ' + token)}"

    def web(self, token: str) -> str | None:
        if not self.public_url:
            return None
        return f"{self.public_url.rstrip('/')}/unsubscribe?token={quote(token)}"


class EditionMail:
    """One edition's email, prepared once; `message()` addresses it to one subscriber.

    The PDF part is encoded and written out as MIME text once; so are the headers every
    recipient shares. Per recipient only the small text/HTML alternative (it carries their
    unsubscribe link) and four headers are made, and the message body is that alternative
    and the prepared PDF text inside one multipart/mixed frame, which the generator copies
    as is instead of re-writing the PDF line by line for every message.
    """

    def __init__(
        self,
        *,
        subject: str,
        sender: Address,
        list_id: str,
        text: str,
        html: str,
        placeholder: str,
        pdf: bytes,
        filename: str,
        unsubscribe: Unsubscribe,
    ) -> None:
        self.subject = subject
        self.sender = sender
        self.unsubscribe = unsubscribe
        self.filename = filename
        # "=_" cannot occur in base64 or quoted-printable text, so these never clash.
        self._mixed = f"=_mixed_{secrets.token_hex(12)}"
        body = MIMEPart(policy=MAIL_POLICY)
        body.set_content(text, cte="quoted-printable")
        body.add_alternative(html, subtype="html", cte="quoted-printable")
        body.set_boundary(f"=_alternative_{secrets.token_hex(12)}")
        self._body = Personalised(mime_text(body), placeholder)
        attachment = MIMEPart(policy=MAIL_POLICY)
        attachment.set_content(pdf, "application", "pdf", filename=filename)
        self._pdf_mime = mime_text(attachment)
        shared = [("MIME-Version", "1.0"), ("Subject", subject), ("From", sender)]
        shared.append(("List-Id", list_id))
        if unsubscribe.public_url:
            shared.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        self._shared = [MAIL_POLICY.header_factory(name, value) for name, value in shared]
        self._content_type = MAIL_POLICY.header_factory(
            "Content-Type", f'multipart/mixed; boundary="{self._mixed}"'
        )

    def message(self, recipient: Recipient) -> EmailMessage:
        """The complete message for one subscriber, with its own Message-ID and unsubscribe."""
        token = recipient.token
        message = EmailMessage(policy=MAIL_POLICY)
        for header in self._shared:
            message[header.name] = header
        message["To"] = Address(header_text(recipient.name), addr_spec=recipient.address)
        message["Date"] = datetime.now(UTC)
        message["Message-ID"] = make_msgid(recipient.key, self.sender.domain)
        links = [self.unsubscribe.mailto(token), self.unsubscribe.web(token)]
        message["List-Unsubscribe"] = ", ".join(f"<{link}>" for link in links if link)
        message["Content-Type"] = self._content_type
        frame = f"--{self._mixed}\r\n"
        message.set_payload(
            f"{frame}{self._body.fill(token)}\r\n{frame}{self._pdf_mime}\r\n--{self._mixed}--\r\n"
        )
        return message


class Personalised:
    """MIME text made once with a placeholder where each recipient's token goes.

    Tokens are as long as the placeholder and made of characters quoted-printable leaves as
    they are, so the encoded text for a token differs from this template only where the
    placeholder stands, even when a soft line break ("=" CRLF) falls inside it.
    """

    def __init__(self, mime: str, placeholder: str) -> None:
        self.length = len(placeholder)
        pattern = "(?:=\r\n)?".join(re.escape(char) for char in placeholder)
        self._pieces = re.split(f"({pattern})", mime)

    def fill(self, token: str) -> str:
        if len(token) != self.length:
            raise ValueError(f"unsubscribe token of {len(token)} characters, not {self.length}")
        pieces = list(self._pieces)
        for index in range(1, len(pieces), 2):
            pieces[index] = _overlay(pieces[index], token)
        return "".join(pieces)


_TOKEN_CHAR = re.compile(r"[^=\r\n]")


def _overlay(encoded: str, token: str) -> str:
    """The encoded placeholder with each of its characters replaced by the token's."""
    chars = iter(token)
    return _TOKEN_CHAR.sub(lambda _: next(chars), encoded)


def mime_text(part: MIMEPart) -> str:
    """A part written out as MIME text with CRLF line ends (ASCII: its body is encoded)."""
    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=MAIL_POLICY).flatten(part)
    return buffer.getvalue().decode("ascii")


def prepare_mail(settings: Settings, brief: Brief, pdf_file: Path) -> EditionMail:
    """Render the bodies and encode the PDF of one edition, once for all its recipients."""
    smtp = settings.smtp
    _, spec = settings.brief(brief.name)
    sender = sender_address(smtp.from_name, smtp.from_address)
    mailbox = smtp.unsubscribe_address or smtp.from_address
    unsubscribe = Unsubscribe(mailbox=mailbox, public_url=settings.public_url)
    placeholder = secrets.token_hex(TOKEN_LENGTH // 2)
    filename = attachment_name(brief.name, brief.edition_date)
    context = {
        "brief": brief,
        "subject": subject_line(spec.subject, brief, f"briefs.{brief.name}.subject"),
        "headings": {section.category: section.heading for section in brief.sections},
        "attachment": filename,
        "unsubscribe_mailto": unsubscribe.mailto(placeholder),
        "unsubscribe_url": unsubscribe.web(placeholder),
        "public_url": settings.public_url,
    }
    environment = _environment(settings)
    text = _render(environment, TEXT_TEMPLATE, context)
    html = inline_css(_render(environment, HTML_TEMPLATE, context))
    return EditionMail(
        subject=context["subject"],
        sender=sender,
        list_id=f"{header_text(brief.title)} <{slug(brief.name)}.{sender.domain}>",
        text=text,
        html=html,
        placeholder=placeholder,
        pdf=pdf_file.read_bytes(),
        filename=filename,
        unsubscribe=unsubscribe,
    )


def sender_address(name: str, address: str) -> Address:
    try:
        return Address(header_text(name), addr_spec=header_text(address))
    except (ValueError, IndexError) as exc:
        raise ConfigError(
            f"smtp.from_address: {address!r} is not an email address: {exc}"
        ) from None


def _environment(settings: Settings) -> jinja2.Environment:
    from briefing.render import template_environment

    return template_environment(settings.template_dir)


def _render(environment: jinja2.Environment, name: str, context: dict) -> str:
    try:
        return environment.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{exc.filename or name}:{exc.lineno}: {exc.message}") from None
    except jinja2.TemplateNotFound:
        raise ConfigError(f"template {name} not found") from None
    except jinja2.TemplateError as exc:
        raise ConfigError(f"{name}: {exc.message or exc}") from None


def inline_css(html: str) -> str:
    """Move the template's <style> rules onto each element: many mail clients drop <style>."""
    from premailer import Premailer

    return Premailer(
        html,
        keep_style_tags=False,
        strip_important=False,
        allow_network=False,
        disable_link_rewrites=True,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
    ).transform()
