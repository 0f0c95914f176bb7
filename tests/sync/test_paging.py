"""Lazy WordPress page walking and cursor paging."""

from __future__ import annotations

import gc
import itertools
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st

from loyalty_plugins.errors import SyncError
from loyalty_plugins.sync.http import HttpPolicy, PolicySession
from loyalty_plugins.sync.paging import (
    iter_cursor_pages,
    iter_wp_pages,
    link_next_url,
    next_cursor,
)

BASE = "https://shop.example/wp-json/wc/v3/orders"


class Page(list[Any]):
    """A list that can be weak-referenced, to prove consumed pages are released."""


class FakeResponse:
    """Minimal PageResponse."""

    def __init__(self, items: Any, headers: Mapping[str, str] | None = None) -> None:
        self._items = items
        self.headers: Mapping[str, str] = dict(headers or {})

    def json(self) -> Any:
        return self._items


def wp_collection(total: int, per_page: int) -> tuple[list[int], list[FakeResponse]]:
    """Responses for a collection of ``total`` ids with X-WP-TotalPages only."""
    ids = list(range(1, total + 1))
    chunks = [ids[i : i + per_page] for i in range(0, len(ids), per_page)] or [[]]
    pages = len(chunks) if total else 0
    return ids, [
        FakeResponse(Page(chunk), {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})
        for chunk in chunks
    ]


def test_walks_every_page_by_total_pages() -> None:
    ids, pages = wp_collection(25, 10)
    requested: list[int] = []

    def fetch(page: int) -> FakeResponse:
        requested.append(page)
        return pages[page - 1]

    assert list(iter_wp_pages(fetch)) == ids
    assert requested == [1, 2, 3]


def test_is_lazy_and_requests_only_needed_pages() -> None:
    _, pages = wp_collection(30, 10)
    requested: list[int] = []

    def fetch(page: int) -> FakeResponse:
        requested.append(page)
        return pages[page - 1]

    walk = iter_wp_pages(fetch)
    assert requested == []  # creating the generator fetches nothing
    assert list(itertools.islice(walk, 3)) == [1, 2, 3]
    assert requested == [1]
    assert list(itertools.islice(walk, 8)) == [4, 5, 6, 7, 8, 9, 10, 11]
    assert requested == [1, 2]
    walk.close()
    assert requested == [1, 2]


def test_consumed_pages_are_released() -> None:
    refs: list[weakref.ref[Page]] = []

    def fetch(page: int) -> FakeResponse:
        items = Page([page * 100 + i for i in range(5)])
        refs.append(weakref.ref(items))
        return FakeResponse(items, {"X-WP-TotalPages": "50"})

    walk = iter_wp_pages(fetch)
    seen = 0
    for _ in walk:
        seen += 1
        if seen % 5 == 1:  # first item of a new page: every earlier page must be gone
            gc.collect()
            alive = [ref() is not None for ref in refs]
            assert alive == [False] * (len(refs) - 1) + [True]
    assert seen == 250


def test_follows_link_rel_next() -> None:
    def link(page: int) -> str:
        parts = [f'<{BASE}?page={page - 1}>; rel="prev"'] if page > 1 else []
        if page < 3:
            parts.append(f'<{BASE}?per_page=2&page={page + 1}>; rel="next"')
        return ", ".join(parts)

    requested: list[int] = []

    def fetch(page: int) -> FakeResponse:
        requested.append(page)
        # X-WP-TotalPages deliberately missing: Link alone drives the walk.
        return FakeResponse([page * 10, page * 10 + 1], {"link": link(page)})

    assert list(iter_wp_pages(fetch)) == [10, 11, 20, 21, 30, 31]
    assert requested == [1, 2, 3]


def test_link_without_next_ends_even_if_total_pages_says_more() -> None:
    def fetch(page: int) -> FakeResponse:
        return FakeResponse(
            [page], {"Link": f'<{BASE}?page=1>; rel="prev"', "X-WP-TotalPages": "9"}
        )

    assert list(iter_wp_pages(fetch, first_page=2)) == [2]


