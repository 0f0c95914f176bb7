"""Store credentials: ``credentials.toml`` next to ``loyalty.toml``, or the environment.

``loyalty.toml`` says *where* a store is; the secrets that let us talk to it live apart,
in a file only its owner can read::

    # credentials.toml (mode 0600)
    [stores.main]
    consumer_key = "ck_..."
    consumer_secret = "cs_..."
    webhook_secret = "..."

Every field can also come from the environment, which wins over the file:
``LOYALTY_STORE_<NAME>_CONSUMER_KEY``, ``..._CONSUMER_SECRET`` and ``..._WEBHOOK_SECRET``,
where ``<NAME>`` is the store name upper-cased with every character other than ``A-Z`` and
``0-9`` replaced by ``_`` (store ``eu-shop`` -> ``LOYALTY_STORE_EU_SHOP_CONSUMER_KEY``).

The file is created with mode ``0600`` and rewritten atomically (temporary file in the
same folder, then rename). A file that the group or others may read is refused with a
:class:`~loyalty_plugins.errors.ConfigError` telling how to fix it. Nothing here prints,
logs or ``repr``-s a secret.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loyalty_plugins.errors import ConfigError

__all__ = [
    "CREDENTIALS_FILE",
    "FIELDS",
    "StoreCredentials",
    "credentials_path",
    "env_var",
    "load_store_credentials",
    "save_store_credentials",
    "toml_key",
    "toml_string",
]

#: File name of the credentials file, in the folder of ``loyalty.toml``.
CREDENTIALS_FILE = "credentials.toml"
#: The fields a store may have, in file order.
FIELDS: tuple[str, ...] = ("consumer_key", "consumer_secret", "webhook_secret")
#: Permission bits that must be clear on the credentials file (group and others).
_INSECURE_BITS = stat.S_IRWXG | stat.S_IRWXO
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class StoreCredentials:
    """The secrets of one store; ``repr``/``str`` say which are set, never what they are.

    ``sources`` maps each field that is set to where it came from (``"file"`` or
    ``"env"``); it is informational and not a secret.
    """

    consumer_key: str = field(default="", repr=False)
    consumer_secret: str = field(default="", repr=False)
    webhook_secret: str = field(default="", repr=False)
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={'<set>' if getattr(self, name) else '<missing>'}" for name in FIELDS
        )
        return f"StoreCredentials({shown})"

    __str__ = __repr__

    def missing(self, *names: str) -> list[str]:
        """The fields among ``names`` (default: key and secret) that are empty."""
        wanted = names or ("consumer_key", "consumer_secret")
        return [name for name in wanted if not getattr(self, name)]

    def as_mapping(self) -> dict[str, str]:
        """The non-empty fields (for writing the file; do not print it)."""
        return {name: getattr(self, name) for name in FIELDS if getattr(self, name)}


def credentials_path(config_path: str | Path) -> Path:
    """``credentials.toml`` in the folder of ``config_path``."""
    return Path(config_path).parent / CREDENTIALS_FILE


def env_var(store: str, name: str) -> str:
    """The environment variable that overrides field ``name`` of ``store``."""
    slug = re.sub(r"[^A-Z0-9]", "_", store.upper())
    return f"LOYALTY_STORE_{slug}_{name.upper()}"


# ----------------------------------------------------------------------------- reading


def _check_private(path: Path, mode: int) -> None:
    if os.name != "posix":  # pragma: no cover - permission bits mean nothing there
        return
    if mode & _INSECURE_BITS:
        raise ConfigError(
            f"holds store secrets but is accessible by group or others "
            f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}",
            path=str(path),
        )


def _read_file(path: Path) -> dict[str, Any]:
    """The parsed file ({} when absent); refuses a file others may read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from None
    with os.fdopen(fd, "rb") as handle:
        _check_private(path, os.fstat(handle.fileno()).st_mode)
        try:
            data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            # The message names a line and column, never the text of a value.
            raise ConfigError(f"invalid TOML: {exc}", path=str(path)) from None
    stores = data.get("stores", {})
    if not isinstance(stores, dict):
        raise ConfigError("must be a table", key="stores", path=str(path))
    for name, table in stores.items():
        if not isinstance(table, dict):
            raise ConfigError("must be a table", key=f"stores.{name}", path=str(path))
        for key, value in table.items():
            if key not in FIELDS:
                raise ConfigError(
                    f"unknown field (expected one of {', '.join(FIELDS)})",
                    key=f"stores.{name}.{key}",
                    path=str(path),
                )
            if not isinstance(value, str):
                raise ConfigError("must be a string", key=f"stores.{name}.{key}", path=str(path))
    return data


def load_store_credentials(
    config_path: str | Path, name: str, *, environ: Mapping[str, str] | None = None
) -> StoreCredentials:
    """The credentials of store ``name``: ``credentials.toml``, overridden by the environment.

    Missing fields are empty strings (see :meth:`StoreCredentials.missing`). Raises
    :class:`ConfigError` when the file is unreadable, invalid, or readable by others.
    """
    env = os.environ if environ is None else environ
    table = _read_file(credentials_path(config_path)).get("stores", {}).get(name, {})
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for key in FIELDS:
        from_env = env.get(env_var(name, key), "")
        if from_env:
            values[key], sources[key] = from_env, "env"
        elif table.get(key):
            values[key], sources[key] = table[key], "file"
    return StoreCredentials(**values, sources=sources)


# ----------------------------------------------------------------------------- writing


def toml_key(key: str) -> str:
    """``key`` as a TOML key: bare when it can be, else a quoted string."""
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string (quotes, backslashes and controls escaped)."""
    out = ['"']
    for char in value:
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _toml_value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v, where) for v in value) + "]"
    raise ConfigError(f"cannot write a value of type {type(value).__name__}", key=where)


def _toml_document(data: Mapping[str, Any]) -> str:
    """TOML for nested tables of strings, integers, booleans and lists of those."""
    lines: list[str] = [
        "# Store credentials for loyalty_plugins. Keep this file private (chmod 600).",
        "# Each value can be overridden by LOYALTY_STORE_<NAME>_<FIELD> in the environment.",
    ]

    def emit(table: Mapping[str, Any], prefix: list[str]) -> None:
        scalars = [(k, v) for k, v in table.items() if not isinstance(v, Mapping)]
        tables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
        if prefix and (scalars or not tables):
            lines.append("")
            lines.append("[" + ".".join(toml_key(p) for p in prefix) + "]")
        for key, value in scalars:
            where = ".".join([*prefix, key])
            lines.append(f"{toml_key(key)} = {_toml_value(value, where)}")
        for key, value in tables:
            emit(value, [*prefix, key])

    emit(data, [])
    return "\n".join(lines) + "\n"


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if os.name == "posix":
                os.fchmod(handle.fileno(), 0o600)  # whatever the umask did
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def save_store_credentials(config_path: str | Path, name: str, creds: StoreCredentials) -> Path:
    """Store ``creds`` as ``[stores.<name>]`` in ``credentials.toml`` (mode 0600, atomic).

    Other stores in the file are kept; the table of ``name`` is replaced by the non-empty
    fields of ``creds``. Returns the file's path. Raises :class:`ConfigError` if the
    existing file is invalid or readable by others.
    """
    path = credentials_path(config_path)
    data = _read_file(path)
    stores = dict(data.get("stores", {}))
    stores[name] = creds.as_mapping()
    data = {**data, "stores": stores}
    try:
        _write_private(path, _toml_document(data))
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror}", path=str(path)) from None
    return path
