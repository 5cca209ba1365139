"""What every response and request goes through: headers, allowed methods, body size, CSRF.

`Guard` is plain ASGI middleware so that a refused request (a PUT, a body too large) is
answered before any route runs. `CsrfTokens` protects forms with a signed double submit: a
random cookie (SameSite=Strict, HttpOnly) and, in the form, an HMAC of it under the server
secret; a cross-site page can neither read the cookie nor compute the field.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ALLOWED_METHODS = {"GET", "HEAD", "POST"}
CSP = (
    "default-src 'none'; style-src 'self'{styles}; img-src 'self' data:; font-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
CSRF_COOKIE = "briefing_csrf"
log = logging.getLogger("briefing.web")
CSRF_FIELD = "csrf_token"


class BodyTooLarge(Exception):
    pass


def content_security_policy(style_hashes: list[str] | tuple[str, ...] = ()) -> str:
    """No script at all; styles from our own files, plus inline styles by hash only."""
    return CSP.format(styles="".join(f" 'sha256-{digest}'" for digest in style_hashes))


class Guard:
    """Only GET/HEAD/POST, bodies up to `max_body` bytes, security headers on every answer,
    and one log line per request: method, path, status, time (never the query: it holds
    tokens)."""

    def __init__(self, app: ASGIApp, *, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answer = _Answer(send)
        try:
            await self._guarded(scope, receive, answer.send)
        finally:
            _log_request(scope, answer.status, time.perf_counter() - started)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ALLOWED_METHODS:
            response = PlainTextResponse(
                "Method not allowed\n", 405, {"allow": ", ".join(sorted(ALLOWED_METHODS))}
            )
            await response(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.max_body:
            await PlainTextResponse("Request too large\n", 413)(scope, receive, send)
            return
        try:
            await self.app(scope, _limited(receive, self.max_body), send)
        except BodyTooLarge:
            await PlainTextResponse("Request too large\n", 413)(scope, receive, send)


_FIXED_HEADERS = [(name.encode(), value.encode()) for name, value in HEADERS.items()]
_DEFAULT_CSP = (b"content-security-policy", content_security_policy().encode())


class _Answer:
    """Adds the security headers to the response and remembers its status for the log."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            headers = [*message.get("headers", ()), *_FIXED_HEADERS]
            if not any(name.lower() == b"content-security-policy" for name, _ in headers):
                headers.append(_DEFAULT_CSP)
            message["headers"] = headers
        await self._send(message)


def _log_request(scope: Scope, status: int, seconds: float) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    milliseconds = round(seconds * 1000, 1)
    client = scope.get("client")
    fields = {
        "event": "request",
        "method": scope["method"],
        "path": scope["path"],
        "status": status,
        "ms": milliseconds,
        "client": client[0] if client else None,
    }
    log.info("%s %s %s %.1f ms", scope["method"], scope["path"], status, milliseconds, extra=fields)


def _limited(receive: Receive, limit: int) -> Receive:
    """A chunked body without Content-Length is counted as it arrives."""
    seen = 0

    async def receiving() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge
        return message

    return receiving


class CsrfTokens:
    """The form field that proves a POST came from a form this server sent."""

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"briefing csrf\0" + secret).digest()

    def cookie_value(self, request: Request) -> str:
        """The browser's CSRF cookie, or a new one (set it with `set_cookie`)."""
        current = request.cookies.get(CSRF_COOKIE, "")
        if len(current) == 43 and current.replace("-", "").replace("_", "").isalnum():
            return current
        return secrets.token_urlsafe(32)

    def field_for(self, cookie: str) -> str:
        return hmac.new(self._key, cookie.encode(), hashlib.sha256).hexdigest()

    def set_cookie(self, response: Response, request: Request, cookie: str) -> None:
        if request.cookies.get(CSRF_COOKIE) != cookie:
            response.set_cookie(
                CSRF_COOKIE,
                cookie,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
                path="/",
            )

    def valid(self, request: Request, submitted: str | None) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE)
        if not cookie or not submitted:
            return False
        return hmac.compare_digest(self.field_for(cookie), submitted)
