"""Plugin manager factory: specs, built-in defaults, entry points and blocking.

Never built at import time: every program (and every test) asks for its own manager.

Environment:

* ``LOYALTY_DISABLE_PLUGINS`` -- comma-separated plugin names to block (a built-in
  default's name is its module path, an installed plugin's is its entry-point name);
  ``*`` blocks every entry-point plugin.
* ``LOYALTY_LOAD_PLUGINS`` -- comma-separated entry-point names; when set, only these
  installed plugins are loaded.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points

import pluggy

from loyalty_plugins import hookspecs
from loyalty_plugins.errors import PluginError

ENTRY_POINT_GROUP = "loyalty_plugins"

hookimpl = pluggy.HookimplMarker(hookspecs.PROJECT_NAME)

#: Built-in behaviour, each module a ``trylast`` plugin any installed plugin can override.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "loyalty_plugins.defaults.earning",
    "loyalty_plugins.defaults.points_value",
    "loyalty_plugins.defaults.tiers",
    "loyalty_plugins.defaults.expiry",
    "loyalty_plugins.defaults.coupon_codes",
    "loyalty_plugins.defaults.members",
    "loyalty_plugins.defaults.segments",
)


def _names(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def get_plugin_manager(
    *,
    load_entrypoints: bool = True,
    plugins: Iterable[object] = (),
    env: Mapping[str, str] | None = None,
) -> pluggy.PluginManager:
    """Build a plugin manager with specs, defaults, installed plugins and ``plugins``."""
    environ = os.environ if env is None else env
    disabled = set(_names(environ.get("LOYALTY_DISABLE_PLUGINS")))
    only = _names(environ.get("LOYALTY_LOAD_PLUGINS"))
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for name in disabled:
        pm.set_blocked(name)
    for module_name in DEFAULT_PLUGINS:
        if module_name in disabled:
            continue
        pm.register(importlib.import_module(module_name), name=module_name)
    if load_entrypoints and "*" not in disabled:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in disabled or (only and ep.name not in only):
                continue
            if pm.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must name itself
                raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
            pm.register(plugin, name=ep.name)
    for plugin in plugins:
        pm.register(plugin)
    pm.hook.loyalty_addhooks.call_historic(kwargs={"pluginmanager": pm})
    return pm


def describe_plugins(pm: pluggy.PluginManager) -> list[tuple[str, list[str]]]:
    """(plugin name, hooks it implements) for every registered plugin, sorted by name."""
    rows: list[tuple[str, list[str]]] = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        rows.append((name, hooks))
    return sorted(rows)
