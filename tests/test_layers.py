"""The package's dependencies run one way: each part imports only the parts below it.

Every import in the package is read from its source: at module level, inside functions (lazy imports)
and under `TYPE_CHECKING` alike, plus `importlib.import_module("...")` of a literal name. Each is
checked against `ALLOWED`; the few exceptions are listed in `EXCEPTIONS`, each with its reason.
docs/concepts/architecture.md states the same rules.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

PKG = "cascadeflow_integrations"
ROOT = Path(__file__).resolve().parents[1] / PKG

#: part -> the modules in it, relative to the package (a name covers its submodules; the longest wins)
PARTS: dict[str, tuple[str, ...]] = {
    # data types, errors, shared checks and plumbing: everything may use them, they use nothing above
    "foundation": ("types", "errors", "messages", "result", "_checks", "_log", "_sync", "_imports", "_trace",
                   "tools"),
    "models": ("models",),  # members, configs, prices, providers
    "quality": ("quality",),  # the checks only
    "routing": ("routing", "cache_cost"),
    "stores": ("stores",),  # decision log, policy and budget stores
    "cascade": ("cascade.engine", "cascade.hooks", "cascade.streaming"),  # one run, its events and hooks
    "production": ("budget", "otel"),  # run hooks over the cascade's contract
    "learning": ("learning",),
    "composition": ("cascade", "cascade.agent", "cascade.spec"),  # the agent and the options: wires it all
    "langchain": ("langchain",),
    "llama_index": ("llama_index",),
    "replay": ("replay",),
    "top": ("", "cli", "demo"),  # the package itself, the command line, the demo
}

_CORE = frozenset({"foundation", "models", "quality", "routing", "stores", "cascade", "production", "learning",
                   "composition"})

#: part -> the parts it may import (its own included)
ALLOWED: dict[str, frozenset[str]] = {
    "foundation": frozenset({"foundation"}),
    "models": frozenset({"foundation", "models"}),
    "quality": frozenset({"foundation", "quality"}),
    "routing": frozenset({"foundation", "models", "routing"}),
    "stores": frozenset({"foundation", "stores"}),
    "cascade": frozenset({"foundation", "models", "quality", "cascade"}),
    "production": frozenset({"foundation", "models", "stores", "cascade", "production"}),
    "learning": frozenset({"foundation", "models", "quality", "routing", "stores", "cascade", "learning"}),
    "composition": _CORE,
    "langchain": _CORE | {"langchain"},  # the adapters depend on the core, never on each other
    "llama_index": _CORE | {"llama_index"},
    "replay": frozenset({"foundation", "replay"}),
    "top": _CORE | {"langchain", "llama_index", "replay", "top"},
}

#: inside a part: (modules, modules they must not import)
INSIDE: list[tuple[str, tuple[str, ...]]] = [
    ("models.prices", ("models.config", "models.providers", "models.members")),
    ("models.config", ("models.providers", "models.members")),
    ("models.providers", ("models.members",)),  # members call providers, never the reverse
    ("cascade.hooks", ("cascade.engine",)),  # the engine runs the hooks and emits the events
    ("cascade.streaming", ("cascade.engine",)),
]

#: old import paths kept for one release -> the module each now is; an old path imports only its new
#: home, and nothing in the package imports an old path
ALIASES: dict[str, str] = {
    "agent": "cascade.agent", "engine": "cascade.engine", "spec": "cascade.spec", "hooks": "cascade.hooks",
    "streaming": "cascade.streaming", "members": "models.members", "config": "models.config",
    "prices": "models.prices", "providers": "models.providers", "quality.calibrate": "learning.calibrate",
    "quality.routellm": "learning.routellm",
    **{f"providers.{p.stem}": f"models.providers.{p.stem}"
       for p in (ROOT / "providers").glob("*.py") if p.stem != "__init__"},
}

#: (importer, imported): why this import may go the wrong way
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("_trace", ""): "tracer() reads the package's `__version__` (a constant) once a tracer provider is set, "
                    "when the package is long imported",
    ("quality", "learning.calibrate"): "the old public names `quality.calibrate` and `quality.CalibrationResult` "
                                       "(moved to learning/), re-exported on first use for one release",
}


def package_sources(root: Path = ROOT) -> dict[str, tuple[str, bool]]:
    """Module name (relative to the package, "" for the package) -> (source, is a package)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_pkg else parts)
        out[name] = (path.read_text(encoding="utf-8"), is_pkg)
    return out


