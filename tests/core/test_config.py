from decimal import Decimal
from pathlib import Path

import pytest

from loyalty_plugins.config import load_config
from loyalty_plugins.errors import ConfigError
from loyalty_plugins.starter import write_starter_config


def test_starter_config_loads_and_numbers_are_decimal(tmp_path: Path) -> None:
    path = tmp_path / "loyalty.toml"
    write_starter_config(path, currency="usd")
    config = load_config(path)
    assert config.currency == "USD"
    assert config.tier_ladder().tiers[0].earn_multiplier == Decimal("1.25")
    assert config.database == f"sqlite:///{tmp_path / 'loyalty.db'}"  # relative to the file


def test_fractional_toml_numbers_are_not_floats(tmp_path: Path) -> None:
    path = tmp_path / "loyalty.toml"
    path.write_text("[earn]\npoints_per_unit = 0.1\n")
    assert load_config(path).earn.points_per_unit == Decimal("0.1")


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('[program]\ncurrency = "ZZZ"\n', "currency"),
        ("[earn]\npoints_per_unit = -1\n", "earn.points_per_unit"),
        ('[program]\nclawback = "maybe"\n', "clawback"),
        ("[program]\nnot_a_key = 1\n", "not_a_key"),
        (
            '[[rewards]]\nkey = "x"\nname = "X"\ncost = 0\nkind = "percent"\nvalue = "5"\n',
            "rewards.0.cost",
        ),
    ],
)
def test_invalid_config_names_key_and_file(tmp_path: Path, body: str, key: str) -> None:
    path = tmp_path / "loyalty.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == key
    assert str(path) in str(info.value)


def test_unreadable_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[program\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)
