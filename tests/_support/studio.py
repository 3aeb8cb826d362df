"""Helpers of the studio tests: reading a form's CSRF field and a table row from HTML."""

from __future__ import annotations

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
