"""The ASGI application of `briefing serve`: routes, error pages and the request log."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from briefing.config import Settings
from briefing.store import Store
from briefing.web import archive, subscribe
from briefing.web.security import Guard
from briefing.web.site import Site, font_file

log = logging.getLogger(__name__)

TITLES = {400: "Bad request", 403: "Forbidden", 404: "Not found", 405: "Method not allowed"}


def create_app(settings: Settings, store: Store) -> Starlette:
    """The web site of one configuration; raises ConfigError when it cannot run."""
    site = Site(settings, store)
    routes = [
        Route("/", archive.index, name="index"),
        Route("/briefs/{brief}", archive.brief_editions, name="brief"),
        Route("/briefs/{brief}/feed.atom", archive.brief_feed, name="feed"),
        Route("/editions/{edition_id:int}", archive.edition_page, name="edition"),
        Route("/editions/{edition_id:int}/pdf", archive.edition_pdf, name="edition_pdf"),
        Route("/editions/{edition_id:int}/events.json", archive.edition_events, name="events"),
        Route("/search", archive.search, name="search"),
        Route("/subscribe", subscribe.subscribe_form, name="subscribe_form"),
        Route("/subscribe", subscribe.subscribe, methods=["POST"], name="subscribe"),
        Route("/confirm", subscribe.confirm_form, name="confirm_form"),
        Route("/confirm", subscribe.confirm, methods=["POST"], name="confirm"),
        Route("/unsubscribe", subscribe.unsubscribe_form, name="unsubscribe_form"),
        Route("/unsubscribe", subscribe.unsubscribe, methods=["POST"], name="unsubscribe"),
        Route("/static/web.css", _stylesheet, name="stylesheet"),
        # The edition page's stylesheet names its fonts relative to the page: fonts/NAME.
        Route("/editions/fonts/{name}", _font, name="font"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Guard, max_body=settings.web.max_body)],
        exception_handlers={HTTPException: _error_page, Exception: _failure_page},
    )
    app.state.site = site
    return app


def _stylesheet(request: Request) -> Response:
    site: Site = request.app.state.site
    return Response(
        site.stylesheet, media_type="text/css", headers={"cache-control": "public, max-age=3600"}
    )


def _font(request: Request) -> Response:
    site: Site = request.app.state.site
    path = font_file(site.settings.template_dir, request.path_params["name"])
    if path is None:
        raise HTTPException(404)
    return FileResponse(path, headers={"cache-control": "public, max-age=86400"})


async def _error_page(request: Request, exc: Exception) -> Response:
    # Starlette types every handler for Exception; this one is registered for HTTPException.
    assert isinstance(exc, HTTPException)
    site: Site = request.app.state.site
    title = TITLES.get(exc.status_code, "Error")
    text = {
        404: "There is no such page here.",
        405: "This address does not take that kind of request.",
    }.get(exc.status_code, title)
    response = site.message(request, title, text, exc.status_code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _failure_page(request: Request, exc: Exception) -> Response:
    """A plain page, never a trace; the trace goes to the log."""
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return Response("Something went wrong on our side.\n", 500, media_type="text/plain")