def test_non_pagination_link_falls_back_to_total_pages() -> None:
    def fetch(page: int) -> FakeResponse:
        headers = {"Link": '<https://shop.example/wp-json/>; rel="https://api.w.org/"'}
        headers["X-WP-TotalPages"] = "2"
        return FakeResponse([page], headers)

    assert list(iter_wp_pages(fetch)) == [1, 2]


def test_next_link_without_page_parameter_means_next_page() -> None:
    def fetch(page: int) -> FakeResponse:
        headers = {"Link": f'<{BASE}?cursor=abc>; rel="next"'} if page < 2 else {}
        return FakeResponse([page], headers)

    assert list(iter_wp_pages(fetch)) == [1, 2]


def test_next_link_pointing_back_is_an_error() -> None:
    def fetch(page: int) -> FakeResponse:
        return FakeResponse([page], {"Link": f'<{BASE}?page=1>; rel="next"'})

    with pytest.raises(SyncError):
        list(iter_wp_pages(fetch))


def test_no_paging_headers_means_a_single_page() -> None:
    calls: list[int] = []

    def fetch(page: int) -> FakeResponse:
        calls.append(page)
        return FakeResponse([1, 2, 3])

    assert list(iter_wp_pages(fetch)) == [1, 2, 3]
    assert calls == [1]


def test_empty_collection() -> None:
    _, pages = wp_collection(0, 10)
    assert list(iter_wp_pages(lambda page: pages[page - 1])) == []


def test_empty_page_ends_the_walk() -> None:
    def fetch(page: int) -> FakeResponse:
        return FakeResponse([] if page == 2 else [page], {"X-WP-TotalPages": "5"})

    assert list(iter_wp_pages(fetch)) == [1]


def test_page_that_is_not_an_array_is_an_error() -> None:
    with pytest.raises(SyncError, match="JSON array"):
        list(iter_wp_pages(lambda page: FakeResponse({"code": "x"})))


def test_max_pages_guard() -> None:
    def fetch(page: int) -> FakeResponse:
        return FakeResponse([page], {"X-WP-TotalPages": "1000"})

    walk = iter_wp_pages(fetch, max_pages=3)
    assert next(walk) == 1
    with pytest.raises(SyncError, match="max_pages"):
        list(walk)


def test_first_page_must_be_positive() -> None:
    with pytest.raises(ValueError):
        next(iter_wp_pages(lambda page: FakeResponse([]), first_page=0))


@given(total=st.integers(min_value=0, max_value=120), per_page=st.integers(1, 25))
def test_yields_each_item_once_in_order(total: int, per_page: int) -> None:
    ids, pages = wp_collection(total, per_page)
    requested: list[int] = []

    def fetch(page: int) -> FakeResponse:
        requested.append(page)
        return pages[page - 1]

    assert list(iter_wp_pages(fetch)) == ids
    assert requested == list(range(1, max(len(pages), 1) + 1))


def test_end_to_end_with_policy_session_is_lazy() -> None:
    session = PolicySession(HttpPolicy(), sleep=lambda _: None)

    def page_matcher(page: int) -> list[Any]:
        return [responses.matchers.query_param_matcher({"page": str(page), "per_page": "2"})]

    headers = {"X-WP-Total": "6", "X-WP-TotalPages": "3"}
    with responses.RequestsMock() as rsps:
        rsps.get(BASE, json=[{"id": 10}, {"id": 11}], headers=headers, match=page_matcher(1))
        # a truncated page 2 is retried by the session, invisible to the walk
        rsps.get(BASE, body='[{"id": 2', headers=headers, match=page_matcher(2))
        rsps.get(BASE, json=[{"id": 20}, {"id": 21}], headers=headers, match=page_matcher(2))
        rsps.get(BASE, json=[{"id": 30}, {"id": 31}], headers=headers, match=page_matcher(3))

        def fetch(page: int) -> Any:
            return session.request_json("GET", BASE, params={"page": page, "per_page": 2})

        walk = iter_wp_pages(fetch)
        assert [next(walk)["id"] for _ in range(2)] == [10, 11]
        assert len(rsps.calls) == 1
        assert next(walk)["id"] == 20
        assert len(rsps.calls) == 3  # page 1, truncated page 2, page 2 again
        assert [item["id"] for item in walk] == [21, 30, 31]
        assert len(rsps.calls) == 4
    assert session.stats.retries == {"invalid_json": 1}


