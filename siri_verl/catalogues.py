"""The catalogues: modules that fill this project's registries of named things.

A catalogue registers named assets (``siri_verl.assets.register_asset``) or offline generation
backends (``siri_verl.generation_backends.register_backend``) when it is imported. Catalogues
are entry points of the group :data:`GROUP` (pyproject.toml), so that a registry can list and
build what they offer without importing them by name: the registries stay low-level modules that
the builders import, never the other way round, and the lab (siri_verl/lab/) contributes its toy
models, data and rule summariser without the plugin layer importing it. Another package adds
its own assets or backends the same way.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Callable, Generic, TypeVar

T = TypeVar("T")

GROUP = "siri_verl.catalogues"

_loaded = False


def load_catalogues() -> None:
    """Import every catalogue of :data:`GROUP` once per process (their registrations are then
    in place); a catalogue that fails to import is named."""
    global _loaded
    if _loaded:
        return
    _loaded = True  # first, so that a catalogue looking itself up does not load them again
    for entry in entry_points(group=GROUP):
        try:
            entry.load()
        except Exception as error:
            _loaded = False
            raise ImportError(
                f"catalogue {entry.name} = {entry.value} (entry point group {GROUP}) failed to import: {error}"
            ) from error


class Registry(Generic[T]):
    """Named entries of one kind (assets, generation backends) that modules register; every
    lookup loads the catalogues first, so what they register is there to list and to find."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """A decorator that registers its target as ``name`` and returns it unchanged."""

        def decorator(entry: T) -> T:
            self._entries[name] = entry
            return entry

        return decorator

    def names(self) -> list[str]:
        load_catalogues()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        load_catalogues()
        return name in self._entries

    def get(self, name: str, known_as: str | None = None) -> T:
        """The entry named ``name``; a ``KeyError`` naming it (as ``known_as``) and listing the known ones."""
        if name not in self:
            raise KeyError(f"unknown {self.kind} {known_as or repr(name)}; known: {self.names()}")
        return self._entries[name]