def _absolute(name: str) -> str | None:
    """A module name relative to the package, or None when it is outside it."""
    if name == PKG:
        return ""
    return name[len(PKG) + 1:] if name.startswith(PKG + ".") else None


def imports_of(module: str, source: str, is_pkg: bool, known: set[str]) -> Iterator[tuple[str, int, bool]]:
    """(imported module relative to the package, line, inside a function) for each import of the package."""
    package = module.split(".") if is_pkg else module.split(".")[:-1]
    package = [p for p in package if p]

    def target(base: str, names: list[str]) -> Iterator[str]:
        for n in names:  # `from x import y` imports the submodule x.y when there is one
            sub = f"{base}.{n}" if base else n
            yield sub if sub in known else base

    def walk(node: ast.AST, lazy: bool) -> Iterator[tuple[str, int, bool]]:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if (rel := _absolute(alias.name)) is not None:
                        yield rel, child.lineno, lazy
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    up = package[:len(package) - child.level + 1] if child.level > 1 else package
                    base = ".".join(up + ([child.module] if child.module else []))
                else:
                    rel = _absolute(child.module or "")
                    if rel is None:
                        continue
                    base = rel
                for t in dict.fromkeys(target(base, [a.name for a in child.names])):
                    yield t, child.lineno, lazy
            elif (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
                  and child.func.attr == "import_module" and child.args
                  and isinstance(child.args[0], ast.Constant) and isinstance(child.args[0].value, str)):
                if (rel := _absolute(child.args[0].value)) is not None:
                    yield rel, child.lineno, True
            yield from walk(child, inner)

    yield from walk(ast.parse(source), False)


def part_of(module: str) -> str | None:
    best: tuple[int, str] | None = None
    for part, prefixes in PARTS.items():
        for p in prefixes:
            if module == p or (p and module.startswith(p + ".")):
                if best is None or len(p) > best[0]:
                    best = (len(p), part)
    return best[1] if best else None


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violations(sources: Mapping[str, tuple[str, bool]], exceptions: Mapping[tuple[str, str], str] = EXCEPTIONS,
               used: set[tuple[str, str]] | None = None) -> list[str]:
    """Every import against the rules, one line per wrong-way import."""
    known = set(sources)
    found = []
    for module, (source, is_pkg) in sorted(sources.items()):
        where = module or PKG
        if module in ALIASES:
            home = ALIASES[module]
            for t, line, _ in imports_of(module, source, is_pkg, known):
                if not (t and _within(home, t)):  # its new home, or a package on the way to it
                    found.append(f"{where}:{line}: old path {module!r} imports {t!r}, not only its new home {home!r}")
            continue
        part = part_of(module)
        if part is None:
            found.append(f"{where}: in no part of the layering: add it to PARTS in tests/test_layers.py")
            continue
        for t, line, lazy in imports_of(module, source, is_pkg, known):
            how = " (inside a function)" if lazy else ""
            if t in ALIASES or _within(t, "providers"):
                found.append(f"{where}:{line}: imports the old path {t!r}{how}: import {ALIASES.get(t, t)!r}")
                continue
            if (module, t) in exceptions:
                if used is not None:
                    used.add((module, t))
                continue
            to = part_of(t)
            if to is not None and to not in ALLOWED[part]:
                found.append(f"{where}:{line}: {part} imports {to} ({t or PKG}){how}: "
                             f"{part} may import only {', '.join(sorted(ALLOWED[part]))}")
            for inside, banned in INSIDE:
                if _within(module, inside) and any(_within(t, b) for b in banned):
                    found.append(f"{where}:{line}: {inside} must not import {t}{how}")
    return found


def test_the_dependencies_run_one_way() -> None:
    assert violations(package_sources()) == []