# ----------------------------------------------------------------------- cursors


def cursor_source(pages: list[list[str]]) -> tuple[list[str | None], Any]:
    asked: list[str | None] = []

    def fetch(cursor: str | None) -> tuple[list[str], str | None]:
        asked.append(cursor)
        index = 0 if cursor is None else int(cursor.removeprefix("c")) + 1
        following = f"c{index}" if index + 1 < len(pages) else None
        return pages[index], following

    return asked, fetch


def test_cursor_pages_walk_all() -> None:
    asked, fetch = cursor_source([["a", "b"], [], ["c"], ["d", "e"]])
    assert list(iter_cursor_pages(fetch)) == ["a", "b", "c", "d", "e"]
    assert asked == [None, "c0", "c1", "c2"]


def test_cursor_pages_are_lazy() -> None:
    asked, fetch = cursor_source([["a", "b"], ["c", "d"], ["e"]])
    walk: Iterator[str] = iter_cursor_pages(fetch)
    assert asked == []
    assert next(walk) == "a"
    assert next(walk) == "b"
    assert asked == [None]
    assert next(walk) == "c"
    assert asked == [None, "c0"]


def test_cursor_repeating_is_an_error() -> None:
    def fetch(cursor: str | None) -> tuple[list[int], str | None]:
        return [1], "same"

    with pytest.raises(SyncError, match="twice"):
        list(iter_cursor_pages(fetch))


def test_cursor_max_pages_guard() -> None:
    def fetch(cursor: str | None) -> tuple[list[int], str | None]:
        number = 0 if cursor is None else int(cursor) + 1
        return [number], str(number)

    with pytest.raises(SyncError, match="max_pages"):
        list(iter_cursor_pages(fetch, max_pages=4))


def test_graphql_page_info_to_cursor() -> None:
    assert next_cursor({"hasNextPage": True, "endCursor": "eyJsYXN0X2lkIjo0fQ=="}) == (
        "eyJsYXN0X2lkIjo0fQ=="
    )
    assert next_cursor({"hasNextPage": False, "endCursor": "x"}) is None
    assert next_cursor(None) is None
    with pytest.raises(SyncError):
        next_cursor({"hasNextPage": True, "endCursor": None})


def test_graphql_style_walk() -> None:
    connection_pages: list[dict[str, Any]] = [
        {
            "edges": [{"node": {"id": "gid://1"}}],
            "pageInfo": {"hasNextPage": True, "endCursor": "A"},
        },
        {
            "edges": [{"node": {"id": "gid://2"}}],
            "pageInfo": {"hasNextPage": False, "endCursor": "B"},
        },
    ]

    def fetch(cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        page = connection_pages[0 if cursor is None else 1]
        return [edge["node"] for edge in page["edges"]], next_cursor(page["pageInfo"])

    assert [node["id"] for node in iter_cursor_pages(fetch)] == ["gid://1", "gid://2"]


def test_link_next_url() -> None:
    headers = {
        "link": "<https://x.myshopify.com/admin/api/2024-10/orders.json?page_info=abc&limit=50>; "
        'rel="next", <https://x.myshopify.com/admin/api/2024-10/orders.json?page_info=zz>; '
        'rel="previous"'
    }
    assert link_next_url(headers) == (
        "https://x.myshopify.com/admin/api/2024-10/orders.json?page_info=abc&limit=50"
    )
    assert link_next_url({}) is None
