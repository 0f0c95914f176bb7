"""Typed facade over ``pm.hook``: the only place the core calls hooks.

Keyword calls, result shaping and isolation of event subscribers live here, so the rest
of the code gets typed values and never touches pluggy directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pluggy

from loyalty_plugins.context import HookContext, Refusal
from loyalty_plugins.domain.events import LoyaltyEvent
from loyalty_plugins.domain.members import Member
from loyalty_plugins.domain.money import Money
from loyalty_plugins.domain.orders import CustomerRef, OrderSnapshot
from loyalty_plugins.domain.points import check_points
from loyalty_plugins.domain.rewards import IssuedCoupon, Reward
from loyalty_plugins.domain.rules import EarnRule, PointsCalculation
from loyalty_plugins.domain.tiers import TierDecision, TierLadder
from loyalty_plugins.errors import PluginError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BonusPoints:
    """Extra points for an order, returned by ``loyalty_collect_bonus_points``."""

    points: int
    reason: str


@dataclass(frozen=True, slots=True)
class ReportSection:
    """A titled block for reports, returned by ``loyalty_collect_report_sections``."""

    title: str
    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class SubscriberFailure:
    """One ``loyalty_on_*`` implementation that raised while handling an event."""

    plugin: str
    hook: str
    error: str


def collect_commands(pm: pluggy.PluginManager) -> list[Any]:
    """Typer apps plugins register through ``loyalty_register_commands``."""
    apps: list[Any] = []
    pm.hook.loyalty_register_commands(register=apps.append)
    return apps


class Hooks:
    """Typed calls into the plugin manager for one program."""

    def __init__(self, pm: pluggy.PluginManager, ctx: HookContext) -> None:
        self.pm = pm
        self.ctx = ctx

    # -- registries ---------------------------------------------------------------
    def _collect_registered(self, hook: Any, what: str) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def register(obj: Any) -> None:
            name = getattr(obj, "name", None)
            if not isinstance(name, str) or not name:
                raise PluginError(f"{what} {obj!r} has no name")
            if name in found:
                raise PluginError(f"{what} {name!r} registered twice")
            found[name] = obj

        hook(register=register)
        return found

    def adapters(self) -> dict[str, Any]:
        """Adapters registered through ``loyalty_register_adapters``."""
        return self._collect_registered(self.pm.hook.loyalty_register_adapters, "adapter")

    def commands(self) -> list[Any]:
        """Typer apps registered through ``loyalty_register_commands``."""
        return collect_commands(self.pm)

    # -- decisions ----------------------------------------------------------------
    def calculate_order_points(
        self, order: OrderSnapshot, rule: EarnRule, member: Member | None
    ) -> PointsCalculation:
        """Points for ``order`` (first non-None result)."""
        result = self.pm.hook.loyalty_calculate_order_points(
            order=order, rule=rule, member=member, ctx=self.ctx
        )
        if not isinstance(result, PointsCalculation):
            raise PluginError(f"loyalty_calculate_order_points returned {result!r}")
        check_points(result.points, "calculated points", allow_zero=True)
        return result

    def calculate_points_value(self, points: int, currency: str) -> Money:
        """Money value of ``points``."""
        result = self.pm.hook.loyalty_calculate_points_value(
            points=points, currency=currency, ctx=self.ctx
        )
        if not isinstance(result, Money):
            raise PluginError(f"loyalty_calculate_points_value returned {result!r}")
        return result

    def determine_tier(
        self, member: Member, qualifying: Decimal, ladder: TierLadder, after_refund: bool
    ) -> TierDecision:
        """Tier decision for ``member``."""
        result = self.pm.hook.loyalty_determine_tier(
            member=member,
            qualifying=qualifying,
            ladder=ladder,
            after_refund=after_refund,
            ctx=self.ctx,
        )
        if not isinstance(result, TierDecision):
            raise PluginError(f"loyalty_determine_tier returned {result!r}")
        return result

    def determine_points_expiry(
        self, member: Member, earned_at: datetime, points: int
    ) -> datetime | None:
        """Expiry time for a new lot (None: never)."""
        result = self.pm.hook.loyalty_determine_points_expiry(
            member=member, earned_at=earned_at, points=points, ctx=self.ctx
        )
        if result is False:
            return None
        if not isinstance(result, datetime) or result.tzinfo is None:
            raise PluginError(f"loyalty_determine_points_expiry returned {result!r}")
        return result

    def generate_coupon_code(self, reward: Reward, member: Member) -> str:
        """A coupon code for ``reward``."""
        result = self.pm.hook.loyalty_generate_coupon_code(
            reward=reward, member=member, ctx=self.ctx
        )
        if not isinstance(result, str) or not result.strip():
            raise PluginError(f"loyalty_generate_coupon_code returned {result!r}")
        return result.strip()

    def resolve_member(self, customer: CustomerRef) -> int | None:
        """Member id for ``customer`` (None: skip)."""
        result = self.pm.hook.loyalty_resolve_member(customer=customer, ctx=self.ctx)
        if result is not None and (isinstance(result, bool) or not isinstance(result, int)):
            raise PluginError(f"loyalty_resolve_member returned {result!r}")
        return result

    def determine_segment(self, member: Member) -> str | None:
        """Segment for ``member``."""
        result = self.pm.hook.loyalty_determine_segment(member=member, ctx=self.ctx)
        return result if isinstance(result, str) else None

    # -- collections and vetoes -----------------------------------------------------
    def collect_bonus_points(
        self, order: OrderSnapshot, member: Member, calculation: PointsCalculation
    ) -> list[BonusPoints]:
        """Every plugin's bonus points, flattened and validated."""
        bonuses: list[BonusPoints] = []
        if not self.pm.hook.loyalty_collect_bonus_points.get_hookimpls():
            return bonuses  # the common case, on the ingest hot path
        for batch in self.pm.hook.loyalty_collect_bonus_points(
            order=order, member=member, calculation=calculation, ctx=self.ctx
        ):
            for bonus in batch or []:
                if not isinstance(bonus, BonusPoints):
                    raise PluginError(f"loyalty_collect_bonus_points returned {bonus!r}")
                check_points(bonus.points, f"bonus {bonus.reason!r}")
                bonuses.append(bonus)
        return bonuses

    def collect_report_sections(self) -> list[ReportSection]:
        """Every plugin's report sections."""
        return [
            s
            for batch in self.pm.hook.loyalty_collect_report_sections(ctx=self.ctx)
            for s in batch or []
        ]

    def _first_refusal(self, results: list[Any]) -> Refusal | None:
        for result in results:
            if result is None:
                continue
            if isinstance(result, Refusal):
                return result
            if isinstance(result, tuple) and len(result) == 2:
                return Refusal(str(result[0]), str(result[1]))
            raise PluginError(f"a loyalty_check_* hook returned {result!r}")
        return None

    def check_redemption(self, member: Member, reward: Reward) -> Refusal | None:
        """First refusal of a redemption, if any."""
        return self._first_refusal(
            self.pm.hook.loyalty_check_redemption(member=member, reward=reward, ctx=self.ctx)
        )

    def check_coupon_use(self, coupon: IssuedCoupon, member: Member) -> Refusal | None:
        """First refusal of a coupon use, if any."""
        return self._first_refusal(
            self.pm.hook.loyalty_check_coupon_use(coupon=coupon, member=member, ctx=self.ctx)
        )

    def check_message_send(self, member: Member, message: Any) -> Refusal | None:
        """First refusal of a message, if any."""
        return self._first_refusal(
            self.pm.hook.loyalty_check_message_send(member=member, message=message, ctx=self.ctx)
        )

    # -- events -------------------------------------------------------------------
    def dispatch_event(self, event: LoyaltyEvent) -> list[SubscriberFailure]:
        """Call ``loyalty_on_<kind>`` then ``loyalty_on_event``, each plugin isolated."""
        failures: list[SubscriberFailure] = []
        for hook_name in (f"loyalty_on_{event.kind.value}", "loyalty_on_event"):
            caller = getattr(self.pm.hook, hook_name)
            for impl in reversed(caller.get_hookimpls()):
                available = {"event": event, "ctx": self.ctx}
                try:
                    impl.function(**{name: available[name] for name in impl.argnames})
                except Exception as exc:  # one subscriber never blocks the others
                    log.warning("%s in plugin %s failed: %s", hook_name, impl.plugin_name, exc)
                    failures.append(SubscriberFailure(impl.plugin_name, hook_name, repr(exc)))
        return failures

    def sync_event(self, name: str, **kwargs: Any) -> None:
        """``loyalty_before_sync`` / ``after_sync`` / ``on_sync_error``."""
        hook: Callable[..., Any] = getattr(self.pm.hook, f"loyalty_{name}")
        hook(ctx=self.ctx, **kwargs)
