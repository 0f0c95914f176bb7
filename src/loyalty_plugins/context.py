"""The small frozen context handed to every hook, so hook signatures stay stable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from loyalty_plugins.clock import Clock

if TYPE_CHECKING:
    from loyalty_plugins.config import ProgramConfig
    from loyalty_plugins.program import LoyaltyProgram


@dataclass(frozen=True, slots=True)
class HookContext:
    """What a hook may look at: configuration, the clock and the program (read methods)."""

    config: ProgramConfig
    clock: Clock
    program: LoyaltyProgram | None = None


class Refusal(NamedTuple):
    """Returned by a ``loyalty_check_*`` hook to veto an operation."""

    code: str
    message: str
