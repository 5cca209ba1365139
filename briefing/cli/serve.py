"""`briefing serve`: the web archive, subscribe and one-click unsubscribe, run by uvicorn."""

from __future__ import annotations

import click

from briefing.cli.app import App, pass_app
from briefing.cli.logs import configure_logging, log_format_option


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@log_format_option
@click.option(
    "--root-path", default="", help="Path prefix the reverse proxy serves us under (and strips)."
)
@pass_app
def serve(app: App, host: str, port: int, log_format: str, root_path: str) -> None:
    """Serve the public archive, search, subscribe and unsubscribe pages (behind a proxy).

    Needs BRIEFING_SECRET_KEY; subscriptions also need public_url. Stops on SIGTERM or Ctrl-C.
    """
    import uvicorn

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
