"""Registries: the one list of a kind of thing (generators, combination methods, connectors…).

Qlib's ``OpsWrapper.register`` is the model: a registry is the only list of its things, and
config validation, the CLI's ``choices``, the app's select boxes and the docs tables all read
it, so a new entry is one module plus one :meth:`Registry.register` line. A registry is
filled when its module is imported (the built-ins) or when a plug-in module registers into it
(:mod:`engine.plugins`); after start-up it is only read. That is the one kind of module-level
mutable state the engine keeps, and :meth:`Registry.registered` undoes a registration (tests).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from engine import i18n
from engine.errors import ConfigError


class Named(Protocol):
    """What a registry entry has: a stable name and a catalogue key for its label."""

    @property
    def name(self) -> str: ...

    @property
    def label_key(self) -> str: ...


E = TypeVar("E", bound=Named)


#: An entry's implementation: the object itself (a plug-in's class), or ``"package.module:attr"``
#: imported on first use, so reading a registry (``alphaforge --help``, validation) stays light.
Ref = Callable[..., Any] | str


def resolve(ref: Ref) -> Callable[..., Any]:
    """The object ``ref`` names (imported once by Python's module cache)."""
    if not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Choice:
    """The simplest entry: a name, its label key and a fallback label (plug-ins without a
    catalogue entry show ``label``)."""

    name: str
    label_key: str
    label: str = ""


class Registry(Generic[E]):
    """An ordered name -> entry map; the order is the order users see (CLI, select boxes,
    docs)."""

    def __init__(self, what: str, field: str, entries: tuple[E, ...] = ()) -> None:
        self.what = what  # "generator", "combination method" … (English error text)
        self.field = field  # the config field / CLI option it validates
        self._entries: dict[str, E] = {}
        for entry in entries:
            self.register(entry)

    # ------------------------------------------------------------------ writing
    def register(self, entry: E, *, replace: bool = False) -> E:
        """Add ``entry``; a second entry of the same name is refused unless ``replace``."""
        name = entry.name
        if not name or name != name.strip().lower() or any(c.isspace() for c in name):
            raise ValueError(f"{self.what} name {name!r} must be lower case without spaces")
        if name in self._entries and not replace:
            raise ValueError(f"{self.what} '{name}' is already registered")
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    @contextmanager
    def registered(self, entry: E) -> Iterator[E]:
        """Register ``entry`` for the duration of a ``with`` block (tests, temporary plug-ins)."""
        self.register(entry)
        try:
            yield entry
        finally:
            self.unregister(entry.name)

    # ------------------------------------------------------------------ reading
    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def entries(self) -> tuple[E, ...]:
        return tuple(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str) -> E:
        """The entry called ``name``, or the ConfigError every caller shows (it lists the
        choices)."""
        if name not in self._entries:
            raise self.unknown(name)
        return self._entries[name]

    def check(self, name: str) -> str:
        """``name`` when it is registered (config validation), else :meth:`unknown`."""
        self.get(name)
        return name

    def unknown(self, name: str, choices: tuple[str, ...] | None = None) -> ConfigError:
        """The error of a name that is not registered, listing ``choices`` (default: this
        registry's names; a field two registries share lists both)."""
        listed = ", ".join(self._entries if choices is None else choices)
        return ConfigError(f"unknown {self.what} '{name}'; choose one of {listed}",
                           code="config_unknown_choice",
                           params={"field": self.field, "value": str(name),
                                   "choices": listed})

    def label(self, name: str, t: i18n.Translator | None = None) -> str:
        """The entry's label in the reader's language; a plug-in without a catalogue entry
        shows its own ``label`` (or its name)."""
        entry = self.get(name)
        if i18n.has(entry.label_key):
            return t(entry.label_key) if t is not None else i18n.translate(entry.label_key)
        return str(getattr(entry, "label", "") or name)

    def labels(self, t: i18n.Translator | None = None) -> dict[str, str]:
        """name -> label, in registry order (a select box's ``format_func``)."""
        return {name: self.label(name, t) for name in self._entries}

    def markdown_table(self, columns: dict[str, Callable[[E], str]] | None = None) -> str:
        """A docs table: name, English label, and ``columns`` (header -> cell of an entry)."""
        columns = columns or {}
        head = ["name", "label", *columns]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for entry in self._entries.values():
            cells = [f"`{entry.name}`", self.label(entry.name),
                     *(cell(entry) for cell in columns.values())]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines)
