"""Helpers of the studio tests: reading a form's CSRF field and a table row from HTML."""

from __future__ import annotations

import json
import re


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def row_of(html: str, attribute: str, value: str) -> str:
    """The HTML of the table row whose ``data-ATTRIBUTE`` is ``value``."""
    match = re.search(rf'<tr [^>]*{attribute}="{re.escape(value)}"[^>]*>.*?</tr>', html, re.S)
    assert match, f"no row {attribute}={value}"
    return match.group(0)


def plotly_data(html: str, div_id: str) -> list[dict]:
    """The traces a page passes to ``Plotly.newPlot`` for the chart ``div_id``."""
    start = html.index(f'"{div_id}",', html.index("Plotly.newPlot")) + len(div_id) + 3
    start = html.index("[", start)
    data, _ = json.JSONDecoder().raw_decode(html, start)
    return data
