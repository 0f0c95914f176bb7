"""The platform-neutral sync engine: pull orders and refunds, push coupons and balances.

One run for one store:

1. take the store's lock (overlapping cron runs never process a store twice at once);
2. page through orders modified since the checkpoint (minus an overlap, because
   platforms filter on whole seconds), recording each through the same idempotent
   services the webhook path uses; the checkpoint moves only after a batch was recorded,
   so a run killed anywhere resumes without gaps, and replays are no-ops;
3. retry refunds that arrived before their order ("held");
4. push new reward coupons and changed balances/tiers to the store, and read coupon
   usage back to mark redemptions.

Payloads that cannot be mapped or recorded go to quarantine with the reason; the run
goes on. The adapter supplies a :class:`StoreClient`; nothing here knows a platform.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import Select, select

from loyalty_plugins.clock import as_utc
from loyalty_plugins.domain.money import Money
from loyalty_plugins.domain.orders import CustomerRef, OrderSnapshot, PaymentState, RefundSnapshot
from loyalty_plugins.domain.rewards import CouponStatus, IssuedCoupon
from loyalty_plugins.errors import (
    CouponNotApplicable,
    IdempotencyMismatch,
    LoyaltyError,
    MappingError,
    OrderNotFound,
    RefundExceedsOrder,
    SyncError,
)
from loyalty_plugins.program import LoyaltyProgram
from loyalty_plugins.services.redemption import coupon_from_row
from loyalty_plugins.storage import tables as t
from loyalty_plugins.sync import state

log = logging.getLogger(__name__)

#: Re-read this much before the checkpoint: platforms filter on whole seconds.
OVERLAP = timedelta(seconds=2)
#: Save the checkpoint after this many recorded orders.
CHECKPOINT_EVERY = 100
#: Members or coupons pushed per chunk (a multiple of the platforms' batch limits).
PUSH_CHUNK = 500
ORDERS = "orders"


@dataclass(frozen=True, slots=True)
class CouponPush:
    """A reward coupon to create in the store, restricted to one customer."""

    coupon: IssuedCoupon
    email: str | None


@dataclass(frozen=True, slots=True)
class MemberPush:
    """A member's balance and tier to show in the store."""

    member_id: int
    customer_id: str
    balance: int
    tier: str | None


class StoreClient(Protocol):
    """What an adapter provides for one store."""

    platform: str
    store: str

    def iter_orders(self, modified_after: datetime | None) -> Iterator[Mapping[str, Any]]:
        """Orders modified after the instant (all when None), oldest change first, lazily."""
        ...

    def order_ref(self, payload: Mapping[str, Any]) -> tuple[str | None, datetime | None]:
        """(order id, modification time) of a payload, without failing on bad data."""
        ...

    def map_order(self, payload: Mapping[str, Any]) -> OrderSnapshot | None:
        """The snapshot of an order payload (None: skip); raises MappingError."""
        ...

    def order_refunds(self, payload: Mapping[str, Any], currency: str) -> list[RefundSnapshot]:
        """The refunds of an order (may fetch them); raises MappingError."""
        ...

    def iter_customers(self) -> Iterator[Mapping[str, Any]]:
        """Every customer of the store, lazily."""
        ...

    def map_customer(self, payload: Mapping[str, Any]) -> tuple[CustomerRef, date | None]:
        """The customer and their birthday (None if unknown); raises MappingError."""
        ...

    def push_coupons(self, pushes: Sequence[CouponPush]) -> dict[int, str]:
        """Create coupons; returns coupon id -> store id for those created."""
        ...

    def push_members(self, pushes: Sequence[MemberPush]) -> set[int]:
        """Show balances and tiers; returns the member ids updated."""
        ...

    def coupon_usage(self, store_ids: Sequence[str]) -> dict[str, list[str]]:
        """store coupon id -> who used it (empty list: unused)."""
        ...


@dataclass
class RunSummary:
    """What one sync run did (printed by ``loyalty sync``, passed to ``after_sync``)."""

    store: str
    dry_run: bool = False
    fetched: int = 0
    customers: int = 0
    awarded: int = 0
    points_awarded: int = 0
    replayed: int = 0
    edited: int = 0
    not_paid: int = 0
    voided: int = 0
    refunds: int = 0
    points_reversed: int = 0
    held: int = 0
    released: int = 0
    quarantined: int = 0
    skipped: int = 0
    coupons_pushed: int = 0
    members_pushed: int = 0
    coupons_redeemed: int = 0
    checkpoint: str | None = None
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return asdict(self)


