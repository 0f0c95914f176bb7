"""``LoyaltyProgram``: the one object a developer uses."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import pluggy
from sqlalchemy import select

from loyalty_plugins.clock import Clock, SystemClock
from loyalty_plugins.config import ProgramConfig, config_from_mapping, load_config
from loyalty_plugins.context import HookContext
from loyalty_plugins.domain.events import EventKind
from loyalty_plugins.domain.members import Member
from loyalty_plugins.domain.orders import CustomerRef, OrderSnapshot, RefundSnapshot
from loyalty_plugins.domain.rewards import IssuedCoupon
from loyalty_plugins.hooks import Hooks
from loyalty_plugins.ledger.accounts import system_account_ids
from loyalty_plugins.ledger.verify import VerifyReport, verify_ledger
from loyalty_plugins.plugins import get_plugin_manager
from loyalty_plugins.services import (
    adjustments,
    earning,
    maintenance,
    members,
    outbox,
    queries,
    redemption,
    refunds,
)
from loyalty_plugins.services.redemption import coupon_from_row
from loyalty_plugins.services.results import (
    AdjustResult,
    Balance,
    LotView,
    MaintenanceResult,
    OrderResult,
    RefundResult,
    StatementLine,
    TierRunResult,
)
from loyalty_plugins.services.runtime import Runtime, load_member
from loyalty_plugins.storage import tables as t
from loyalty_plugins.storage.database import Database
from loyalty_plugins.storage.migrate import upgrade

#: The hooks the outbox dispatches to (``loyalty_on_sync_error`` is not one of them).
_EVENT_HOOKS = (*(f"loyalty_on_{kind.value}" for kind in EventKind), "loyalty_on_event")


class LoyaltyProgram:
    """A loyalty program on one database, with its plugins.

    Every write method is one transaction, idempotent where the source gives a key, and
    dispatches the events it produced to ``loyalty_on_*`` hooks after commit.
    """

    def __init__(
        self,
        config: ProgramConfig,
        *,
        clock: Clock | None = None,
        plugins: Iterable[object] = (),
        load_entrypoints: bool = True,
        schema: str | None = None,
        migrate: bool = True,
        pluginmanager: pluggy.PluginManager | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.db = Database(config.database, schema=schema)
        if migrate:
            upgrade(self.db)
        self.pm = pluginmanager or get_plugin_manager(
            load_entrypoints=load_entrypoints, plugins=plugins
        )
        self.ctx = HookContext(config=config, clock=self.clock, program=self)
        self.hooks = Hooks(self.pm, self.ctx)
        self.pm.hook.loyalty_configure.call_historic(kwargs={"config": config})
        with self.db.read() as conn:
            system = system_account_ids(conn)
        has_subscribers = any(getattr(self.pm.hook, name).get_hookimpls() for name in _EVENT_HOOKS)
        self._rt = Runtime(self.db, self.hooks, config, self.clock, system, has_subscribers)

    @classmethod
    def open(
        cls,
        source: str | Path | ProgramConfig | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> LoyaltyProgram:
        """Open a program from a database URL, a ``loyalty.toml`` path, a config or a dict.

        ``LoyaltyProgram.open("sqlite:///loyalty.db")`` uses default rules;
        ``LoyaltyProgram.open("loyalty.toml")`` reads the file.
        """
        if isinstance(source, ProgramConfig):
            config = source
        elif isinstance(source, dict):
            config = config_from_mapping(source)
        elif source is None:
            config = ProgramConfig()
        elif isinstance(source, str) and "://" in source:
            config = ProgramConfig(database=source)
        else:
            config = load_config(source)
        return cls(config, **kwargs)

    # -- lifecycle ----------------------------------------------------------------
    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()

    def __enter__(self) -> LoyaltyProgram:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _after_commit(self) -> None:
        if self._rt.has_subscribers:
            outbox.dispatch_pending(self._rt)

    # -- writes -------------------------------------------------------------------
    def ensure_member(self, customer: CustomerRef) -> int:
        """Member id for a store customer, enrolling them on first sight."""
        member_id = members.ensure_member(self._rt, customer)
        self._after_commit()
        return member_id

    def update_profile(
        self,
        member_id: int,
        *,
        birthday: date | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> bool:
        """Fill in a member's birthday and name from the store (True when changed)."""
        return members.update_profile(
            self._rt, member_id, birthday=birthday, first_name=first_name, last_name=last_name
        )

    def record_order(self, order: OrderSnapshot) -> OrderResult:
        """Award the points of a paid order (once per order, however often delivered)."""
        result = earning.record_order(self._rt, order)
        self._after_commit()
        return result

    def record_orders(self, orders: Iterable[OrderSnapshot]) -> list[OrderResult]:
        """Record many orders (backfills); each order is still its own transaction."""
        results = [earning.record_order(self._rt, order) for order in orders]
        self._after_commit()
        return results

    def record_refund(self, refund: RefundSnapshot) -> RefundResult:
        """Reverse the share of the original award that ``refund`` cancels."""
        result = refunds.record_refund(self._rt, refund)
        self._after_commit()
        return result

    def void_order(
        self, order_key: str, *, at: datetime, reason: str = "cancelled"
    ) -> RefundResult:
        """Take back what a cancelled or failed order still holds (idempotent per order)."""
        result = refunds.void_order(self._rt, order_key, at, reason)
        self._after_commit()
        return result

    def redeem(
        self, member_id: int, reward_key: str, *, idempotency_key: str | None = None
    ) -> IssuedCoupon:
        """Spend points on a reward; returns the issued coupon."""
        coupon = redemption.redeem(self._rt, member_id, reward_key, idempotency_key)
        self._after_commit()
        return coupon

    def mark_coupon_redeemed(self, code: str, order_ref: str) -> IssuedCoupon:
        """Record that a coupon was used in the store."""
        coupon = redemption.mark_coupon_redeemed(self._rt, code, order_ref)
        self._after_commit()
        return coupon

    def adjust(
        self,
        member_id: int,
        points: int,
        *,
        reason: str,
        actor: str,
        idempotency_key: str | None = None,
    ) -> AdjustResult:
        """Add or remove points by hand, with a reason and the actor's name."""
        result = adjustments.adjust(
            self._rt,
            member_id,
            points,
            reason=reason,
            actor=actor,
            idempotency_key=idempotency_key,
        )
        self._after_commit()
        return result

    def expire_due(self, progress: maintenance.Progress | None = None) -> MaintenanceResult:
        """Make due pending points available and expire lots past their date.

        ``progress(done, total)`` is called after each member (for progress bars).
        """
        result = maintenance.expire_due(self._rt, progress)
        self._after_commit()
        return result

    def evaluate_tiers(self, progress: maintenance.Progress | None = None) -> TierRunResult:
        """Re-evaluate every member's tier (``progress(done, total)`` per member)."""
        result = maintenance.evaluate_tiers(self._rt, progress)
        self._after_commit()
        return result

    def dispatch_events(self) -> int:
        """Deliver events still waiting in the outbox (e.g. after a crash)."""
        return outbox.dispatch_pending(self._rt)

    # -- reads --------------------------------------------------------------------
    def member(self, member_id: int) -> Member:
        """A member by id."""
        with self.db.read() as conn:
            return load_member(conn, member_id)

    def find_member(self, platform: str, store: str, external_id: str) -> Member | None:
        """The member behind a store customer id, if enrolled."""
        with self.db.read() as conn:
            member_id = members.find_member_id(conn, platform, store, external_id)
            return load_member(conn, member_id) if member_id is not None else None

    def members(
        self, *, search: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[tuple[Member, int]]:
        """Members with their available balance."""
        with self.db.read() as conn:
            return queries.list_members(conn, search=search, limit=limit, offset=offset)

    def balance(self, member_id: int) -> Balance:
        """Available, pending and owed points of a member."""
        with self.db.read() as conn:
            return queries.balance(conn, member_id)

    def lots(self, member_id: int, *, open_only: bool = True) -> list[LotView]:
        """The member's lots (with expiry dates), oldest first."""
        with self.db.read() as conn:
            return queries.lots(conn, member_id, open_only=open_only)

    def history(self, member_id: int) -> list[StatementLine]:
        """The member's statement: every entry that changed their points."""
        with self.db.read() as conn:
            return queries.statement(conn, member_id)

    def coupons(self, member_id: int | None = None) -> list[IssuedCoupon]:
        """Issued coupons (of one member, or all)."""
        query = select(t.coupons).order_by(t.coupons.c.id)
        if member_id is not None:
            query = query.where(t.coupons.c.member_id == member_id)
        with self.db.read() as conn:
            return [coupon_from_row(r) for r in conn.execute(query)]

    def points_value(self, points: int) -> Any:
        """Money value of ``points`` in the program currency."""
        return self.hooks.calculate_points_value(points, self.config.currency)

    def verify(self) -> VerifyReport:
        """Prove balances equal the sum of entries (``loyalty ledger verify``)."""
        with self.db.read(snapshot=True) as conn:  # one consistent moment, even under writes
            return verify_ledger(conn)
