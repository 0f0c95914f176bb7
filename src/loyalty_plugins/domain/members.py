"""Members of the program and their references in stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class ExternalRef:
    """The id a member has in one store of one platform."""

    platform: str
    store: str
    external_id: str


@dataclass(frozen=True, slots=True)
class Member:
    """A program member as stored (read-only view)."""

    id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    enrolled_at: datetime
    tier: str | None = None
    tier_since: datetime | None = None
    tier_below_since: datetime | None = None
    birthday: date | None = None
    redacted: bool = False

    @property
    def display_name(self) -> str:
        """Name for listings, never empty."""
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or self.email or f"member {self.id}"
