"""Importing LanceDB in about half the time.

``import lancedb`` spends most of its time on checks that matter to LanceDB's developers, not to
Deskmate, and :func:`import_lancedb` skips them while it imports LanceDB:

* It imports the client of LanceDB's REST namespace server, which Deskmate never uses (its packs
  are local folders): about 250 pydantic models and 370 ``validate_call`` functions, whose
  validators pydantic builds at import. With pydantic's ``defer_build`` as the default, each is
  built the first time it is used instead (here: never). A deferred model or function validates
  exactly as it would have, once built. Any other pydantic model created meanwhile (by another
  thread) is deferred the same way.
* On Python 3.11 LanceDB marks its methods with the ``overrides`` package's ``@override``, which
  disassembles each class body to check that the method exists in a base class. On 3.12 and
  later LanceDB uses ``typing.override`` instead, which only marks the method: so does Deskmate.

* Its REST namespace client's package (``lance_namespace_urllib3_client``) imports, in its
  ``__init__``, the 14 modules of API calls (about a fifth of LanceDB's import) besides the
  models that LanceDB does use. The package is entered without running its ``__init__``: its
  submodules import as usual, and the first use of anything else the ``__init__`` defines
  (``ApiClient``, say) runs it then (:func:`_lazy_package`).
* Its models package (``lance_namespace_urllib3_client.models``, 148 pydantic models: creating
  the classes took 0.17 s of CPU even with validators deferred) is entered the same way, and
  each model is imported from its own module the first time it is asked for
  (:func:`_lazy_reexports`); ``lance_namespace``, which re-exports them all and names them in
  its method annotations, runs with its annotations kept as text (what
  ``from __future__ import annotations`` does) and its re-exports looked up on first use
  (:func:`_lazy_namespace`). LanceDB itself asks for 8 of them.

When a library's internals are not the ones this relies on (a pinned version changed), LanceDB
is imported plainly, just slower; ``tests/gui/test_startup.py`` says so by failing.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

# Packages whose __init__ imports much that Deskmate never uses (see _lazy_package).
LAZY_PACKAGES = ("lance_namespace_urllib3_client",)
# A package whose __init__ only re-exports its submodules' names (see _lazy_reexports), and the
# package that re-exports them all in turn (see _lazy_namespace).
LAZY_MODELS = "lance_namespace_urllib3_client.models"
REEXPORTER = "lance_namespace"
# The packages whose native libraries are the largest reads of start-up (LanceDB's is 185 MB).
NATIVE_PACKAGES = ("lancedb", "onnxruntime", "llama_cpp")

_lock = threading.Lock()


def import_lancedb() -> ModuleType:
    """``lancedb``, imported without its import-time checks (see the module doc)."""
    already = sys.modules.get("lancedb")
    if already is not None:
        return already
    with _lock, _deferred_pydantic(), _marking_overrides():
        for name in LAZY_PACKAGES:
            _lazy_package(name)
        if _lazy_reexports(LAZY_MODELS):
            _lazy_namespace(REEXPORTER, LAZY_MODELS)
        return importlib.import_module("lancedb")


def _lazy_package(name: str) -> None:
    """Put package *name* in ``sys.modules`` without running its ``__init__``: its submodules
    import as usual (its ``__path__`` is set), and the first attribute asked of the package
    that no submodule import has set runs the ``__init__`` (once, whichever thread asks)."""
    if name in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return
    module = importlib.util.module_from_spec(spec)
    loader, done = spec.loader, threading.RLock()

    def complete(attribute: str) -> Any:
        with done:
            if "__getattr__" in module.__dict__:  # the first time: run the __init__ now
                del module.__dict__["__getattr__"]
                loader.exec_module(module)
        try:
            return module.__dict__[attribute]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}") from None

    module.__dict__["__getattr__"] = complete
    sys.modules[name] = module


def _reexports(tree: ast.Module, package: str) -> dict[str, tuple[str, str]] | None:
    """``{name: (module, attribute)}`` for an ``__init__`` made only of a docstring and
    ``from PACKAGE.sub import Name`` statements; None for any other."""
    found: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
        if not (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").startswith(package + ".")
        ):
            return None
        for alias in node.names:
            found[alias.asname or alias.name] = (str(node.module), alias.name)
    return found


def _lazy_reexports(name: str) -> bool:
    """Put package *name*, whose ``__init__`` only re-exports names from its submodules, in
    ``sys.modules`` with each name imported from its submodule the first time it is asked for
    (with pydantic's validators deferred, as in :func:`import_lancedb`). False, and nothing
    done, when its ``__init__`` does anything else or the package is not there."""
    if name in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(name)
        source = spec.loader.get_source(name) if spec and spec.loader else None  # type: ignore[attr-defined]
        where = _reexports(ast.parse(source or ""), name) if source else None
    except (ImportError, ValueError, AttributeError, SyntaxError):
        return False
    if not where or spec is None or not spec.submodule_search_locations:
        return False
    module = importlib.util.module_from_spec(spec)

    def resolve(attribute: str) -> Any:
        if attribute not in where:
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
        submodule, original = where[attribute]
        with _deferred_pydantic():
            value = getattr(importlib.import_module(submodule), original)
        module.__dict__[attribute] = value  # asked for once
        return value

    module.__dict__["__getattr__"] = resolve
    module.__dict__["__all__"] = list(where)
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent in sys.modules:
        sys.modules[parent].__dict__[child] = module
    return True


def _lazy_namespace(name: str, models: str) -> bool:
    """Run package *name*'s ``__init__`` without importing every name of *models* it
    re-exports: its annotations are kept as text, and each re-exported name (and an alias
    ``A = B`` of one) is looked up in *models* the first time it is asked of the package.
    False, and *name* left to import as usual, when its ``__init__`` uses them otherwise."""
    if name in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(name)
        source = spec.loader.get_source(name) if spec and spec.loader else None  # type: ignore[attr-defined]
        tree = ast.parse(source or "")
    except (ImportError, ValueError, AttributeError, SyntaxError):
        return False
    if spec is None or not source:
        return False
    lazy: dict[str, str] = {}
    body: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == models and node.level == 0:
            lazy.update({a.asname or a.name: a.name for a in node.names})
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Name)
            and node.value.id in lazy
        ):
            lazy[node.targets[0].id] = lazy[node.value.id]
        else:
            body.append(node)
    if not lazy:
        return False
    tree.body = body
    import __future__

    flags = __future__.annotations.compiler_flag
    code = compile(tree, str(spec.origin), "exec", flags=flags, dont_inherit=True)
    module = importlib.util.module_from_spec(spec)

    def resolve(attribute: str) -> Any:
        if attribute not in lazy:
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
        value = getattr(sys.modules[models], lazy[attribute])
        module.__dict__[attribute] = value
        return value

    module.__dict__["__getattr__"] = resolve
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)  # the package's own code, its annotations as text
    except Exception:  # it needs the names at import after all: import it as usual
        del sys.modules[name]
        return False
    return True


@contextmanager
def _deferred_pydantic() -> Iterator[None]:
    """pydantic models and ``validate_call`` functions build their validators on first use."""
    try:
        config: Any = importlib.import_module("pydantic._internal._config")
    except ImportError:
        yield
        return
    defaults = getattr(config, "config_defaults", None)
    if not (isinstance(defaults, dict) and defaults.get("defer_build") is False):
        yield
        return
    defaults["defer_build"] = True
    try:
        yield
    finally:
        defaults["defer_build"] = False


def _mark_override(method: Any, *_: Any) -> Any:
    """What ``typing.override`` does (Python 3.12), for ``overrides._overrides``."""
    method.__override__ = True
    return method


@contextmanager
def _marking_overrides() -> Iterator[None]:
    """The ``overrides`` package's ``@override`` marks the method and checks nothing."""
    try:
        module: Any = importlib.import_module("overrides.overrides")
    except ImportError:
        yield
        return
    checking = getattr(module, "_overrides", None)
    if not callable(checking):
        yield
        return
    module._overrides = _mark_override
    try:
        yield
    finally:
        module._overrides = checking


def quick_pyside_module_check() -> bool:
    """Make PySide6's check of every module imported after it cheap; True if it was replaced.

    Once PySide6 is imported, each module imported afterwards is asked whether its source
    names PySide6 (for ``from __feature__ import ...``, which Deskmate does not use): through
    ``inspect.getsource``, which looks for the file, reads it, splits it into lines and keeps
    every line in ``linecache`` for good. For the ~400 modules the window imports after Qt
    (LanceDB, pyarrow, onnxruntime, Deskmate's own) that was about 0.3 s of CPU before the first
    search result. :func:`_names_pyside` gives the same answer from one read of the file.
    Nothing happens before PySide6 is imported or if its internals are not the expected ones.
    """
    feature = sys.modules.get("shibokensupport.feature")
    checking = getattr(feature, "_mod_uses_pyside", None)
    if feature is None or not callable(checking) or getattr(checking, "quick", False):
        return False

    def names_pyside(module: ModuleType) -> bool:
        return _names_pyside(module, checking)

    names_pyside.quick = True  # type: ignore[attr-defined]
    feature._mod_uses_pyside = names_pyside  # type: ignore[attr-defined]
    return True


def _names_pyside(module: ModuleType, checking: Any) -> bool:
    """True if *module*'s source file names PySide6; *checking* (PySide6's own check) answers
    for a module that is not a plain ``.py`` file."""
    file = getattr(module, "__file__", None)
    if not isinstance(file, str) or not file.endswith(".py"):
        return bool(checking(module))
    try:
        with open(file, "rb") as source:
            return b"PySide6" in source.read()
    except OSError:  # what inspect.getsource raises for a missing file: PySide6 says False
        return False


def prefetch_libraries(packages: tuple[str, ...] = NATIVE_PACKAGES) -> list[Path]:
    """Ask the kernel to start reading the native libraries of *packages* into the file cache,
    and return them; nothing is imported, and this returns at once (``posix_fadvise``).

    On a warm disk this costs a few system calls; on a cold one the reads overlap whatever the
    process does next (importing Qt, building the window) instead of following it.
    """
    found: list[Path] = []
    advise = getattr(os, "posix_fadvise", None)
    for name in packages:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        for folder in (spec.submodule_search_locations or []) if spec else []:
            found += sorted(Path(folder).glob("*.so")) + sorted(Path(folder).glob("*/*.so"))
    for library in found:
        try:
            fd = os.open(library, os.O_RDONLY)
        except OSError:
            continue
        try:
            if advise is not None:
                advise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
        finally:
            os.close(fd)
    return found
