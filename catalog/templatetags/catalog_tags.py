"""Template helpers of the catalog UI: a small, safe markdown renderer for playbooks and value
formatting for version diffs."""

from __future__ import annotations

import json
import re

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()

_ORDERED = re.compile(r"^\s*(\d+)[.)]\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*]\s+(.*)$")
_HEADING = re.compile(r"^(#{1,4})\s+(.*)$")


def _inline(text: str) -> str:
    """Escape, then **bold** and `code` (nothing else: no links, no raw HTML)."""
    html = escape(text)
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html)


@register.filter
def playbook(text: str | None) -> str:
    """Render playbook markdown: paragraphs, headings, numbered and bulleted lists."""
    blocks: list[str] = []
    list_tag: str | None = None
    items: list[str] = []
    paragraph: list[str] = []

    def flush_paragraph():
        if paragraph:
            blocks.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()

    def flush_list():
        nonlocal list_tag
        if list_tag:
            blocks.append(
                f"<{list_tag}>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + f"</{list_tag}>"
            )
            items.clear()
            list_tag = None

    for line in (text or "").splitlines():
        if not line.strip():
            flush_paragraph()
            flush_list()
            continue
        heading = _HEADING.match(line)
        ordered = _ORDERED.match(line)
        bullet = _BULLET.match(line)
        if heading:
            flush_paragraph()
            flush_list()
            level = min(len(heading.group(1)) + 2, 6)
            blocks.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif ordered or bullet:
            flush_paragraph()
            tag = "ol" if ordered else "ul"
            if list_tag != tag:
                flush_list()
                list_tag = tag
            items.append((ordered or bullet).group(2 if ordered else 1))
        elif list_tag and line.startswith((" ", "\t")):
            items[-1] += " " + line.strip()
        else:
            flush_list()
            paragraph.append(line.strip())
    flush_paragraph()
    flush_list()
    # Safe: every piece of text above went through escape() in _inline.
    return mark_safe("\n".join(blocks))


@register.filter
def show(value) -> str:
    """A content value for tables and diffs: — for empty, JSON for dicts, %g for floats."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


@register.filter
def get(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def field_label(name: str) -> str:
    return {
        "warn_threshold": "warn",
        "critical_threshold": "critical",
        "for_windows": "for (windows)",
        "min_samples": "min samples",
        "data_source": "data source",
    }.get(name, name.replace("_", " "))
