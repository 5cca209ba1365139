"""The document: a brief rendered to HTML and PDF."""
