"""THE contract between the core and plugins: every hook, in sections.

How a hook is called follows from its verb:

* ``loyalty_register_*(register)`` -- broadcast; the plugin calls ``register(obj)``.
* ``loyalty_calculate_* / determine_* / generate_* / resolve_*`` -- ``firstresult``; the
  built-in default is a ``trylast`` plugin in :mod:`loyalty_plugins.defaults`; a plugin
  overrides it by returning a non-None value, or wraps it with ``wrapper=True``.
* ``loyalty_collect_*`` -- broadcast; each plugin returns a list; the host flattens.
* ``loyalty_check_*`` -- broadcast veto; return a :class:`Refusal` or None.
* ``loyalty_on_*(event, ctx)`` -- called after commit through the outbox; each plugin is
  isolated from the others and must not raise (errors are logged and recorded).
* ``loyalty_before_sync / after_sync / on_sync_error`` -- observation around sync jobs.
* ``loyalty_configure / loyalty_addhooks`` -- historic: late plugins see earlier calls.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from loyalty_plugins.config import ProgramConfig
    from loyalty_plugins.context import HookContext, Refusal
    from loyalty_plugins.domain.events import LoyaltyEvent
    from loyalty_plugins.domain.members import Member
    from loyalty_plugins.domain.money import Money
    from loyalty_plugins.domain.orders import CustomerRef, OrderSnapshot
    from loyalty_plugins.domain.rewards import IssuedCoupon, Reward
    from loyalty_plugins.domain.rules import EarnRule, PointsCalculation
    from loyalty_plugins.domain.tiers import TierDecision, TierLadder
    from loyalty_plugins.hooks import BonusPoints, ReportSection

PROJECT_NAME = "loyalty_plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)

# --------------------------------------------------------------------------- set-up


@hookspec(historic=True)
def loyalty_configure(config: ProgramConfig) -> None:
    """Receive the program configuration once it is loaded.

    Historic: a plugin registered later still gets the call.
    """


@hookspec(historic=True)
def loyalty_addhooks(pluginmanager: pluggy.PluginManager) -> None:
    """Add new hook specifications (``pluginmanager.add_hookspecs(module)``)."""


# --------------------------------------------------------------------------- registries


@hookspec
def loyalty_register_adapters(register: Callable[[Any], None]) -> None:
    """Register store adapters (objects with a unique ``name``) by calling ``register``."""


@hookspec
def loyalty_register_stores(register: Callable[[Any], None]) -> None:
    """Register store connections (objects with a unique ``name``)."""


@hookspec
def loyalty_register_rule_kinds(register: Callable[[Any], None]) -> None:
    """Register extra earn-rule kinds (objects with a unique ``name``)."""


@hookspec
def loyalty_register_campaigns(register: Callable[[Any], None]) -> None:
    """Register campaigns (objects with a unique ``name``)."""


@hookspec
def loyalty_register_channels(register: Callable[[Any], None]) -> None:
    """Register message channels (objects with a unique ``name``)."""


@hookspec
def loyalty_register_commands(register: Callable[[Any], None]) -> None:
    """Register CLI sub-apps: ``register(typer_app)``; the app's ``info.name`` is the command."""


# --------------------------------------------------------------------------- decisions


@hookspec(firstresult=True)
def loyalty_calculate_order_points(
    order: OrderSnapshot, rule: EarnRule, member: Member | None, ctx: HookContext
) -> PointsCalculation | None:
    """Points an order earns (before bonus points). First non-None result wins."""


@hookspec(firstresult=True)
def loyalty_calculate_points_value(points: int, currency: str, ctx: HookContext) -> Money | None:
    """What ``points`` are worth in ``currency`` (for liability and display)."""


@hookspec(firstresult=True)
def loyalty_determine_tier(
    member: Member,
    qualifying: Decimal,
    ladder: TierLadder,
    after_refund: bool,
    ctx: HookContext,
) -> TierDecision | None:
    """Tier a member should hold given their qualifying spend or points."""


@hookspec(firstresult=True)
def loyalty_determine_points_expiry(
    member: Member, earned_at: datetime, points: int, ctx: HookContext
) -> datetime | bool | None:
    """When points earned at ``earned_at`` expire; return ``False`` for never."""


