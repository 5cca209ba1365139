"""briefing: sourced, dated situation briefs from stored events."""

__version__ = "0.1.0"
