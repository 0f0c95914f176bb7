"""Default coupon codes: 16 characters from an unambiguous alphabet (80 bits)."""

from __future__ import annotations

import secrets

from loyalty_plugins.context import HookContext
from loyalty_plugins.domain.members import Member
from loyalty_plugins.domain.rewards import Reward
from loyalty_plugins.plugins import hookimpl

#: Crockford-style base32 without I, L, O, U: nothing a shopper can misread.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: 16 symbols x 5 bits = 80 bits of entropy.
LENGTH = 16


def random_code(length: int = LENGTH) -> str:
    """A random code grouped in fours, e.g. ``7KQ4-M2ZD-...``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(length))
    return "-".join(raw[i : i + 4] for i in range(0, length, 4))


@hookimpl(trylast=True)
def loyalty_generate_coupon_code(reward: Reward, member: Member, ctx: HookContext) -> str:
    """A fresh random code."""
    return random_code()
