"""Redeeming points for a reward coupon, and marking coupons used in the store."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from loyalty_plugins.clock import as_utc
from loyalty_plugins.domain.events import EventKind
from loyalty_plugins.domain.rewards import CouponStatus, IssuedCoupon, RewardKind
from loyalty_plugins.errors import (
    CouponNotApplicable,
    InsufficientPoints,
    NotFound,
    Refused,
    RewardNotFound,
)
from loyalty_plugins.ledger.accounts import AccountKind
from loyalty_plugins.ledger.posting import lock_for_posting, request_hash
from loyalty_plugins.services.runtime import Runtime, emit, load_member, start_posting
from loyalty_plugins.storage import tables as t
from loyalty_plugins.storage.database import inserted_id


def coupon_from_row(row: Any) -> IssuedCoupon:
    """Build an :class:`IssuedCoupon` from a ``coupons`` row."""
    from decimal import Decimal

    return IssuedCoupon(
        id=row.id,
        code=row.code,
        member_id=row.member_id,
        reward_key=row.reward_key,
        kind=RewardKind(row.kind),
        value=Decimal(row.value),
        currency=row.currency,
        issued_at=as_utc(row.issued_at),
        expires_at=as_utc(row.expires_at),
        status=CouponStatus(row.status),
        points_spent=row.points_spent,
    )


def redeem(
    rt: Runtime, member_id: int, reward_key: str, idempotency_key: str | None = None
) -> IssuedCoupon:
    """Spend points on ``reward_key`` and issue its coupon (all or nothing)."""
    reward = rt.catalogue.get(reward_key)
    if reward is None or not reward.active:
        raise RewardNotFound(reward_key)
    key = f"redeem:{idempotency_key or uuid.uuid4().hex}"
    digest = request_hash({"member": member_id, "reward": reward_key, "cost": reward.cost})

    def txn(conn: Connection) -> dict[str, Any]:
        locked = lock_for_posting(conn, member_id, key, digest)
        if locked.replay is not None:
            return locked.replay
        accounts, member = locked.accounts, locked.member
        if member.redacted:
            raise Refused("member_redacted", f"member {member_id} was erased")
        ladder = rt.ladder
        if reward.tier_required and ladder.rank(member.tier) < ladder.rank(reward.tier_required):
            raise Refused("tier_required", f"reward {reward.key} needs tier {reward.tier_required}")
        refusal = rt.hooks.check_redemption(member, reward)
        if refusal is not None:
            raise Refused(refusal.code, refusal.message)
        if accounts.spendable < reward.cost:
            raise InsufficientPoints(member_id, reward.cost, max(0, accounts.spendable))
        now = rt.now()
        posting = start_posting(
            rt,
            conn,
            accounts,
            key=key,
            digest=digest,
            kind="redemption",
            occurred_at=now,
            reason=f"reward {reward.key}",
        )
        taken = posting.consume_fifo(reward.cost, AccountKind.REDEEMED, "redeem")
        if taken != reward.cost:  # balances and lots disagree: refuse rather than guess
            raise InsufficientPoints(member_id, reward.cost, taken)
        code = rt.hooks.generate_coupon_code(reward, member)
        coupon = reward.coupon
        coupon_id = inserted_id(
            conn.execute(
                insert(t.coupons).values(
                    code=code,
                    member_id=member_id,
                    reward_key=reward.key,
                    kind=coupon.kind.value,
                    value=str(coupon.value),
                    currency=coupon.currency,
                    product_id=coupon.product_id,
                    minimum_order=str(coupon.minimum_order),
                    points_spent=reward.cost,
                    issued_at=now,
                    expires_at=now + timedelta(days=coupon.valid_days),
                    status=CouponStatus.ISSUED.value,
                    journal_id=posting.journal_id,
                )
            )
        )
        data = {"reward": reward.key, "points": reward.cost, "code": code}
        emit(rt, conn, EventKind.POINTS_REDEEMED, member_id, data)
        emit(rt, conn, EventKind.COUPON_ISSUED, member_id, data)
        return posting.finish({"member_id": member_id, "coupon_id": int(coupon_id)})

    result = rt.db.write(txn)
    with rt.db.read() as conn:
        row = conn.execute(select(t.coupons).where(t.coupons.c.id == result["coupon_id"])).one()
    return coupon_from_row(row)


def mark_coupon_redeemed(rt: Runtime, code: str, order_ref: str) -> IssuedCoupon:
    """Record that a coupon was used in the store (idempotent for the same order)."""

    def txn(conn: Connection) -> int:
        row = conn.execute(select(t.coupons).where(t.coupons.c.code == code)).first()
        if row is None:
            raise NotFound("coupon", code)
        if row.status == CouponStatus.REDEEMED.value:
            if row.redeemed_order == order_ref:
                return int(row.id)
            raise CouponNotApplicable(
                "already_used", f"coupon {code} was used by {row.redeemed_order}"
            )
        if row.status != CouponStatus.ISSUED.value:
            raise CouponNotApplicable(row.status, f"coupon {code} is {row.status}")
        coupon = coupon_from_row(row)
        refusal = rt.hooks.check_coupon_use(coupon, load_member(conn, coupon.member_id))
        if refusal is not None:
            raise CouponNotApplicable(refusal.code, refusal.message)
        conn.execute(
            update(t.coupons)
            .where(t.coupons.c.id == row.id)
            .values(
                status=CouponStatus.REDEEMED.value, redeemed_at=rt.now(), redeemed_order=order_ref
            )
        )
        emit(
            rt,
            conn,
            EventKind.COUPON_REDEEMED,
            coupon.member_id,
            {"code": code, "order": order_ref},
        )
        return int(row.id)

    coupon_id = rt.db.write(txn)
    with rt.db.read() as conn:
        return coupon_from_row(
            conn.execute(select(t.coupons).where(t.coupons.c.id == coupon_id)).one()
        )
