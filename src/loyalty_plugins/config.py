"""Program configuration: ``loyalty.toml`` parsed without floats and validated with pydantic.

Every validation failure becomes a :class:`ConfigError` naming the key and the file.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from loyalty_plugins.domain.money import normalize_currency
from loyalty_plugins.domain.rewards import CouponDefinition, Reward, RewardKind
from loyalty_plugins.domain.rules import EarnRule
from loyalty_plugins.domain.tiers import Tier, TierLadder
from loyalty_plugins.errors import ConfigError, LoyaltyError

ClawbackPolicy = Literal["negative", "forfeit", "deduct_next"]
NonNegDecimal = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]

DEFAULT_DATABASE_URL = "sqlite:///loyalty.db"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EarnSettings(_Model):
    """``[earn]``: how orders turn into points."""

    points_per_unit: NonNegDecimal = Decimal(1)
    rounding: Literal["down", "up", "half_up", "half_even"] = "down"
    minimum_order: NonNegDecimal = Decimal(0)
    category_multipliers: dict[str, NonNegDecimal] = Field(default_factory=dict)
    product_multipliers: dict[str, NonNegDecimal] = Field(default_factory=dict)
    excluded_products: list[str] = Field(default_factory=list)
    excluded_categories: list[str] = Field(default_factory=list)
    rule_id: str = "default"


class TierLevel(_Model):
    """One ``[[tiers.levels]]`` entry."""

    key: str
    name: str
    threshold: NonNegDecimal
    earn_multiplier: NonNegDecimal = Decimal(1)


class TierSettings(_Model):
    """``[tiers]``: the ladder and how members move on it."""

    basis: Literal["spend", "points"] = "spend"
    window_days: int = Field(365, gt=0)
    grace_days: int = Field(30, ge=0)
    refund_downgrade_immediate: bool = True
    levels: list[TierLevel] = Field(default_factory=list)


class RewardSettings(_Model):
    """One ``[[rewards]]`` entry of the catalogue."""

    key: str
    name: str
    cost: int = Field(gt=0)
    kind: RewardKind
    value: NonNegDecimal = Decimal(0)
    product_id: str | None = None
    minimum_order: NonNegDecimal = Decimal(0)
    valid_days: int = Field(90, gt=0)
    tier_required: str | None = None


class StoreSettings(_Model):
    """One ``[stores.<name>]`` table: where a store is (credentials live elsewhere)."""

    platform: Literal["woocommerce", "shopify"]
    url: str
    guest_policy: Literal["match_email", "skip"] = "match_email"
    api_version: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local test store)")
        return value.rstrip("/")


class ProgramConfig(_Model):
    """The whole program configuration."""

    currency: str = "EUR"
    database: str = DEFAULT_DATABASE_URL
    return_window_days: int = Field(14, ge=0)
    expiry_months: int = Field(12, ge=0, description="0 means points never expire")
    clawback: ClawbackPolicy = "negative"
    point_value: NonNegDecimal = Decimal("0.01")
    earn: EarnSettings = Field(default_factory=EarnSettings)
    tiers: TierSettings = Field(default_factory=TierSettings)
    rewards: list[RewardSettings] = Field(default_factory=list)
    stores: dict[str, StoreSettings] = Field(default_factory=dict)
    plugins: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        try:
            return normalize_currency(value)
        except LoyaltyError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _cross_checks(self) -> ProgramConfig:
        keys = [r.key for r in self.rewards]
        if len(keys) != len(set(keys)):
            raise ValueError("reward keys must be unique")
        tier_keys = {t.key for t in self.tiers.levels}
        for reward in self.rewards:
            if reward.tier_required and reward.tier_required not in tier_keys:
                raise ValueError(f"reward {reward.key}: unknown tier {reward.tier_required!r}")
        # Build the domain objects once so their own checks run at load time.
        try:
            self.earn_rule()
            self.tier_ladder()
            self.reward_catalogue()
        except LoyaltyError as exc:
            raise ValueError(str(exc)) from None
        return self

    def earn_rule(self) -> EarnRule:
        """The earn rule in force."""
        e = self.earn
        return EarnRule(
            points_per_unit=e.points_per_unit,
            currency=self.currency,
            rule_id=e.rule_id,
            category_multipliers=dict(e.category_multipliers),
            product_multipliers=dict(e.product_multipliers),
            excluded_products=frozenset(e.excluded_products),
            excluded_categories=frozenset(e.excluded_categories),
            minimum_order=e.minimum_order,
            rounding=e.rounding,
        )

    def tier_ladder(self) -> TierLadder:
        """The tier ladder in force (may be empty)."""
        t = self.tiers
        return TierLadder(
            tiers=tuple(Tier(lv.key, lv.name, lv.threshold, lv.earn_multiplier) for lv in t.levels),
            basis=t.basis,
            window_days=t.window_days,
            grace_days=t.grace_days,
            refund_downgrade_immediate=t.refund_downgrade_immediate,
        )

    def reward_catalogue(self) -> dict[str, Reward]:
        """Rewards by key."""
        catalogue: dict[str, Reward] = {}
        for r in self.rewards:
            coupon = CouponDefinition(
                kind=r.kind,
                value=r.value,
                currency=self.currency if r.kind is RewardKind.FIXED_AMOUNT else None,
                product_id=r.product_id,
                minimum_order=r.minimum_order,
                valid_days=r.valid_days,
            )
            catalogue[r.key] = Reward(r.key, r.name, r.cost, coupon, r.tier_required)
        return catalogue


def _describe(exc: PydanticValidationError, path: str | None) -> ConfigError:
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or None
    message = first["msg"]
    more = len(exc.errors()) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(message, key=key, path=path)


def config_from_mapping(data: dict[str, Any], path: str | None = None) -> ProgramConfig:
    """Validate a mapping (e.g. parsed TOML) into a :class:`ProgramConfig`."""
    program = data.get("program", {})
    if not isinstance(program, dict):
        raise ConfigError("must be a table", key="program", path=path)
    merged = {**program, **{k: v for k, v in data.items() if k != "program"}}
    try:
        return ProgramConfig.model_validate(merged)
    except PydanticValidationError as exc:
        raise _describe(exc, path) from None


def load_config(path: str | Path) -> ProgramConfig:
    """Read ``loyalty.toml``; numbers with a fraction are parsed as ``Decimal``, never float."""
    file = Path(path)
    try:
        with file.open("rb") as handle:
            data = tomllib.load(handle, parse_float=Decimal)
    except FileNotFoundError:
        raise ConfigError("file not found", path=str(file)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=str(file)) from None
    config = config_from_mapping(data, str(file))
    if config.database.startswith("sqlite:///") and not config.database.startswith("sqlite:////"):
        # A relative SQLite path is relative to the config file, not the cwd of cron.
        relative = config.database.removeprefix("sqlite:///")
        if relative and relative != ":memory:":
            absolute = (file.parent / relative).resolve()
            config = config.model_copy(update={"database": f"sqlite:///{absolute}"})
    return config