def test_each_exception_is_still_needed() -> None:
    used: set[tuple[str, str]] = set()
    violations(package_sources(), used=used)
    assert set(EXCEPTIONS) == used, f"no longer needed: {sorted(set(EXCEPTIONS) - used)}"


def test_every_part_names_modules_that_exist() -> None:
    modules = set(package_sources())
    for part, prefixes in PARTS.items():
        for p in prefixes:
            assert any(_within(m, p) for m in modules) or p == "", f"{part}: no module {p!r}"
    for old, new in ALIASES.items():
        assert old in modules and new in modules, (old, new)


def _with(extra: dict[str, str]) -> dict[str, tuple[str, bool]]:
    sources = dict(package_sources())
    for name, src in extra.items():
        sources[name] = (src, False)
    return sources


@pytest.mark.parametrize(("module", "source", "expected"), [
    # the three named in the issue, each as it was
    ("quality.bad", "def own():\n    from ..models.members import resolve_member\n",
     "quality imports models (models.members) (inside a function)"),
    ("stores.bad", "from ..budget import ReserveResult\n", "stores imports production (budget)"),
    ("routing", "from .quality.base import COMPLEXITIES\n", "routing imports quality (quality.base)"),
    # the engine never knows the budget, tracing, learning, stores or the adapters
    ("cascade.engine", "from ..otel import TraceHook\n", "cascade imports production (otel)"),
    ("cascade.engine", "def f():\n    from ..learning.live import Learner\n", "cascade imports learning"),
    ("cascade.engine", "import cascadeflow_integrations.langchain\n", "cascade imports langchain"),
    ("cascade.engine", "from ..stores import MemoryStore\n", "cascade imports stores"),
    # the core never imports an adapter, and the adapters not each other
    ("learning.bad", "from ..llama_index import CascadeLLM\n", "learning imports llama_index"),
    ("langchain.bad", "from ..llama_index.llm import CascadeLLM\n", "langchain imports llama_index"),
    # under TYPE_CHECKING, and by importlib with a literal name
    ("types", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .cascade.engine import CascadeRun\n",
     "foundation imports cascade"),
    ("stores.bad", "import importlib\nimportlib.import_module('cascadeflow_integrations.learning.fit')\n",
     "stores imports learning"),
    # inside a part, and old paths
    ("models.providers.bad", "from ..members import SDKMember\n", "models.providers must not import models.members"),
    ("learning.bad", "from ..members import Member\n", "imports the old path 'members'"),
    ("learning.bad", "from ..providers.openai import OpenAIProvider\n", "imports the old path 'providers.openai'"),
    ("newpart", "X = 1\n", "in no part of the layering"),
])
def test_a_wrong_way_import_is_caught(module: str, source: str, expected: str) -> None:
    found = violations(_with({module: source}))
    assert any(expected in f for f in found), found


def test_an_exception_covers_only_its_own_pair() -> None:
    # the package's own `__version__` read is allowed from _trace, not from quality
    found = violations(_with({"quality.bad": "def v():\n    from .. import __version__\n"}))
    assert any("quality imports top" in f for f in found), found


# ---- the seams that replaced wrong-way imports keep behaviour -------------------------------------

_OWN_MODEL = """
from cascadeflow_integrations.quality.judge import JudgeValidator
from cascadeflow_integrations.quality.selfcheck import SelfCheck
from cascadeflow_integrations.models.config import ModelConfig
cfg = ModelConfig(name="judge-model", provider="openai", api_key="test-not-a-key")
print(type(JudgeValidator(model=cfg)._member).__name__, type(SelfCheck(model=cfg)._own.member).__name__)
try:
    JudgeValidator(model=42)
except ValueError as e:
    print(e)
"""


def test_a_check_resolves_its_own_model_through_the_resolver_the_package_installs() -> None:
    # a fresh interpreter importing only quality modules: importing the package installs the resolver
    done = subprocess.run([sys.executable, "-c", _OWN_MODEL], capture_output=True, text=True, timeout=120,
                          cwd=ROOT.parent)
    assert done.returncode == 0, done.stderr
    first, error = done.stdout.splitlines()
    assert first == "SDKMember SDKMember"
    assert error.startswith("JudgeValidator model is a int: pass ModelConfig(name=..., provider=...)")
