"""The web side of briefing (`briefing serve`): public archive, search, subscribe, unsubscribe.

An ASGI application (Starlette) meant for uvicorn behind a reverse proxy at `public_url`.
It reads the store and the archive and, for subscriptions, writes subscribers; it never
composes a brief that was not archived.
"""
