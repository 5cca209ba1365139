"""The store: every table and query of briefing, behind named functions."""

from briefing.store.db import Store

__all__ = ["Store"]
