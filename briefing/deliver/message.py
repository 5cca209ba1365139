"""What an edition's email says: subject, sender, bodies from templates, attachment name.

`prepare_mail` renders the text and HTML bodies once per edition (with a placeholder where
each subscriber's unsubscribe token goes) and hands them to `EditionMail`, which writes the
message out once and addresses it to each subscriber.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date
from email.headerregistry import Address
from pathlib import Path
from urllib.parse import quote

from briefing.brief.compose import Brief
from briefing.config import Settings
from briefing.deliver.mail import EditionMail, header_text
from briefing.document.render import render_template, template_environment
from briefing.errors import ConfigError
from briefing.slug import slug
from briefing.store.subscribers import TOKEN_LENGTH

log = logging.getLogger(__name__)

TEXT_TEMPLATE = "email/brief.txt"
HTML_TEMPLATE = "email/brief.html"


def brief_slug(name: str) -> str:
    """A brief's name as it appears in file names and the List-Id: never empty."""
    return slug(name) or "brief"


def attachment_name(brief_name: str, day: date) -> str:
    """A file name a reader recognises: 'ukraine-daily-2024-10-26.pdf'."""
    return f"{brief_slug(brief_name)}-{day.isoformat()}.pdf"


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


def prepare_mail(settings: Settings, brief: Brief, pdf_file: Path) -> EditionMail:
    """Render the bodies and encode the PDF of one edition, once for all its recipients."""
    smtp = settings.smtp
    _, spec = settings.brief(brief.name)
    sender = sender_address(smtp.from_name, smtp.from_address)
    mailbox = smtp.unsubscribe_address or smtp.from_address
    unsubscribe = Unsubscribe(mailbox=mailbox, public_url=settings.public_url)
    placeholder = secrets.token_hex(TOKEN_LENGTH // 2)
    filename = attachment_name(brief.name, brief.edition_date)
    subject = subject_line(spec.subject, brief, f"briefs.{brief.name}.subject")
    unsubscribe_mailto = unsubscribe.mailto(placeholder)
    unsubscribe_url = unsubscribe.web(placeholder)
    context = {
        "brief": brief,
        "subject": subject,
        "headings": {section.category: section.heading for section in brief.sections},
        "attachment": filename,
        "unsubscribe_mailto": unsubscribe_mailto,
        "unsubscribe_url": unsubscribe_url,
        "public_url": settings.public_url,
    }
    environment = template_environment(settings.template_dir)
    text = render_template(environment, TEXT_TEMPLATE, **context)
    html = inline_css(render_template(environment, HTML_TEMPLATE, **context))
    return EditionMail(
        subject=subject,
        sender=sender,
        list_id=f"{header_text(brief.title)} <{brief_slug(brief.name)}.{sender.domain}>",
        text=text,
        html=html,
        placeholder=placeholder,
        unsubscribe=[link for link in (unsubscribe_mailto, unsubscribe_url) if link],
        pdf=pdf_file.read_bytes(),
        filename=filename,
    )


def sender_address(name: str, address: str) -> Address:
    try:
        return Address(header_text(name), addr_spec=header_text(address))
    except (ValueError, IndexError) as exc:
        raise ConfigError(
            f"smtp.from_address: {address!r} is not an email address: {exc}"
        ) from None


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
