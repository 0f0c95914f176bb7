"""``docs/hooks.md`` stays true to ``hookspecs.py``, and the documentation site builds.

Every hook in the contract has a ``## loyalty_<name>`` section whose first code block holds
its exact signature, a ``**Call style:**`` line that agrees with the spec's options and a
``**Default:**`` line naming the built-in default plugin, if any. A section for a hook that
no longer exists fails too.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy
import pytest

from loyalty_plugins import hookspecs
from loyalty_plugins.domain.events import EventKind
from loyalty_plugins.plugins import DEFAULT_PLUGINS

ROOT = Path(__file__).resolve().parents[1]
HOOKS_MD = ROOT / "docs" / "hooks.md"

SPECS: dict[str, Callable[..., Any]] = {
    name: func
    for name, func in vars(hookspecs).items()
    if name.startswith("loyalty_") and inspect.isfunction(func)
}

#: Hooks the outbox dispatches after commit: ``loyalty_on_<kind>`` and the catch-all.
EVENT_HOOKS = {f"loyalty_on_{kind.value}" for kind in EventKind} | {"loyalty_on_event"}

CALL_STYLE = re.compile(r"^\*\*Call style:\*\*\s+`(?P<style>\w+)`")
DEFAULT_LINE = re.compile(r"^\*\*Default:\*\*\s+(?P<text>.+)")
HEADING = re.compile(r"^(?P<level>#{1,2})\s+(?P<title>.+?)\s*$")
FENCE = re.compile(r"^(`{3,}|~{3,})(?P<info>.*)$")


class _AsWritten:
    """An annotation string that renders without quotes, as it is written in the source."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _as_written(annotation: object) -> object:
    return _AsWritten(annotation) if isinstance(annotation, str) else annotation


def canonical_signature(func: Callable[..., Any]) -> str:
    """``def name(arg: Type, ...) -> Ret`` from ``inspect.signature``.

    ``hookspecs`` uses ``from __future__ import annotations``, so every annotation is a
    string; plain ``str(inspect.signature(func))`` would quote each one (``'Member'``).
    """
    signature = inspect.signature(func)
    signature = signature.replace(
        parameters=[
            p.replace(annotation=_as_written(p.annotation)) for p in signature.parameters.values()
        ],
        return_annotation=_as_written(signature.return_annotation),
    )
    return f"def {func.__name__}{signature}"


@dataclass
class Section:
    """One ``## loyalty_<name>`` section: prose lines and fenced code blocks."""

    name: str
    prose: list[str] = field(default_factory=list)
    blocks: list[tuple[str, list[str]]] = field(default_factory=list)


def parse_hook_sections(text: str) -> list[Section]:
    """Sections whose level-2 heading is a hook name, in order (headings in code ignored)."""
    sections: list[Section] = []
    current: Section | None = None
    block: list[str] | None = None
    fence = ""
    for line in text.splitlines():
        opening = FENCE.match(line)
        if block is not None:
            if opening and line.strip() == fence:
                block = None
            else:
                block.append(line)
            continue
        if opening:
            fence = opening.group(1)
            block = []
            if current is not None:
                current.blocks.append((opening.group("info").strip(), block))
            continue
        heading = HEADING.match(line)
        if heading:
            title = heading.group("title")
            is_hook = len(heading.group("level")) == 2 and title.startswith("loyalty_")
            current = Section(title) if is_hook else None
            if current is not None:
                sections.append(current)
            continue
        if current is not None:
            current.prose.append(line)
    return sections


@functools.cache
def documented() -> dict[str, Section]:
    return {section.name: section for section in parse_hook_sections(HOOKS_MD.read_text())}


def spec_options(name: str) -> dict[str, Any]:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    opts = pm.parse_hookspec_opts(hookspecs, name)
    assert opts is not None, f"{name} is not marked with @hookspec"
    return dict(opts)


def expected_styles(name: str) -> set[str]:
    """Call styles a section may state for ``name``, from its spec options and kind."""
    opts = spec_options(name)
    if opts.get("firstresult"):
        return {"firstresult"}
    if opts.get("historic"):
        return {"historic"}
    if name in EVENT_HOOKS:
        return {"event"}
    if name.startswith("loyalty_check_"):
        return {"veto"}
    return {"broadcast"}


