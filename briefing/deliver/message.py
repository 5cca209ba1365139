"""The email of an edition: rendered and encoded once, then addressed to each subscriber.

`EditionMail` holds everything that is the same for every recipient: the subject, both
bodies (rendered once with a placeholder where each subscriber's unsubscribe token goes) and
the PDF part, base64-encoded once. `EditionMail.message(recipient)` then builds one small
`EmailMessage` per subscriber that shares that PDF part, so the cost of a message does not
grow with the size of the PDF beyond writing it out.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import policy
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage, MIMEPart
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import quote

import jinja2

from briefing.compose import Brief
from briefing.config import Settings
from briefing.errors import ConfigError

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
    """One edition's email, prepared once; `message()` addresses it to one subscriber."""

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
        self.list_id = list_id
        self.unsubscribe = unsubscribe
        self.filename = filename
        self._text, self._html, self._placeholder = text, html, placeholder
        self._pdf_part = MIMEPart(policy=MAIL_POLICY)
        self._pdf_part.set_content(pdf, "application", "pdf", filename=filename)

    def message(self, recipient: Recipient) -> EmailMessage:
        """The complete message for one subscriber, with its own Message-ID and unsubscribe."""
        token = recipient.token
        body = MIMEPart(policy=MAIL_POLICY)
        body.set_content(self._text.replace(self._placeholder, token), cte="quoted-printable")
        body.add_alternative(
            self._html.replace(self._placeholder, token), subtype="html", cte="quoted-printable"
        )
        message = EmailMessage(policy=MAIL_POLICY)
        message["MIME-Version"] = "1.0"
        message["Subject"] = self.subject
        message["From"] = self.sender
        message["To"] = Address(header_text(recipient.name), addr_spec=recipient.address)
        message["Date"] = datetime.now(UTC)
        message["Message-ID"] = make_msgid(recipient.key, self.sender.domain)
        message["List-Id"] = self.list_id
        links = [self.unsubscribe.mailto(token)]
        web = self.unsubscribe.web(token)
        if web:
            links.append(web)
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message["List-Unsubscribe"] = ", ".join(f"<{link}>" for link in links)
        message.make_mixed()
        message.attach(body)
        message.attach(self._pdf_part)
        return message


def prepare_mail(settings: Settings, brief: Brief, pdf_file: Path) -> EditionMail:
    """Render the bodies and encode the PDF of one edition, once for all its recipients."""
    smtp = settings.smtp
    _, spec = settings.brief(brief.name)
    sender = sender_address(smtp.from_name, smtp.from_address)
    mailbox = getattr(smtp, "unsubscribe_address", None) or smtp.from_address
    unsubscribe = Unsubscribe(mailbox=mailbox, public_url=settings.public_url)
    placeholder = "tok" + secrets.token_hex(12)
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
