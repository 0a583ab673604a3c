"""Article bodies: Markdown rendered by markdown-it-py (CommonMark, tables), then sanitised
with nh3 (the sanitiser the desk already uses for inbound email), so a body can never carry
a script or an event handler onto the public pages whoever wrote it."""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

# Raw HTML in the Markdown is kept out at the parser; nh3 is the second fence.
_PARSER = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
_ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "img", "li", "ol", "p", "pre",
    "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}, "td": {"align"}}
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def markdown_render(text: str) -> str:
    """Sanitised HTML of a Markdown body (links get rel="noopener noreferrer nofollow")."""
    return nh3_clean(_PARSER.render(text or ""))


def nh3_clean(html: str) -> str:
    """Only the tags and attributes an article needs; links to the web or email only."""
    return nh3.clean(html, tags=_ALLOWED_TAGS, attributes=_ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")


def plain_text(html: str) -> str:
    """The words of rendered HTML, for the search column and a default meta description."""
    import html as html_module

    return _SPACE.sub(" ", html_module.unescape(_TAG.sub(" ", html))).strip()


def summary_of(text: str, *, limit: int = 160) -> str:
    """A meta description: the first `limit` characters, cut at a word."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