@hookspec(firstresult=True)
def loyalty_generate_coupon_code(reward: Reward, member: Member, ctx: HookContext) -> str | None:
    """A new coupon code (uniqueness is enforced by the database; a clash calls again)."""


@hookspec(firstresult=True)
def loyalty_resolve_member(customer: CustomerRef, ctx: HookContext) -> int | None:
    """Member id for a store customer, enrolling them if needed; None skips the order."""


@hookspec(firstresult=True)
def loyalty_determine_segment(member: Member, ctx: HookContext) -> str | None:
    """Segment name for a member (None: no segment)."""


# --------------------------------------------------------------------------- collections


@hookspec
def loyalty_collect_bonus_points(
    order: OrderSnapshot,
    member: Member,
    calculation: PointsCalculation,
    ctx: HookContext,
) -> list[BonusPoints]:
    """Extra points for an order (each recorded with its reason)."""
    return []


@hookspec
def loyalty_collect_report_sections(ctx: HookContext) -> list[ReportSection]:
    """Extra sections for reports."""
    return []


# --------------------------------------------------------------------------- vetoes


@hookspec
def loyalty_check_redemption(member: Member, reward: Reward, ctx: HookContext) -> Refusal | None:
    """Veto a redemption by returning a Refusal."""


@hookspec
def loyalty_check_coupon_use(
    coupon: IssuedCoupon, member: Member, ctx: HookContext
) -> Refusal | None:
    """Veto marking a coupon as used."""


@hookspec
def loyalty_check_message_send(member: Member, message: Any, ctx: HookContext) -> Refusal | None:
    """Veto sending a message (consent, frequency cap...)."""


# --------------------------------------------------------------------------- events


@hookspec
def loyalty_on_order_paid(event: LoyaltyEvent, ctx: HookContext) -> None:
    """An order was recorded as paid."""


@hookspec
def loyalty_on_order_refunded(event: LoyaltyEvent, ctx: HookContext) -> None:
    """A refund was recorded."""


@hookspec
def loyalty_on_points_earned(event: LoyaltyEvent, ctx: HookContext) -> None:
    """Points were awarded (pending until the return window ends)."""


@hookspec
def loyalty_on_points_redeemed(event: LoyaltyEvent, ctx: HookContext) -> None:
    """Points were spent on a reward."""


@hookspec
def loyalty_on_points_reversed(event: LoyaltyEvent, ctx: HookContext) -> None:
    """Points were taken back because of a refund."""


@hookspec
def loyalty_on_points_expired(event: LoyaltyEvent, ctx: HookContext) -> None:
    """Points expired."""


@hookspec
def loyalty_on_tier_changed(event: LoyaltyEvent, ctx: HookContext) -> None:
    """A member moved to another tier."""


@hookspec
def loyalty_on_coupon_issued(event: LoyaltyEvent, ctx: HookContext) -> None:
    """A coupon was issued to a member."""


@hookspec
def loyalty_on_coupon_redeemed(event: LoyaltyEvent, ctx: HookContext) -> None:
    """A coupon was used in the store."""


@hookspec
def loyalty_on_member_enrolled(event: LoyaltyEvent, ctx: HookContext) -> None:
    """A new member joined."""


@hookspec
def loyalty_on_member_redacted(event: LoyaltyEvent, ctx: HookContext) -> None:
    """A member's personal data was erased."""


@hookspec
def loyalty_on_event(event: LoyaltyEvent, ctx: HookContext) -> None:
    """Catch-all: called for every event after the specific hook."""


# --------------------------------------------------------------------------- sync jobs


@hookspec
def loyalty_before_sync(store: str, ctx: HookContext) -> None:
    """A sync run for ``store`` is about to start."""


@hookspec
def loyalty_after_sync(store: str, summary: Any, ctx: HookContext) -> None:
    """A sync run finished; ``summary`` holds its counts."""


@hookspec
def loyalty_on_sync_error(store: str, error: BaseException, ctx: HookContext) -> None:
    """A sync run failed with ``error``."""
