"""Lazy, constant-memory iteration over paged collections.

* :func:`iter_wp_pages` walks a WordPress/WooCommerce collection (``page=1..X-WP-TotalPages``,
  or the ``Link: <...>; rel="next"`` relation when the response has pagination links).
* :func:`iter_cursor_pages` walks a cursor-paged source, e.g. a Shopify GraphQL connection
  (``pageInfo { hasNextPage endCursor }``, see :func:`next_cursor`).

Both are generators: a page is requested only when the consumer has used up the previous
one, items are yielded one by one, and no reference to an already-consumed page is kept, so
memory stays at one page whatever the size of the collection. Neither does any HTTP itself:
the caller's ``fetch`` does, normally through
:meth:`loyalty_plugins.sync.http.PolicySession.request_json`, which already retries
transient faults and truncated JSON bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Mapping
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, urlsplit

from requests.utils import parse_header_links

from loyalty_plugins.errors import SyncError

__all__ = [
    "PAGINATION_RELS",
    "PageResponse",
    "iter_cursor_pages",
    "iter_wp_pages",
    "link_next_url",
    "next_cursor",
]

T = TypeVar("T")

#: ``Link`` relations that mean "this response is paginated" (``next`` absent = last page).
PAGINATION_RELS = frozenset({"next", "prev", "previous", "first", "last"})


class PageResponse(Protocol):
    """What :func:`iter_wp_pages` needs from a page: headers and the decoded body.

    Satisfied by :class:`requests.Response` and
    :class:`loyalty_plugins.sync.http.JsonResponse`.
    """

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers; looked up case-insensitively."""
        ...

    def json(self) -> Any:
        """The decoded JSON body; a collection page must be a JSON array."""
        ...


def iter_wp_pages(
    fetch_page: Callable[[int], PageResponse],
    *,
    first_page: int = 1,
    max_pages: int | None = None,
) -> Generator[Any, None, None]:
    """Yield the items of a WordPress REST collection, fetching one page at a time.

    ``fetch_page(n)`` must return page ``n`` (1-based, as the ``page`` query parameter).
    After each page the next page number comes from, in this order:

    1. the ``Link`` header, if it carries pagination relations: ``rel="next"`` gives the next
       page (its ``page`` query parameter, else ``n + 1``); no ``next`` means last page;
    2. ``X-WP-TotalPages``: continue while ``n < total`` (re-read on every page, so a
       collection that grows or shrinks meanwhile is followed);
    3. neither header: the page is the only one.

    An empty page always ends the walk (WooCommerce answers 400 past the last page, so the
    walk never asks for one it was not told exists). Raises :class:`SyncError` if a page is not
    a JSON array, if a ``next`` link does not move forward, or if more than ``max_pages``
    pages would be fetched.
    """
    if first_page < 1:
        raise ValueError("first_page must be at least 1")
    page = first_page
    fetched = 0
    while True:
        response = fetch_page(page)
        fetched += 1
        items = response.json()
        if not isinstance(items, list):
            raise SyncError(f"page {page}: expected a JSON array, got {type(items).__name__}")
        following = _wp_next_page(response.headers, page)
        del response  # keep only the items of the current page alive
        if not items:
            return
        yield from items
        del items
        if following is None:
            return
        if max_pages is not None and fetched >= max_pages:
            raise SyncError(f"collection has more than max_pages={max_pages} pages")
        page = following


def _wp_next_page(headers: Mapping[str, str], page: int) -> int | None:
    link = _header(headers, "Link")
    if link:
        links = parse_header_links(link)
        rels = {rel for entry in links for rel in entry.get("rel", "").lower().split()}
        if rels & PAGINATION_RELS:
            url = _next_url(links)
            if url is None:
                return None
            following = _page_param(url)
            if following is None:
                return page + 1
            if following <= page:
                raise SyncError(f"page {page}: Link rel=next points back to page {following}")
            return following
    total = _int_header(headers, "X-WP-TotalPages")
    if total is not None:
        return page + 1 if page < total else None
    return None


def link_next_url(headers: Mapping[str, str]) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, or ``None`` (also Shopify REST paging)."""
    link = _header(headers, "Link")
    if not link:
        return None
    return _next_url(parse_header_links(link))


def _next_url(links: Iterable[Mapping[str, str]]) -> str | None:
    for entry in links:
        if "next" in entry.get("rel", "").lower().split() and entry.get("url"):
            return entry["url"]
    return None


def _page_param(url: str) -> int | None:
    values = parse_qs(urlsplit(url).query).get("page")
    if not values:
        return None
    try:
        return int(values[-1])
    except ValueError:
        return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = _header(headers, name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def iter_cursor_pages(
    fetch: Callable[[str | None], tuple[Iterable[T], str | None]],
    *,
    max_pages: int | None = None,
) -> Generator[T, None, None]:
    """Yield items from a cursor-paged source, fetching one page at a time.

    ``fetch(None)`` returns the first page as ``(items, next_cursor)``; ``fetch(cursor)`` the
    following ones; ``next_cursor=None`` ends the walk (use :func:`next_cursor` to derive it
    from a GraphQL ``pageInfo``). An empty page with a cursor is followed. Raises
    :class:`SyncError` if a cursor repeats the previous one (the source is not advancing) or if
    more than ``max_pages`` pages would be fetched.
    """
    cursor: str | None = None
    fetched = 0
    while True:
        items, following = fetch(cursor)
        fetched += 1
        yield from items
        del items
        if following is None:
            return
        if following == cursor:
            raise SyncError(f"cursor {following!r} returned twice in a row; the source is stuck")
        if max_pages is not None and fetched >= max_pages:
            raise SyncError(f"source has more than max_pages={max_pages} pages")
        cursor = following


def next_cursor(page_info: Mapping[str, Any] | None) -> str | None:
    """The cursor for the next GraphQL page from ``pageInfo``, or ``None`` on the last page.

    Raises :class:`SyncError` when ``hasNextPage`` is true but ``endCursor`` is missing
    (the query forgot to select it).
    """
    if not page_info or page_info.get("hasNextPage") is not True:
        return None
    cursor = page_info.get("endCursor")
    if not isinstance(cursor, str) or not cursor:
        raise SyncError("pageInfo.hasNextPage is true but endCursor is missing")
    return cursor
