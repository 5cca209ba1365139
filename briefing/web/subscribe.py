"""Subscribing with double opt-in, and unsubscribing with one click (RFC 8058).

Subscribing stores nothing: the confirmation mail carries a signed, expiring link holding the
address, name and brief, and only following it (and pressing its button: mail scanners open
links) makes the subscriber active. Every well-formed request gets the same answer, whether
the address is known or not, and whether or not a limit held its mail back.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import quote

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from briefing.deliver import send_notice
from briefing.deliver.roster import clean_name, normalise_address
from briefing.document.render import render_template
from briefing.errors import BriefingError
from briefing.store.subscribers import (
    confirm_subscription,
    find_by_token,
    is_subscribed,
    unsubscribe_by_token,
)
from briefing.web.security import CSRF_FIELD
from briefing.web.site import Site

log = logging.getLogger(__name__)

CONFIRM_MAIL = "web/confirm.txt"
ONE_CLICK = "One-Click"


def site_of(request: Request) -> Site:
    return request.app.state.site


# --- subscribe -----------------------------------------------------------------------------


def subscribe_form(request: Request) -> Response:
    site = site_of(request)
    if not _open(site):
        return _closed(request, site)
    chosen = request.query_params.get("brief", "")
    return site.page(
        request,
        "web/subscribe.html",
        chosen=chosen,
        error=None,
        email="",
        entered_name="",
        with_form=True,
    )


async def subscribe(request: Request) -> Response:
    site = site_of(request)
    if not _open(site):
        return _closed(request, site)
    form = await request.form(max_files=0, max_fields=10)
    if not site.csrf.valid(request, _field(form, CSRF_FIELD)):
        return _expired_form(request, site)
    client = request.client.host if request.client else "unknown"
    if not site.per_client.allow(client):
        log.warning("subscribe: too many requests from %s", client, extra={"client": client})
        return site.message(request, "Too many requests", "Please try again later.", 429)
    email, name, brief = _field(form, "email"), _field(form, "name"), _field(form, "brief")
    try:
        address = normalise_address(email[:320])
    except ValueError:
        return _form_again(request, site, "That is not an email address.", email, name, brief)
    if not site.is_public(brief):
        return _form_again(request, site, "Choose one of the briefs.", email, name, brief)
    task = None
    if site.per_address.allow(address.lower()):
        task = BackgroundTask(_send_confirmation, site, request, address, clean_name(name), brief)
    else:
        log.warning("subscribe: confirmation mail held back, too many for one address")
    response = site.page(request, "web/check-inbox.html", brief_title=site.public_briefs()[brief])
    response.background = task
    return response


def _send_confirmation(
    site: Site, request: Request, address: str, name: str | None, brief: str
) -> None:
    """Mail the confirmation link; a failure is logged, never shown (it would tell addresses)."""
    token = site.confirmation_token(address, name, brief)
    link = site.public_link(request, f"/confirm?token={quote(token)}")
    title = site.public_briefs()[brief]
    hours = int(site.settings.web.confirm_within.total_seconds() // 3600)
    text = render_template(site.templates, CONFIRM_MAIL, link=link, title=title, hours=hours)
    try:
        send_notice(site.settings, [address], f"Confirm your subscription to {title}", text)
    except (BriefingError, OSError) as exc:
        log.error("subscribe: confirmation mail not sent: %s", exc)


def _open(site: Site) -> bool:
    """Subscriptions need `public_url`: confirmation links are never built from a Host header."""
    return bool(site.settings.public_url and site.public_briefs())


def _closed(request: Request, site: Site) -> Response:
    return site.message(request, "Subscriptions closed", "This site takes no subscriptions.", 404)


def _form_again(request, site: Site, error: str, email: str, name: str, brief: str) -> Response:
    return site.page(
        request,
        "web/subscribe.html",
        400,
        chosen=brief,
        error=error,
        email=email,
        entered_name=name,
        with_form=True,
    )


# --- confirm -------------------------------------------------------------------------------


def confirm_form(request: Request) -> Response:
    site = site_of(request)
    token = request.query_params.get("token", "")
    signed = site.read_confirmation(token)
    if signed is None or signed[0]["brief"] not in site.settings.brief_names:
        return _bad_link(request, site)
    title = site.settings.brief(signed[0]["brief"])[1].title
    return site.page(
        request,
        "web/confirm.html",
        token=token,
        email=signed[0]["email"],
        brief_title=title,
        with_form=True,
    )


async def confirm(request: Request) -> Response:
    site = site_of(request)
    form = await request.form(max_files=0, max_fields=10)
    if not site.csrf.valid(request, _field(form, CSRF_FIELD)):
        return _expired_form(request, site)
    signed = site.read_confirmation(_field(form, "token"))
    if signed is None or signed[0]["brief"] not in site.settings.brief_names:
        return _bad_link(request, site)
    data, issued = signed
    outcome, active = await run_in_threadpool(_confirm, site, data, issued)
    title = site.settings.brief(data["brief"])[1].title
    if outcome == "withdrawn":
        return site.message(
            request,
            "Link withdrawn",
            "You unsubscribed after asking for this link. Subscribe again to get a new one.",
            400,
        )
    return site.page(
        request, "web/subscribed.html", email=data["email"], brief_title=title, active=active
    )


def _confirm(site: Site, data: dict, issued: int) -> tuple[str, bool]:
    requested_at = datetime.fromtimestamp(issued, UTC)
    with site.writing, site.store.session() as session:
        outcome = confirm_subscription(
            session,
            data["email"],
            name=data["name"],
            brief=data["brief"],
            requested_at=requested_at,
        )
    log.info("subscribe: a subscription to %s confirmed (%s)", data["brief"], outcome)
    with site.store.session() as session:
        return outcome, is_subscribed(session, data["email"], data["brief"])


def _bad_link(request: Request, site: Site) -> Response:
    return site.message(
        request,
        "Link not valid",
        "This confirmation link is not valid or has expired. Subscribe again to get a new one.",
        400,
    )


# --- unsubscribe ---------------------------------------------------------------------------


async def unsubscribe_form(request: Request) -> Response:
    """A button, nothing more: mail scanners fetch links, and a GET must change nothing."""
    site = site_of(request)
    token = request.query_params.get("token", "")
    found = await run_in_threadpool(_known, site, token)
    if found is None:
        return _unknown_token(request, site)
    return site.page(request, "web/unsubscribe.html", token=token, brief_title=found)


def _known(site: Site, token: str) -> str | None:
    with site.store.session() as session:
        found = find_by_token(session, token)
    if found is None:
        return None
    brief = found[1]
    if brief is None or brief not in site.settings.brief_names:
        return "all briefs"
    return site.settings.brief(brief)[1].title


async def unsubscribe(request: Request) -> Response:
    """RFC 8058 one-click: the token in the link is the authority; no cookie, no CSRF field.

    A forged cross-site POST would have to know the token, and whoever knows it may use it.
    """
    site = site_of(request)
    form = await request.form(max_files=0, max_fields=10)
    if _field(form, "List-Unsubscribe") != ONE_CLICK:
        return site.message(
            request, "Not unsubscribed", "Use the button on the unsubscribe page.", 400
        )
    token = request.query_params.get("token", "")
    subscriber = await run_in_threadpool(_unsubscribe, site, token)
    if subscriber is None:
        return _unknown_token(request, site)
    return site.message(request, "Unsubscribed", "You will get no more of these briefs.")


def _unsubscribe(site: Site, token: str) -> str | None:
    with site.writing, site.store.session() as session:
        subscriber = unsubscribe_by_token(session, token)
        if subscriber is None:
            return None
        log.info("unsubscribe: subscriber %s by one-click link", subscriber.id)
        return subscriber.email


def _unknown_token(request: Request, site: Site) -> Response:
    return site.message(
        request,
        "Link not known",
        "This unsubscribe link is not known. If mail still reaches you, reply to it.",
        404,
    )


def _expired_form(request: Request, site: Site) -> Response:
    return site.message(
        request,
        "Form expired",
        "The form has expired. Go back, reload the page and try again.",
        403,
    )


def _field(form, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""
