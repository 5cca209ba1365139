"""`briefing serve`: the web archive, subscribe and one-click unsubscribe, run by uvicorn."""

from __future__ import annotations

import click

from briefing.cli.app import App, pass_app


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--log-format",
    type=click.Choice(["plain", "json"]),
    default="plain",
    show_default=True,
    help="Log lines for people, or JSON lines for a log collector.",
)
@click.option(
    "--root-path", default="", help="Path prefix the reverse proxy serves us under (and strips)."
)
@pass_app
def serve(app: App, host: str, port: int, log_format: str, root_path: str) -> None:
    """Serve the public archive, search, subscribe and unsubscribe pages (behind a proxy).

    Needs BRIEFING_SECRET_KEY; subscriptions also need public_url. Stops on SIGTERM or Ctrl-C.
    """
    import uvicorn

    from briefing.cli.schedule import configure_logging
    from briefing.web.app import create_app

    configure_logging(log_format, app.quiet)
    web = create_app(app.settings, app.store)
    app.say(f"serving on http://{host}:{port}{root_path}/")
    uvicorn.run(
        web,
        host=host,
        port=port,
        root_path=root_path,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=app.settings.web.forwarded_allow_ips,
        server_header=False,
        limit_concurrency=200,
        timeout_graceful_shutdown=10,
    )
