"""Dashboard and reports: HTML (Jinja2, inline SVG charts) and plain text."""
