"""The phase protocol: which slots exist, when each is taken, and which sets allow a classification.

The protocol is data (JSON): the default ``sonazoid-9`` ships in ``ceusdesk/base/protocols/`` and a model
package carries the protocol it was trained with. App and trainer share this module.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

PhaseSet = Literal["full", "early", "incomplete"]

FAR_FROM_TARGET_S = 10.0  # a slot filled from a frame further than this from its target is flagged


@dataclass(frozen=True)
class Slot:
    """One phase slot. ``kind`` is ``bmode`` (before injection) or ``contrast``."""

    name: str
    kind: str
    target_s: float | None
    window_s: tuple[float, float] | None

    def accepts(self, t_s: float) -> bool:
        """True when a frame at ``t_s`` seconds after injection falls in this slot's window."""
        if self.window_s is None:
            return t_s < 0
        lo, hi = self.window_s
        return lo <= t_s <= hi


@dataclass(frozen=True)
class Protocol:
    name: str
    slots: tuple[Slot, ...]
    branches: tuple[tuple[str, ...], ...]
    early_set: tuple[str, ...]
    full_set: tuple[str, ...]
    description: str = ""

    def __post_init__(self) -> None:
        names = [s.name for s in self.slots]
        if len(set(names)) != len(names):
            raise ValueError(f"protocol {self.name!r}: duplicate slot names {names}")
        flat = [n for b in self.branches for n in b]
        if sorted(flat) != sorted(names):
            raise ValueError(f"protocol {self.name!r}: branches {self.branches} must use every slot once")
        for group in (self.early_set, self.full_set):
            unknown = set(group) - set(names)
            if unknown:
                raise ValueError(f"protocol {self.name!r}: unknown slots {sorted(unknown)} in a phase set")

    @property
    def slot_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.slots)

    def slot(self, name: str) -> Slot:
        for s in self.slots:
            if s.name == name:
                return s
        raise KeyError(f"protocol {self.name!r} has no slot {name!r}; slots: {', '.join(self.slot_names)}")

    @property
    def contrast_slots(self) -> tuple[Slot, ...]:
        return tuple(s for s in self.slots if s.kind == "contrast")

    def slot_for_time(self, t_s: float) -> Slot | None:
        """The contrast slot whose window holds ``t_s`` (nearest target if windows touch), else None."""
        hits = [s for s in self.contrast_slots if s.accepts(t_s)]
        if not hits:
            return None
        return min(hits, key=lambda s: abs(t_s - float(s.target_s or 0.0)))

    def phase_set(self, present: set[str] | list[str] | tuple[str, ...]) -> tuple[PhaseSet, list[str]]:
        """Classify the present slots: ``full``, ``early`` or ``incomplete``.

        Returns the set and the slots missing for the next level (for ``incomplete``: the missing
        early-set slots; for ``early``: the missing full-set slots; for ``full``: none).
        """
        present = set(present)
        missing_early = [n for n in self.early_set if n not in present]
        if missing_early:
            return "incomplete", missing_early
        missing_full = [n for n in self.full_set if n not in present]
        if missing_full:
            return "early", missing_full
        return "full", []

    def not_acquired(self, present: set[str] | list[str] | tuple[str, ...]) -> list[str]:
        """Every slot of the protocol that holds no frame, in protocol order (named for every phase set:
        a full set can still lack 3:00-6:00)."""
        present = set(present)
        return [n for n in self.slot_names if n not in present]

    def set_slots(self, phase_set: PhaseSet) -> tuple[str, ...]:
        """Slots a classification of this phase set may use (early: slots up to the last early slot)."""
        if phase_set == "full":
            return self.slot_names
        if phase_set == "early":
            last = max(float(self.slot(n).target_s or -1.0) for n in self.early_set)
            return tuple(s.name for s in self.slots if s.target_s is None or s.target_s <= last)
        return ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "slots": [
                {"name": s.name, "kind": s.kind, "target_s": s.target_s,
                 "window_s": list(s.window_s) if s.window_s else None}
                for s in self.slots
            ],
            "branches": [list(b) for b in self.branches],
            "early_set": list(self.early_set),
            "full_set": list(self.full_set),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Protocol:
        try:
            slots = tuple(
                Slot(
                    name=str(s["name"]),
                    kind=str(s["kind"]),
                    target_s=None if s.get("target_s") is None else float(s["target_s"]),
                    window_s=None if s.get("window_s") is None else (float(s["window_s"][0]),
                                                                     float(s["window_s"][1])),
                )
                for s in d["slots"]
            )
            return cls(
                name=str(d["name"]),
                slots=slots,
                branches=tuple(tuple(b) for b in d["branches"]),
                early_set=tuple(d["early_set"]),
                full_set=tuple(d["full_set"]),
                description=str(d.get("description", "")),
            )
        except (KeyError, TypeError, IndexError) as err:
            raise ValueError(f"malformed protocol definition: {err!r}") from err

def format_t(t_s: float | None, *, decimals: int = 0, ascii_only: bool = False) -> str:
    """Time after injection as ``m:ss`` (``m:ss.s`` with ``decimals=1``); negative before injection.

    ``ascii_only`` writes ``-`` instead of the typographic minus and dash (PDF core fonts lack them).
    """
    if t_s is None:
        return "-" if ascii_only else "—"
    sign = ("-" if ascii_only else "−") if t_s < 0 else ""
    t = abs(float(t_s))
    if decimals:
        return f"{sign}{int(t // 60)}:{t % 60:0{3 + decimals}.{decimals}f}"
    return f"{sign}{int(t // 60)}:{int(t % 60):02d}"


@cache
def default_protocol() -> Protocol:
    """The bundled ``sonazoid-9`` protocol."""
    text = resources.files("ceusdesk.base").joinpath("protocols/sonazoid-9.json").read_text(encoding="utf-8")
    return Protocol.from_dict(json.loads(text))


SLOT_NAMES: tuple[str, ...] = ("B", "0:30", "1:00", "2:00", "3:00", "4:00", "5:00", "6:00", "10:00")
