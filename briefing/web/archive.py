"""The public archive: briefs, their editions, an edition's page, PDF and events, feeds, search.

Every view answers 404 for a brief that is not `public`, and files are found by edition id
from the archive's records, never by a path taken from the request.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from briefing.deliver.message import attachment_name
from briefing.document.render import render_html
from briefing.edition_brief import brief_for_edition
from briefing.errors import NotFoundError
from briefing.store.editions import Edition, editions_page, get_edition, latest_edition
from briefing.store.events import events_by_id
from briefing.store.search import search_events
from briefing.web.site import CachedPage, Site, edition_day

EDITION_TEMPLATE = "web/edition.html"
FEED_SIZE = 30
MAX_QUERY = 200
MAX_ID = 2**31  # edition ids are 32-bit integers; a longer number must not reach the database


class PreparedResponse(Response):
    """A page served many times as it is: its headers were encoded once, with the page."""

    def __init__(self, body: bytes, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = 200
        self.body = body
        self.raw_headers = raw_headers
        self.background = None


def site_of(request: Request) -> Site:
    return request.app.state.site


def index(request: Request) -> Response:
    site = site_of(request)
    briefs = []
    with site.store.session() as session:
        for name, title in site.public_briefs().items():
            latest = latest_edition(session, name)
            briefs.append(
                {
                    "name": name,
                    "title": title,
                    "latest": latest,
                    "day": latest and edition_day(latest),
                }
            )
    return site.page(request, "web/index.html", briefs=briefs)


def brief_editions(request: Request) -> Response:
    site = site_of(request)
    name = _public_brief(site, request.path_params["brief"])
    page = _page_number(request.query_params.get("page", "1"))
    size = site.settings.web.page_size
    with site.store.session() as session:
        editions, total = editions_page(session, name, offset=(page - 1) * size, limit=size)
    pages = max(1, math.ceil(total / size))
    if page > pages:
        raise HTTPException(404)
    rows = [{"edition": edition, "day": edition_day(edition)} for edition in editions]
    return site.page(
        request,
        "web/brief.html",
        brief_name=name,
        title=site.public_briefs()[name],
        rows=rows,
        page=page,
        pages=pages,
        total=total,
    )


async def edition_page(request: Request) -> Response:
    """The edition as HTML; rendered once per edition and process, then served from memory."""
    site = site_of(request)
    edition_id = request.path_params["edition_id"]
    cached = site.cached_edition(edition_id)
    if cached is None:
        cached = await run_in_threadpool(_render_edition, site, edition_id, request)
    brief, body, headers = cached
    if not site.is_public(brief):
        raise HTTPException(404)
    return PreparedResponse(body, headers)


def _render_edition(site: Site, edition_id: int, request: Request) -> CachedPage:
    edition = _public_edition(site, edition_id)
    brief = brief_for_edition(site.settings, site.store, edition)
    html = render_html(
        brief,
        template_dir=site.settings.template_dir,
        author=site.settings.author,
        for_screen=True,
        template=EDITION_TEMPLATE,
        root=request.scope.get("root_path", ""),
        edition=edition,
        day=edition_day(edition),
    )
    return site.cache_edition(edition_id, edition.brief, html)


def edition_pdf(request: Request) -> Response:
    site = site_of(request)
    edition = _public_edition(site, request.path_params["edition_id"])
    if edition.format != "pdf":
        raise HTTPException(404)
    path = _archived_file(site.settings.output_dir, edition)
    name = attachment_name(edition.brief, edition_day(edition))
    return FileResponse(
        path,
        media_type="application/pdf",
        filename=name,
        headers={"x-checksum-sha256": edition.sha256, "cache-control": "public, max-age=86400"},
    )


def edition_events(request: Request) -> Response:
    site = site_of(request)
    edition = _public_edition(site, request.path_params["edition_id"])
    with site.store.session() as session:
        events = events_by_id(session, edition.event_ids)
    record = {
        "edition_id": edition.id,
        "brief": edition.brief,
        "date": edition_day(edition).isoformat(),
        "window_start": edition.window_start.isoformat(),
        "window_end": edition.window_end.isoformat(),
        "events": [event.model_dump(mode="json") for event in events],
    }
    return JSONResponse(record)


def brief_feed(request: Request) -> Response:
    from feedgen.feed import FeedGenerator

    site = site_of(request)
    name = _public_brief(site, request.path_params["brief"])
    with site.store.session() as session:
        editions, _ = editions_page(session, name, offset=0, limit=FEED_SIZE)
    home = site.public_link(request, f"/briefs/{name}")
    feed = FeedGenerator()
    feed.id(home)
    feed.title(site.public_briefs()[name])
    feed.link(href=home, rel="alternate")
    feed.link(href=site.public_link(request, f"/briefs/{name}/feed.atom"), rel="self")
    feed.updated(editions[0].created_at if editions else datetime.now(UTC))
    for edition in reversed(editions):
        page = site.public_link(request, f"/editions/{edition.id}")
        entry = feed.add_entry()
        entry.id(page)
        entry.title(f"{edition.title} — {edition_day(edition):%d %B %Y}")
        # One link only: feedgen 1.0 writes an entry's links without their rel, so an
        # enclosure would read as a second alternate; the PDF is linked from the content.
        entry.link(href=page)
        entry.updated(edition.created_at)
        entry.published(edition.created_at)
        span = f"{edition.window_start:%Y-%m-%d %H:%M} to {edition.window_end:%Y-%m-%d %H:%M} UTC"
        entry.summary(f"{len(edition.event_ids)} events, {span}.")
        if edition.format == "pdf":
            pdf = escape(f"{page}/pdf")
            entry.content(
                f'<p>{len(edition.event_ids)} events, {escape(span)}. <a href="{pdf}">PDF</a></p>',
                type="html",
            )
    return Response(feed.atom_str(pretty=True), media_type="application/atom+xml")


def search(request: Request) -> Response:
    site = site_of(request)
    query = request.query_params.get("q", "")[:MAX_QUERY]
    public = site.public_briefs()
    hits = []
    if query.strip() and public:
        with site.store.session() as session:
            hits = search_events(session, query, briefs=public)
    days = {ref.id: edition_day(ref) for hit in hits for ref in hit.editions}
    return site.page(request, "web/search.html", query=query, hits=hits, titles=public, days=days)


# --- lookups that end in 404 ---------------------------------------------------------------


def _public_brief(site: Site, name: str) -> str:
    if not site.is_public(name):
        raise HTTPException(404)
    return name


def _public_edition(site: Site, edition_id: int) -> Edition:
    if not 0 < edition_id < MAX_ID:
        raise HTTPException(404)
    try:
        with site.store.session() as session:
            edition = get_edition(session, edition_id)
    except NotFoundError:
        raise HTTPException(404) from None
    _public_brief(site, edition.brief)
    return edition


def _archived_file(output_dir: Path, edition: Edition) -> Path:
    """The edition's file, which must lie inside the archive (records are not trusted blindly)."""
    root = (output_dir / "briefs").resolve()
    path = (output_dir / edition.path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise HTTPException(404)
    return path


def _page_number(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and int(text) > 0):
        raise HTTPException(404)
    return int(text)
