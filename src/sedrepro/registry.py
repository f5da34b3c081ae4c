"""Name -> object registries: how papers, datasets, architectures, metrics, recipes and loss terms plug in.

Each kind of part has one `Registry`, kept in the module that defines its interface (for example
``sedrepro.papers.PAPERS``). Shared code looks parts up by the name the config gives and never compares names
itself. A part defined outside the package (a plugin module named in the config's ``plugins`` list, or a test)
registers itself on import with ``REGISTRY.register(name, obj)`` or the decorator form.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from .io import InputError, fail

T = TypeVar("T")


class Registry(Generic[T]):
    """Parts of one kind by name. `kind` names them in errors ("architecture", "metric", ...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._parts: dict[str, T] = {}

    def register(self, name: str, part: T | None = None) -> T | Callable[[T], T]:
        """Add `part` under `name`; without `part`, a decorator. A name registered twice is an error."""
        if part is None:
            return lambda obj: self._add(name, obj)
        return self._add(name, part)

    def _add(self, name: str, part: T) -> T:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} names are non-empty strings, got {name!r}")
        if name in self._parts and self._parts[name] is not part:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._parts[name] = part
        return part

    def get(self, name: str, where: str | None = None) -> T:
        """The part registered as `name`; an unknown name is one InputError naming `where` and the known names."""
        try:
            return self._parts[name]
        except (KeyError, TypeError):
            raise fail(
                where or self.kind, f"a registered {self.kind} ({', '.join(self.names()) or 'none'})", repr(name)
            ) from None

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._parts))

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(sorted(self._parts.items()))

    def __contains__(self, name: object) -> bool:
        return name in self._parts

    def __len__(self) -> int:
        return len(self._parts)


def load_plugins(modules: Iterable[str], where: str = "config key plugins") -> None:
    """Import each named module so that it registers its parts; a module that cannot be imported is one line."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise InputError(f"{where}: expected an importable module, found {name!r} ({err})") from None