@functools.cache
def default_plugins_by_hook() -> dict[str, list[str]]:
    """Hook name -> modules of ``DEFAULT_PLUGINS`` that implement it."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    found: dict[str, list[str]] = {}
    for module_name in DEFAULT_PLUGINS:
        module = importlib.import_module(module_name)
        for attr in dir(module):
            if attr.startswith("loyalty_") and pm.parse_hookimpl_opts(module, attr) is not None:
                found.setdefault(attr, []).append(module_name)
    return found


def section_for(name: str) -> Section:
    section = documented().get(name)
    if section is None:
        pytest.fail(f"docs/hooks.md has no '## {name}' section")
    return section


def test_the_contract_has_hooks() -> None:
    assert len(SPECS) > 20
    assert all(name.startswith("loyalty_") for name in SPECS)


def test_canonical_signature_keeps_annotations_as_written() -> None:
    def sample(member: Member | None, *, limit: int = 3) -> list[str]:  # noqa: F821
        return []

    assert canonical_signature(sample) == (
        "def sample(member: Member | None, *, limit: int = 3) -> list[str]"
    )


@pytest.mark.parametrize("name", sorted(SPECS))
def test_hook_is_documented_with_its_exact_signature(name: str) -> None:
    section = section_for(name)
    signature = canonical_signature(SPECS[name])
    assert section.blocks, f"'## {name}' has no code block"
    info, lines = section.blocks[0]
    assert info.split()[:1] == ["python"], f"'## {name}': the first code block is not python"
    assert signature in lines, (
        f"'## {name}': the first code block must contain the signature\n"
        f"    {signature}\nbut holds\n    " + "\n    ".join(lines)
    )


@pytest.mark.parametrize("name", sorted(SPECS))
def test_call_style_agrees_with_the_spec(name: str) -> None:
    styles = [m.group("style") for line in section_for(name).prose if (m := CALL_STYLE.match(line))]
    assert len(styles) == 1, f"'## {name}' needs exactly one '**Call style:** `...`' line"
    expected = expected_styles(name)
    assert styles[0] in expected, (
        f"'## {name}' says `{styles[0]}`; the spec ({spec_options(name)}) means "
        + " or ".join(f"`{s}`" for s in sorted(expected))
    )


@pytest.mark.parametrize("name", sorted(SPECS))
def test_default_is_named(name: str) -> None:
    defaults = [
        m.group("text") for line in section_for(name).prose if (m := DEFAULT_LINE.match(line))
    ]
    assert len(defaults) == 1, f"'## {name}' needs exactly one '**Default:**' line"
    modules = default_plugins_by_hook().get(name, [])
    if not modules:
        assert defaults[0].startswith("none"), f"'## {name}' has no built-in default"
    for module in modules:
        assert f"`{module}`" in defaults[0], f"'## {name}': the default is `{module}`"


def test_no_section_documents_a_hook_that_does_not_exist() -> None:
    unknown = sorted(set(documented()) - set(SPECS))
    assert not unknown, f"docs/hooks.md documents hooks missing from hookspecs.py: {unknown}"


def test_each_hook_is_documented_once() -> None:
    names = [section.name for section in parse_hook_sections(HOOKS_MD.read_text())]
    repeated = sorted({name for name in names if names.count(name) > 1})
    assert not repeated, f"docs/hooks.md documents these hooks twice: {repeated}"


def test_every_default_plugin_implements_a_documented_hook() -> None:
    assert set(default_plugins_by_hook()) <= set(SPECS)
    implemented = {m for modules in default_plugins_by_hook().values() for m in modules}
    assert implemented == set(DEFAULT_PLUGINS)


def test_documentation_site_builds_strictly(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).with_name("mkdocs")
    if not mkdocs.exists():
        pytest.skip(f"mkdocs is not installed next to {sys.executable}")
    result = subprocess.run(
        [
            str(mkdocs),
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}{result.stderr}"
    assert (tmp_path / "site" / "hooks" / "index.html").exists()
