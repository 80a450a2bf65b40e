"""Run a function right after a module has been imported (a post-import hook), in any process.

verl imports every ``verl.plugins`` entry point at ``import verl``, in every verl process, Ray
workers included. Registering this project's pieces there would import verl's trainer, engines
and agent loops into processes that use none of them (``import verl`` took 10.5 s with the
plugin against 6.0 s without) and resolve verl's platform before a process has chosen it.
Instead, ``siri_verl/plugin.py`` asks to be called back when the verl module that holds a
registry has been imported: each registration then runs once, in exactly the processes that
can look it up, after that module (and, for a package, its ``__init__``) has run to the end.

A hook can find that what it needs is itself mid-import: ``import siri_verl.trainer`` first
imports verl's trainer package, whose hook then wants ``siri_verl.trainer``'s names, not yet
defined. Such a hook raises :class:`NotYet`; it is run again at the next import anywhere in the
process once none of the modules it named is still initialising (an import always follows: the
one that was in progress returns to code that goes on importing).

Pure standard library: importing this module imports nothing else.
"""

from __future__ import annotations

import importlib.abc
import sys
import threading
import warnings
from typing import Callable

Hook = Callable[[object], None]

_hooks: dict[str, list[Hook]] = {}
# (module name, hook, module, the modules it waits for) of each hook that raised NotYet.
_deferred: list[tuple[str, Hook, object, tuple[str, ...]]] = []
_retrying = False
_lock = threading.RLock()


class NotYet(Exception):
    """Raised by a hook that needs modules still being imported (``waiting_for``)."""

    def __init__(self, waiting_for: tuple[str, ...]) -> None:
        super().__init__(f"waiting for {', '.join(waiting_for)} to finish importing")
        self.waiting_for = waiting_for


def initializing(module_names) -> tuple[str, ...]:
    """Those of ``module_names`` whose import is in progress (in ``sys.modules``, not done)."""
    return tuple(name for name in module_names if name in sys.modules and _is_initializing(sys.modules[name]))


def when_imported(module_name: str, hook: Hook) -> None:
    """Call ``hook(module)`` once ``module_name`` is imported; at once if it already is.

    A hook that raises is reported as a warning naming it: it must not break the import of
    verl's module for code that never uses this project.
    """
    with _lock:
        module = sys.modules.get(module_name)
        if module is None or _is_initializing(module):
            _hooks.setdefault(module_name, []).append(hook)
            _install_finder()
            return
    _run(module_name, hook, module)


def pending() -> dict[str, int]:
    """Modules still awaited, with the number of hooks waiting on each, and the hooks deferred
    by :class:`NotYet` under ``"(deferred)"`` (for tests)."""
    with _lock:
        waiting = {name: len(hooks) for name, hooks in _hooks.items() if hooks}
        if _deferred:
            waiting["(deferred)"] = len(_deferred)
        return waiting


def _is_initializing(module) -> bool:
    spec = getattr(module, "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


def _run(module_name: str, hook: Hook, module) -> None:
    try:
        hook(module)
    except NotYet as not_yet:
        with _lock:
            _deferred.append((module_name, hook, module, not_yet.waiting_for))
        _install_finder()
    except Exception as error:  # noqa: BLE001  (reported, never raised into verl's import)
        name = getattr(hook, "__qualname__", repr(hook))
        warnings.warn(f"siri_verl: registering {name} after importing {module_name} failed: {error!r}", stacklevel=2)


def _run_hooks(module_name: str, module) -> None:
    with _lock:
        hooks = _hooks.pop(module_name, [])
    for hook in hooks:
        _run(module_name, hook, module)


class _HookedLoader(importlib.abc.Loader):
    """Wraps the real loader: executes the module, then its hooks. Every other attribute
    (``get_source``, resource readers) is the real loader's."""

    def __init__(self, loader, module_name: str) -> None:
        self._loader = loader
        self._module_name = module_name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        # The module's spec must name the real loader, as it would without this hook.
        module.__spec__.loader = self._loader
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        _run_hooks(self._module_name, module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _AfterImportFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: asks the finders after it, and wraps the loader of a hooked module."""

    def find_spec(self, fullname, path, target=None):
        _retry_deferred()
        with _lock:
            if not _hooks.get(fullname):
                return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _HookedLoader(spec.loader, fullname)
        return spec


def _retry_deferred() -> None:
    """Run again the deferred hooks whose modules have finished importing (module docstring)."""
    global _retrying
    if not _deferred or _retrying:
        return
    with _lock:
        ready = [item for item in _deferred if not initializing(item[3])]
        if not ready:
            return
        for item in ready:
            _deferred.remove(item)
        _retrying = True
    try:
        for module_name, hook, module, _ in ready:
            _run(module_name, hook, module)
    finally:
        _retrying = False


_finder = _AfterImportFinder()


def _install_finder() -> None:
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
