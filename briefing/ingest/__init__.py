"""Ingestion: files, feeds and article text become validated events."""
