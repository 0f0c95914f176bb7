"""The WooCommerce side of a sync: wc/v3 over the shared HTTP policy, as a StoreClient.

Orders are polled by ``modified_after`` (GMT) ordered by ``modified`` ascending, 100 per
page; refunds come from ``orders/<id>/refunds`` for orders that list any; coupons are
created with ``coupons/batch`` and balances written to customer ``meta_data`` with
``customers/batch`` (at most 100 items per call, the platform's limit).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from loyalty_plugins.domain.orders import CustomerRef, OrderSnapshot, RefundSnapshot
from loyalty_plugins.errors import MappingError, PlatformError, SyncError
from loyalty_plugins.sync.engine import CouponPush, MemberPush
from loyalty_plugins.sync.http import HttpPolicy, PolicySession, PolicyWooCommerceAPI
from loyalty_plugins.sync.paging import iter_wp_pages
from loyalty_woocommerce import mapping

BATCH_LIMIT = 100
#: Background fetches while a page is recorded (next page, refunds of this page).
FETCH_WORKERS = 4
PAGE_SIZE = 100


@dataclass(frozen=True)
class WooCommerceStore:
    """How to reach one WooCommerce store (credentials never printed: see ``__repr__``)."""

    name: str
    url: str
    consumer_key: str
    consumer_secret: str
    guest_policy: Literal["match_email", "skip"] = "match_email"
    webhook_secret: str = ""

    def __repr__(self) -> str:
        return f"WooCommerceStore(name={self.name!r}, url={self.url!r})"


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class WooCommerceClient:
    """A :class:`~loyalty_plugins.sync.engine.StoreClient` for one WooCommerce store."""

    platform = mapping.PLATFORM

    def __init__(
        self,
        store: WooCommerceStore,
        *,
        policy: HttpPolicy | None = None,
        session: PolicySession | None = None,
    ) -> None:
        self.config = store
        self.store = store.name
        self.session = session or PolicySession(policy or HttpPolicy())
        self.api = PolicyWooCommerceAPI(
            store.url,
            store.consumer_key,
            store.consumer_secret,
            version="wc/v3",
            session=self.session,
        )
        self._categories: dict[str, tuple[str, ...]] | None = None
        self._refund_futures: dict[str, Future[list[Any]]] = {}

    # -- reading ----------------------------------------------------------------------
    def _pages(self, endpoint: str, **params: Any) -> Iterator[Any]:
        def fetch(page: int) -> Any:
            return self.api.get_json(
                endpoint, params={**params, "per_page": PAGE_SIZE, "page": page}
            )

        return iter_wp_pages(fetch)

    def categories(self) -> dict[str, tuple[str, ...]]:
        """Product id -> category names, fetched once per client."""
        if self._categories is None:
            found: dict[str, tuple[str, ...]] = {}
            for product in self._pages("products"):
                if isinstance(product, Mapping) and "id" in product:
                    names = tuple(
                        str(c.get("name", ""))
                        for c in product.get("categories") or []
                        if isinstance(c, Mapping)
                    )
                    found[str(product["id"])] = names
            self._categories = found
        return self._categories

    def iter_orders(self, modified_after: datetime | None) -> Iterator[Mapping[str, Any]]:
        """Orders changed after ``modified_after``, oldest change first, one page at a time.

        Paging by page number over a list sorted by modification time loses orders: one
        that changes during the walk jumps to the end and every later order moves up a
        place, so the first order of the next page is never seen. Instead each request
        starts again after the newest time seen so far (keyset paging); only orders
        sharing that very second are paged by number. ``modified_after`` is strict and
        whole-second, so the bound backs off one second and repeats are skipped by
        ``(id, date_modified_gmt)``.
        """
        bound = modified_after
        page = 1
        seen: set[tuple[str | None, datetime | None]] = set()
        # The next page and the refunds of this one are fetched in the background while
        # the caller records this page: the run then costs about what its requests cost.
        with ThreadPoolExecutor(max_workers=FETCH_WORKERS, thread_name_prefix="wc-fetch") as pool:
            pending = pool.submit(self._orders_page, bound, page)
            try:
                while True:
                    items = pending.result()
                    newest = max(
                        (m for _, m in map(self.order_ref, items) if m is not None), default=None
                    )
                    full = len(items) >= PAGE_SIZE
                    if full:
                        next_bound = newest - timedelta(seconds=1) if newest is not None else None
                        if next_bound is not None and (bound is None or next_bound > bound):
                            bound, page = next_bound, 1
                        else:
                            page += 1  # a whole page within one second: page through it
                        pending = pool.submit(self._orders_page, bound, page)
                    fresh = []
                    for item in items:
                        ref = self.order_ref(item)
                        if ref not in seen:
                            seen.add(ref)
                            fresh.append(item)
                    self._prefetch_refunds(pool, fresh)
                    yield from fresh
                    if not full:
                        return
                    if bound is not None:
                        seen = {ref for ref in seen if ref[1] is not None and ref[1] > bound}
            finally:
                self._refund_futures.clear()
                pending.cancel()

    def _orders_page(self, bound: datetime | None, page: int) -> list[Mapping[str, Any]]:
        params: dict[str, Any] = {
            "orderby": "modified",
            "order": "asc",
            "dates_are_gmt": "true",
            "per_page": PAGE_SIZE,
            "page": page,
        }
        if bound is not None:
            params["modified_after"] = bound.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        data = self.api.get_json("orders", params=params).data
        return [i for i in data if isinstance(i, Mapping)] if isinstance(data, list) else []

    def _prefetch_refunds(self, pool: ThreadPoolExecutor, items: list[Mapping[str, Any]]) -> None:
        self._refund_futures.clear()  # only this page's: memory stays flat
        for item in items:
            order_id, _ = self.order_ref(item)
            if item.get("refunds") and order_id is not None:
                self._refund_futures[order_id] = pool.submit(self._refund_payloads, order_id)

    def _refund_payloads(self, order_id: str) -> list[Any]:
        return list(self._pages(f"orders/{order_id}/refunds"))

    def iter_customers(self) -> Iterator[Mapping[str, Any]]:
        """Every customer (role ``customer``), one page at a time."""
        for item in self._pages("customers", orderby="id", order="asc"):
            if isinstance(item, Mapping):
                yield item

    def map_customer(self, payload: Mapping[str, Any]) -> tuple[CustomerRef, date | None]:
        """The customer and the ``birthday`` from their meta data."""
        return mapping.map_customer(payload, self.store), mapping.customer_birthday(payload)

    def order_ref(self, payload: Mapping[str, Any]) -> tuple[str | None, datetime | None]:
        """(id, date_modified_gmt) without failing on bad data."""
        raw_id = payload.get("id")
        order_id = (
            str(raw_id) if isinstance(raw_id, int | str) and not isinstance(raw_id, bool) else None
        )
        try:
            modified = mapping.parse_wc_datetime(
                payload.get("date_modified_gmt"), payload.get("date_modified")
            )
        except MappingError:
            modified = None
        return order_id, modified

    def map_order(self, payload: Mapping[str, Any]) -> OrderSnapshot | None:
        """Map with the store's categories and guest policy."""
        return mapping.map_order(
            payload, self.store, categories=self.categories(), guest_policy=self.config.guest_policy
        )

    def order_refunds(self, payload: Mapping[str, Any], currency: str) -> list[RefundSnapshot]:
        """Full refund objects of an order whose summary lists refunds."""
        if not payload.get("refunds"):
            return []
        order_id, _ = self.order_ref(payload)
        if order_id is None:
            raise MappingError("order has refunds but no id", path="id")
        future = self._refund_futures.pop(order_id, None)
        payloads = future.result() if future is not None else self._refund_payloads(order_id)
        return [mapping.map_refund(item, self.store, order_id, currency) for item in payloads]

    # -- writing ------------------------------------------------------------------------
    def push_coupons(self, pushes: Sequence[CouponPush]) -> dict[int, str]:
        """Create coupons in batches of 100; a code the store already has is looked up."""
        created: dict[int, str] = {}
        for chunk in _chunks(pushes, BATCH_LIMIT):
            bodies = [
                mapping.coupon_payload(
                    p.coupon.code,
                    kind=p.coupon.kind,
                    value=p.coupon.value,
                    currency=p.coupon.currency,
                    email=p.email,
                    expires_at=p.coupon.expires_at,
                )
                for p in chunk
            ]
            # Not idempotent: a retried create could make a duplicate, so a failure here
            # is left for the next run, which finds existing codes first.
            response = self.api.post_json("coupons/batch", {"create": bodies})
            results = response.data.get("create", []) if isinstance(response.data, Mapping) else []
            for push, result in zip(chunk, results, strict=False):
                if (
                    isinstance(result, Mapping)
                    and isinstance(result.get("id"), int)
                    and result["id"]
                ):
                    created[push.coupon.id] = str(result["id"])
                    continue
                existing = self._find_coupon(push.coupon.code)
                if existing is not None:
                    created[push.coupon.id] = existing
        return created

    def _find_coupon(self, code: str) -> str | None:
        response = self.api.get_json("coupons", params={"code": code.lower()})
        for item in response.data if isinstance(response.data, list) else []:
            if isinstance(item, Mapping) and str(item.get("code", "")).lower() == code.lower():
                return str(item["id"])
        return None

    def push_members(self, pushes: Sequence[MemberPush]) -> set[int]:
        """Write balance and tier meta with ``customers/batch``; returns members updated."""
        done: set[int] = set()
        for chunk in _chunks(pushes, BATCH_LIMIT):
            updates = [
                {"id": int(p.customer_id), **mapping.customer_meta_update(p.balance, p.tier)}
                for p in chunk
                if p.customer_id.isdigit()
            ]
            if not updates:
                continue
            response = self.api.post_json("customers/batch", {"update": updates}, idempotent=True)
            results = response.data.get("update", []) if isinstance(response.data, Mapping) else []
            ok_ids = {
                str(r["id"])
                for r in results
                if isinstance(r, Mapping) and isinstance(r.get("id"), int) and "error" not in r
            }
            done.update(p.member_id for p in chunk if p.customer_id in ok_ids)
        return done

    def coupon_usage(self, store_ids: Sequence[str]) -> dict[str, list[str]]:
        """``used_by`` of the given coupons (fetched 100 at a time with ``include``)."""
        usage: dict[str, list[str]] = {}
        for chunk in _chunks(list(store_ids), BATCH_LIMIT):
            for item in self._pages("coupons", include=",".join(chunk)):
                if not isinstance(item, Mapping):
                    continue
                try:
                    _, used_by = mapping.coupon_usage(item)
                except MappingError:
                    continue
                usage[str(item.get("id"))] = used_by
        return usage

    # -- checks -----------------------------------------------------------------------
    def check(self) -> list[str]:
        """What ``loyalty stores test`` reports: reachability and permissions."""
        findings: list[str] = []
        for endpoint in ("orders", "customers", "coupons", "products"):
            try:
                self.api.get_json(endpoint, params={"per_page": 1})
                findings.append(f"read {endpoint}: ok")
            except PlatformError as exc:
                findings.append(f"read {endpoint}: refused ({exc.code}, HTTP {exc.status})")
            except SyncError as exc:
                findings.append(f"read {endpoint}: unreachable ({exc})")
        return findings
