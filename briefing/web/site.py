"""What the web views share: settings, the store, templates, signing keys, limits and caches."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import threading
from collections import OrderedDict
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from briefing.brief.window import Window
from briefing.config import Settings
from briefing.document.page import template_folders
from briefing.document.render import render_template, template_environment
from briefing.errors import ConfigError
from briefing.store import Store
from briefing.store.editions import Edition
from briefing.store.search import EditionRef
from briefing.web.limits import RateLimit
from briefing.web.security import CSRF_FIELD, CsrfTokens, content_security_policy

log = logging.getLogger(__name__)

STYLESHEET = "web/web.css"
CachedPage = tuple[str, bytes, list[tuple[bytes, bytes]]]  # brief, body, encoded headers
MAX_SIGNED_LINK = 1000
EDITION_CACHE_SIZE = 256
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)


class Site:
    """One running web site; views reach it as `request.app.state.site`."""

    def __init__(self, settings: Settings, store: Store) -> None:
        secret = settings.web.secret_key
        if secret is None or len(secret.get_secret_value()) < 32:
            raise ConfigError(
                "web.secret_key: set BRIEFING_SECRET_KEY to a random value of at least 32 "
                "characters, e.g. `openssl rand -base64 32`"
            )
        key = secret.get_secret_value().encode()
        self.settings = settings
        self.store = store
        self.templates = template_environment(settings.template_dir)
        self.csrf = CsrfTokens(key)
        self.links = URLSafeTimedSerializer(key, salt="briefing-confirm")
        web = settings.web
        window = web.rate_window.total_seconds()
        self.per_client = RateLimit(web.subscribe_per_client, window)
        self.per_address = RateLimit(web.subscribe_per_address, window)
        self.stylesheet = _read_stylesheet(settings.template_dir)
        self._public = {
            name: spec.title
            for name, spec in (settings.brief(name) for name in settings.brief_names)
            if spec.public
        }
        self._editions: OrderedDict[int, CachedPage] = OrderedDict()
        self._editions_lock = threading.Lock()
        # The site's writes (confirmations, unsubscribes) take turns: SQLite has one writer at
        # a time, and threads queueing here instead of in its busy handler (which sleeps up to
        # 100 ms a try) keep answers quick; a double-clicked Confirm cannot insert one address
        # twice.
        self.writing = threading.Lock()

    # --- briefs -----------------------------------------------------------------------------

    def public_briefs(self) -> dict[str, str]:
        """Name → title of each brief whose archive is public, in configured order."""
        return dict(self._public)

    def is_public(self, brief: str) -> bool:
        return brief in self._public

    # --- pages ------------------------------------------------------------------------------

    def page(
        self,
        request: Request,
        template: str,
        status: int = 200,
        *,
        with_form: bool = False,
        **context,
    ) -> Response:
        """A page from templates/web/; `with_form` gives its POST form a CSRF field (and cookie)."""
        cookie = self.csrf.cookie_value(request) if with_form else None
        html = render_template(
            self.templates,
            template,
            root=request.scope.get("root_path", ""),
            public_briefs=self.public_briefs(),
            subscriptions_open=bool(self.settings.public_url and self._public),
            csrf_field=CSRF_FIELD,
            csrf_token=self.csrf.field_for(cookie) if cookie else "",
            **context,
        )
        response = HTMLResponse(html, status)
        if cookie:
            self.csrf.set_cookie(response, request, cookie)
        return response

    def message(self, request: Request, title: str, text: str, status: int = 200) -> Response:
        """A plain page saying one thing, e.g. that a link is unknown."""
        return self.page(request, "web/message.html", status, title=title, text=text)

    # --- editions ---------------------------------------------------------------------------

    def cached_edition(self, edition_id: int) -> CachedPage | None:
        with self._editions_lock:
            found = self._editions.get(edition_id)
            if found is not None:
                self._editions.move_to_end(edition_id)
            return found

    def cache_edition(self, edition_id: int, brief: str, html: str) -> CachedPage:
        """Keep a rendered edition page (editions never change) with the CSP its styles need,
        its headers encoded once."""
        hashes = [
            base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
            for css in _STYLE.findall(html)
        ]
        body = html.encode()
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"content-security-policy", content_security_policy(hashes).encode()),
        ]
        entry = (brief, body, headers)
        with self._editions_lock:
            self._editions[edition_id] = entry
            while len(self._editions) > EDITION_CACHE_SIZE:
                self._editions.popitem(last=False)
        return entry

    # --- signed confirmation links --------------------------------------------------------------

    def confirmation_token(self, email: str, name: str | None, brief: str) -> str:
        return self.links.dumps({"email": email, "name": name, "brief": brief})

    def read_confirmation(self, token: str) -> tuple[dict, int] | None:
        """The signed request and when it was made (Unix time), or None if bad or expired."""
        if not token or len(token) > MAX_SIGNED_LINK:
            return None
        try:
            data, issued = self.links.loads(
                token,
                max_age=int(self.settings.web.confirm_within.total_seconds()),
                return_timestamp=True,
            )
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or not {"email", "name", "brief"} <= data.keys():
            return None
        return data, int(issued.timestamp())

    def public_link(self, request: Request, path: str) -> str:
        """An absolute link for a mail or a feed: under `public_url` (where the site is, as in
        every message's unsubscribe link) when set, else under the request's own base."""
        base = self.settings.public_url or str(request.base_url).rstrip("/")
        return f"{base}{path}"


def edition_day(edition: Edition | EditionRef) -> date:
    """The date an edition is known by, in its brief's zone (as in its title and file name)."""
    return Window(edition.window_start, edition.window_end, ZoneInfo(edition.timezone)).edition_date


FONT_NAME = re.compile(r"[A-Za-z0-9_-]+\.(?:otf|ttf|woff2?)")


def font_file(template_dir: Path | None, name: str) -> Path | None:
    """A font the brief's stylesheet names (`fonts/NAME`), from the template folders only:
    the name is one plain file name, never a path taken from the request."""
    if not FONT_NAME.fullmatch(name):
        return None
    for folder in template_folders(template_dir):
        path = folder / "fonts" / name
        if path.is_file():
            return path
    return None


def _read_stylesheet(template_dir: Path | None) -> bytes:
    """The web stylesheet, from the user's template folder first."""
    for folder in template_folders(template_dir):
        path = folder / STYLESHEET
        if path.is_file():
            return path.read_bytes()
    raise ConfigError(f"template {STYLESHEET!r} not found in {template_dir or 'the defaults'}")
