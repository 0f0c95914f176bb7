"""Default member resolution: by store customer id, then by e-mail; enrol if new."""

from __future__ import annotations

from loyalty_plugins.context import HookContext
from loyalty_plugins.domain.orders import CustomerRef
from loyalty_plugins.plugins import hookimpl


@hookimpl(trylast=True)
def loyalty_resolve_member(customer: CustomerRef, ctx: HookContext) -> int | None:
    """Find or enrol the member behind ``customer``."""
    if ctx.program is None:
        return None
    return ctx.program.ensure_member(customer)
