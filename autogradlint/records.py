"""Small value classes for the start-up path, without the dataclasses module.

A pre-commit call or a fully cached run spends most of its time importing: ``dataclasses`` (with ``inspect``,
``ast`` and ``dis`` behind it) costs about 10 ms to import, and every ``@dataclass`` about half a millisecond
more to create its methods. The classes a cached run needs (Diagnostic, Settings, FileOutcome, ...) derive
from ``Record`` instead: each declares its fields in ``__slots__`` and writes its own ``__init__``; equality,
hashing (``FrozenRecord``), ``repr``, pickling (worker processes send them back) and ``replace`` come from
here, as a dataclass would give them.
"""
from __future__ import annotations


class Record:
    """Fields are the class's ``__slots__``, in order; instances compare equal when their classes and
    fields are. Mutable, hence unhashable (as a dataclass with ``eq=True``)."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self):
        return (type(self), self._values())

    def replace(self, **changes):
        """A copy with some fields changed (``dataclasses.replace``)."""
        for name in changes:
            if name not in self.__slots__:
                raise TypeError(f"{type(self).__name__} has no field {name!r}")
        return type(self)(*(changes.get(name, getattr(self, name)) for name in self.__slots__))


class FrozenRecord(Record):
    """A Record whose fields cannot be assigned after ``__init__`` (which sets them all at once with
    ``_assign``); hashable by value."""

    __slots__ = ()

    def _assign(self, *values: object) -> None:
        """Set every field, in ``__slots__`` order (assignment is otherwise refused)."""
        if len(values) != len(self.__slots__):
            raise TypeError(f"{type(self).__name__} has {len(self.__slots__)} fields, given {len(values)}")
        for name, value in zip(self.__slots__, values):
            object.__setattr__(self, name, value)

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of a frozen {type(self).__name__}")