def refund_json(refund: RefundSnapshot) -> str:
    """A refund as stored in quarantine while it waits for its order."""
    return json.dumps(
        {
            "platform": refund.platform,
            "store": refund.store,
            "order_id": refund.order_id,
            "refund_id": refund.refund_id,
            "amount": str(refund.amount.amount),
            "currency": refund.amount.currency,
            "created_at": refund.created_at.isoformat(),
            "reason": refund.reason,
        }
    )


def refund_from_json(text: str) -> RefundSnapshot:
    """Rebuild a held refund from its quarantine payload."""
    data = json.loads(text)
    return RefundSnapshot(
        data["platform"],
        data["store"],
        data["order_id"],
        data["refund_id"],
        Money.of(data["amount"], data["currency"]),
        datetime.fromisoformat(data["created_at"]),
        data.get("reason", ""),
    )


class SyncEngine:
    """Runs syncs of one store into one program."""

    def __init__(
        self, program: LoyaltyProgram, client: StoreClient, *, dry_run: bool = False
    ) -> None:
        self.program = program
        self.client = client
        self.dry_run = dry_run
        self.summary = RunSummary(client.store, dry_run)
        self._open_order_ids: set[str] = set()
        self._open_loaded = False

    def _open_orders(self) -> set[str]:
        """Ids of this store's orders waiting in quarantine (read once per engine)."""
        if not self._open_loaded:
            self._open_order_ids = {
                item.external_id
                for item in state.list_quarantine(
                    self.program.db, store=self.store, statuses=("open",)
                )
                if item.resource == "order" and item.external_id is not None
            }
            self._open_loaded = True
        return self._open_order_ids

    @property
    def store(self) -> str:
        """The store's name."""
        return self.client.store

    def _now(self) -> datetime:
        return self.program.clock.now()

    def _quarantine(
        self,
        resource: str,
        external_id: str | None,
        payload: Any,
        reason: str,
        *,
        status: str = "open",
    ) -> None:
        if self.dry_run:
            self.summary.quarantined += 1
            return
        state.quarantine_payload(
            self.program.db,
            platform=self.client.platform,
            store=self.store,
            resource=resource,
            external_id=external_id,
            payload=payload,
            reason=reason,
            now=self._now(),
            status=status,
        )
        if status == "held":
            self.summary.held += 1
        else:
            self.summary.quarantined += 1

    # -- one order ------------------------------------------------------------------
    def process_order(self, payload: Mapping[str, Any]) -> None:
        """Record one order payload (cron and webhooks both come through here)."""
        order_id, _ = self.client.order_ref(payload)
        try:
            snapshot = self.client.map_order(payload)
        except MappingError as exc:
            self._quarantine("order", order_id, payload, str(exc))
            return
        if snapshot is None:
            self.summary.skipped += 1
            return
        if snapshot.state is PaymentState.NOT_YET:
            self.summary.not_paid += 1
            return
        if self.dry_run:
            return
        try:
            if snapshot.state is PaymentState.PAID:
                self._award(snapshot)
            if snapshot.state is PaymentState.VOID and not self._was_awarded(snapshot):
                self.summary.skipped += 1  # cancelled before it ever earned: nothing to undo
                return
            self._record_refunds(payload, snapshot)
            if snapshot.state is PaymentState.VOID:
                self._void(snapshot)
        except MappingError as exc:
            self._quarantine("order", order_id, payload, str(exc))
            return
        except SyncError:
            raise  # the store is unreachable or throttling: stop the run, retry it later
        except LoyaltyError as exc:
            self._quarantine("order", order_id, payload, f"{type(exc).__name__}: {exc}")
            return
        if order_id is not None and not self.dry_run and order_id in self._open_orders():
            self._open_order_ids.discard(order_id)
            state.resolve_quarantined(
                self.program.db,
                platform=self.client.platform,
                store=self.store,
                resource="order",
                external_id=order_id,
                now=self._now(),
            )

    def _award(self, snapshot: OrderSnapshot) -> None:
        try:
            result = self.program.record_order(snapshot)
        except IdempotencyMismatch:
            # Edited after it was paid (lines, total): the award stays as first recorded,
            # and its refunds and cancellation below are still applied to it.
            self.summary.edited += 1
            return
        if result.replayed:
            self.summary.replayed += 1
        elif result.status == "awarded":
            self.summary.awarded += 1
            self.summary.points_awarded += result.points
        else:
            self.summary.skipped += 1

    def _was_awarded(self, snapshot: OrderSnapshot) -> bool:
        with self.program.db.read() as conn:
            found = conn.execute(
                select(t.orders.c.id).where(t.orders.c.source_key == snapshot.key)
            ).first()
        return found is not None

    def _void(self, snapshot: OrderSnapshot) -> None:
        try:
            result = self.program.void_order(
                snapshot.key,
                at=snapshot.modified_at or self._now(),
                reason=snapshot.raw_status or "void",
            )
        except OrderNotFound:
            return  # never awarded: nothing to take back
        if not result.replayed:
            self.summary.voided += 1
            self.summary.points_reversed += result.points_reversed

    def _record_refunds(self, payload: Mapping[str, Any], snapshot: OrderSnapshot) -> None:
        for refund in self.client.order_refunds(payload, snapshot.currency):
            self.record_refund(refund)

    def record_refund(self, refund: RefundSnapshot) -> None:
        """Record a refund; one whose order is not recorded yet is held, not lost."""
        try:
            result = self.program.record_refund(refund)
        except OrderNotFound:
            self._quarantine(
                "refund",
                refund.key,
                refund_json(refund),
                "order not recorded yet; retried on every run",
                status="held",
            )
            return
        except RefundExceedsOrder as exc:
            self._quarantine("refund", refund.key, refund_json(refund), str(exc))
            return
        if not result.replayed:
            self.summary.refunds += 1
            self.summary.points_reversed += result.points_reversed

    def release_held(self) -> None:
        """Retry refunds that were waiting for their order."""
        for item in state.list_quarantine(self.program.db, store=self.store, statuses=("held",)):
            refund = refund_from_json(item.payload)
            try:
                self.program.record_refund(refund)
            except OrderNotFound:
                continue
            except LoyaltyError as exc:
                state.set_quarantine_status(self.program.db, item.id, "open", self._now(), str(exc))
                continue
            state.set_quarantine_status(self.program.db, item.id, "resolved", self._now())
            self.summary.released += 1
            self.summary.held = max(0, self.summary.held - 1)

    # -- a whole run ------------------------------------------------------------------
    def run(
        self, *, since: datetime | None = None, backfill: bool = False, push: bool = True
    ) -> RunSummary:
        """One sync run of the store (see the module docstring)."""
        started = time.monotonic()
        hooks = self.program.hooks
        with state.store_lock(self.program.db, self.store, self._now()):
            hooks.sync_event("before_sync", store=self.store)
            try:
                self._pull(since=since, backfill=backfill)
                if not self.dry_run:
                    self.release_held()
                    if push:
                        self.push()
            except Exception as exc:
                hooks.sync_event("on_sync_error", store=self.store, error=exc)
                raise
            self.summary.seconds = round(time.monotonic() - started, 3)
            hooks.sync_event("after_sync", store=self.store, summary=self.summary)
        return self.summary

    def process_customer(self, payload: Mapping[str, Any]) -> None:
        """Enrol a store customer and keep their birthday and name (webhooks too)."""
        raw_id = payload.get("id")
        try:
            customer, birthday = self.client.map_customer(payload)
        except MappingError as exc:
            self._quarantine(
                "customer", str(raw_id) if raw_id is not None else None, payload, str(exc)
            )
            return
        self.summary.customers += 1
        if self.dry_run:
            return
        member_id = self.program.ensure_member(customer)
        self.program.update_profile(
            member_id,
            birthday=birthday,
            first_name=customer.first_name,
            last_name=customer.last_name,
        )

    def _pull(self, *, since: datetime | None, backfill: bool) -> None:
        db = self.program.db
        position = None if backfill else since
        if position is None and not backfill:
            saved = state.get_checkpoint(db, self.store, ORDERS)
            position = datetime.fromisoformat(saved) if saved else None
        if position is None:
            # First run or backfill: the whole customer list once (birthdays, names, members
            # without orders yet). Later changes arrive through customer webhooks.
            for customer in self.client.iter_customers():
                self.process_customer(customer)
        after = position - OVERLAP if position is not None else None
        newest: datetime | None = None
        pending = 0
        for payload in self.client.iter_orders(after):
            self.summary.fetched += 1
            self.process_order(payload)
            _, modified = self.client.order_ref(payload)
            if modified is not None and (newest is None or modified > newest):
                newest = modified
            pending += 1
            if pending >= CHECKPOINT_EVERY and newest is not None:
                self._save_checkpoint(newest)
                pending = 0
        if newest is not None:
            self._save_checkpoint(newest)

    def _save_checkpoint(self, newest: datetime) -> None:
        position = as_utc(newest).isoformat()
        self.summary.checkpoint = position
        if not self.dry_run:
            state.set_checkpoint(self.program.db, self.store, ORDERS, position, self._now())
            state.renew_store_lock(self.program.db, self.store, self._now())

    # -- pushing ----------------------------------------------------------------------
    def _store_ref_join(self) -> Any:
        """Join condition: members with a customer id in this store (not guests)."""
        refs = t.member_refs.c
        return (
            (refs.platform == self.client.platform)
            & (refs.store == self.store)
            & ~refs.external_id.startswith("email:")
        )

    def _walk(self, query: Select[Any], id_column: Any) -> Iterator[list[Any]]:
        """Rows of ``query`` in chunks of :data:`PUSH_CHUNK`, walked by ascending id."""
        after = 0
        while True:
            with self.program.db.read() as conn:
                rows = list(
                    conn.execute(
                        query.where(id_column > after).order_by(id_column).limit(PUSH_CHUNK)
                    )
                )
            if not rows:
                return
            after = int(rows[-1].id)
            yield rows

    def push(self) -> None:
        """Push new coupons and changed balances, then read coupon usage back.

        Work goes in chunks of :data:`PUSH_CHUNK` members or coupons, walked by id, so
        memory stays flat however many members the store has.
        """
        self._push_coupons()
        self._push_members()
        self._read_coupon_usage()

    def _push_coupons(self) -> None:
        c, cp, m, refs = t.coupons.c, t.coupon_pushes.c, t.members.c, t.member_refs.c
        pushed = select(cp.coupon_id).where(cp.store == self.store)
        # Guests get their coupons too: a coupon is restricted by e-mail, not by account.
        known_here = (
            select(refs.member_id)
            .where(refs.platform == self.client.platform, refs.store == self.store)
            .scalar_subquery()
        )
        query = (
            select(t.coupons, m.email.label("member_email"))
            .join(t.members, m.id == c.member_id)
            .where(
                c.status == CouponStatus.ISSUED.value,
                c.id.not_in(pushed),
                c.member_id.in_(known_here),
            )
        )
        for rows in self._walk(query, c.id):
            pushes = [CouponPush(coupon_from_row(r), r.member_email) for r in rows]
            created = self.client.push_coupons(pushes)
            if created:
                self.program.db.write(partial(self._record_coupon_pushes, created))
            self.summary.coupons_pushed += len(created)

    def _record_coupon_pushes(self, created: dict[int, str], conn: Any) -> None:
        now = self._now()
        conn.execute(
            t.coupon_pushes.insert(),
            [
                {"coupon_id": cid, "store": self.store, "external_id": ext, "pushed_at": now}
                for cid, ext in created.items()
            ],
        )

    def _push_members(self) -> None:
        a, sp, m, refs = t.accounts.c, t.store_pushes.c, t.members.c, t.member_refs.c
        query = (
            select(
                m.id,
                m.tier,
                a.balance,
                refs.external_id.label("customer"),
                sp.balance.label("pushed_balance"),
                sp.tier.label("pushed_tier"),
                sp.member_id.label("pushed"),
            )
            .join(t.member_refs, (refs.member_id == m.id) & self._store_ref_join())
            .join(t.accounts, (a.member_id == m.id) & (a.kind == "available"))
            .outerjoin(t.store_pushes, (sp.member_id == m.id) & (sp.store == self.store))
        )
        for rows in self._walk(query, m.id):
            pushes = [
                MemberPush(int(r.id), str(r.customer), int(r.balance), r.tier)
                for r in rows
                if r.pushed is None or r.pushed_balance != r.balance or r.pushed_tier != r.tier
            ]
            if pushes:
                self._record_member_pushes(pushes, self.client.push_members(pushes))

    def _record_member_pushes(self, pushes: list[MemberPush], updated: set[int]) -> None:
        sp = t.store_pushes.c
        now = self._now()
        done = [p for p in pushes if p.member_id in updated]

        def record(conn: Any) -> None:
            if not done:
                return
            conn.execute(
                t.store_pushes.delete().where(
                    sp.store == self.store, sp.member_id.in_([p.member_id for p in done])
                )
            )
            conn.execute(
                t.store_pushes.insert(),
                [
                    {
                        "store": self.store,
                        "member_id": p.member_id,
                        "balance": p.balance,
                        "tier": p.tier,
                        "pushed_at": now,
                    }
                    for p in done
                ],
            )

        self.program.db.write(record)
        self.summary.members_pushed += len(done)

    def _read_coupon_usage(self) -> None:
        c, cp = t.coupons.c, t.coupon_pushes.c
        query = (
            select(c.id, c.code, cp.external_id)
            .join(t.coupon_pushes, cp.coupon_id == c.id)
            .where(cp.store == self.store, c.status == CouponStatus.ISSUED.value)
        )
        for rows in self._walk(query, c.id):
            usage = self.client.coupon_usage([r.external_id for r in rows])
            for row in rows:
                used_by = usage.get(row.external_id)
                if not used_by:
                    continue
                try:
                    self.program.mark_coupon_redeemed(
                        row.code, f"{self.client.platform}:{self.store}:{used_by[0]}"
                    )
                except CouponNotApplicable as exc:
                    self.summary.errors.append(str(exc))
                    continue
                self.summary.coupons_redeemed += 1
