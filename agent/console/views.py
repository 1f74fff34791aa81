"""The console's Jinja2 templates (agent/console/templates/) and the filters they use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from agent.console.figures import BASELINE_TEXT
from agent.console.formatting import local_time, money, ratio, signed_percent

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

_environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                           trim_blocks=True, lstrip_blocks=True)
_environment.filters.update(money=money, ratio=ratio, signed_percent=signed_percent, local_time=local_time)
_environment.globals.update(baseline_text=BASELINE_TEXT)


def render(template: str, **context: Any) -> str:
    """The page `template` (a file in templates/) rendered with `context`."""
    return _environment.get_template(template).render(**context)
