"""The one option spec: every option a method can read, in one table.

From :data:`SPEC` come the :class:`Options` record and its validation, the URL parameters
(ui.links), the sidebar widgets (ui.sidebar: only the options of the chosen methods), the CLI
flags (core.__main__) and the README's option table (:func:`markdown_table`). Which methods
read an option is not written here: each method says which options it uses (core.methods), and
:func:`used_by` reads it back from there.

Adding an option = one row here (and the method that reads it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, make_dataclass
from typing import Any


class OptionsError(ValueError):
    """An option value is out of range; the message names the option."""


@dataclass(frozen=True)
class OptionSpec:
    """One option: its type, default and accepted range, and how a person sees it."""

    name: str  # the Options field, the URL parameter and (with - for _) the CLI flag
    kind: type  # float or int
    default: float | int
    low: float | int  # accepted range, the same for the code, a link, a widget and the CLI
    high: float | int
    label: str  # widget label
    help: str  # one sentence: what it does
    low_open: bool = False  # low itself is excluded (lr > 0)
    high_open: bool = False
    step: float | int | None = None  # widget +/- step
    number_format: str = "%g"  # widget format

    def accepts(self, value: Any) -> bool:
        if self.kind is int:
            if type(value) is not int:  # a bool is not an iteration count
                return False
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def range_text(self) -> str:
        if self.kind is int:
            return f"an integer in [{self.low}, {self.high}]"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"in {left}{self.low:g}, {self.high:g}{right}"

    def parse(self, text: str) -> float | int:
        """The value of a link parameter or CLI flag; ValueError (readable) when it is not one."""
        try:
            value = self.kind(text)
        except (TypeError, ValueError):
            raise ValueError(f"{str(text)[:30]!r} is not {'an integer' if self.kind is int else 'a number'}") from None
        if not self.accepts(value):
            raise ValueError(f"{self.name} must be {self.range_text()}, got {str(text)[:30]}")
        return value


SPEC: tuple[OptionSpec, ...] = (
    OptionSpec("lr", float, 0.1, 0.0, 100.0, "Learning rate η", "the fixed step size of the fixed-rate methods",
               low_open=True, step=0.01),
    OptionSpec("beta", float, 0.9, 0.0, 0.999, "Momentum β", "how much of the previous velocity is kept",
               step=0.05),
    OptionSpec("beta1", float, 0.9, 0.0, 0.999, "Adam β₁", "decay of Adam's running mean of g", step=0.05),
    OptionSpec("beta2", float, 0.999, 0.0, 0.999999, "Adam β₂", "decay of Adam's running mean of g²",
               step=0.001, number_format="%.6g"),
    OptionSpec("eps", float, 1e-8, 0.0, 1.0, "Adam ε", "added to Adam's √v so that the step stays finite",
               low_open=True, step=1e-8, number_format="%.1e"),
    OptionSpec("tol", float, 1e-8, 0.0, 1.0, "Tolerance on ‖g‖", "stop when ‖g‖ ≤ tol", low_open=True, step=1e-9,
               number_format="%.1e"),
    OptionSpec("max_iter", int, 1000, 0, 100_000, "Max iterations", "at most this many steps", step=100),
    OptionSpec("c1", float, 1e-4, 0.0, 1.0, "Armijo c₁",
               "sufficient decrease: accept η when f(x + ηd) ≤ f + c₁ η g'd", low_open=True, high_open=True,
               step=1e-4, number_format="%.1e"),
    OptionSpec("c2", float, 0.9, 0.0, 1.0, "Wolfe c₂",
               "curvature condition of the Wolfe line search: |g(x + ηd)'d| ≤ c₂ |g'd| (c₁ < c₂ < 1)",
               low_open=True, high_open=True, step=0.05),
    OptionSpec("shrink", float, 0.5, 0.0, 1.0, "Backtracking factor", "a rejected trial η is multiplied by this",
               low_open=True, high_open=True, step=0.05),
    OptionSpec("max_backtracks", int, 60, 1, 200, "Max backtracks",
               "trial steps per line search before it gives up (0.5⁶⁰ ≈ 1e-18)", step=10),
    OptionSpec("memory", int, 10, 1, 100, "L-BFGS memory m", "pairs (s, y) L-BFGS keeps", step=1),
    OptionSpec("radius", float, 1.0, 0.0, 1e6, "Initial trust radius Δ₀", "the first step is at most this long",
               low_open=True, step=0.5),
)
SPEC_BY_NAME: dict[str, OptionSpec] = {s.name: s for s in SPEC}


def _check(self: Any) -> None:
    for spec in SPEC:
        value = getattr(self, spec.name)
        if not spec.accepts(value):
            raise OptionsError(f"option {spec.name} must be {spec.range_text()} (got {value!r})")
    if not self.c1 < self.c2:
        raise OptionsError(f"option c2 must be larger than c1 (got c1 = {self.c1:g}, c2 = {self.c2:g})")


def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


# A frozen dataclass built from the spec: Options(lr=0.2, tol=1e-10), with a readable
# OptionsError for any value outside its row's range.
Options = make_dataclass(
    "Options", [(s.name, s.kind, field(default=s.default)) for s in SPEC], frozen=True,
    namespace={"__post_init__": _check, "names": classmethod(_names),
               "__doc__": "Options of all methods (core.options.SPEC); each method reads the ones it uses."},
)
Options.__module__ = __name__


def used_by(name: str) -> tuple[str, ...]:
    """Ids of the methods that read option ``name`` (the run loop's tol and max_iter: all)."""
    from .methods import METHODS

    return tuple(m.id for m in METHODS.values() if name in m.options_used or name in RUN_OPTIONS)


RUN_OPTIONS = ("tol", "max_iter")  # read by the run loop for every method


def markdown_table() -> str:
    """The README's option table (tests/test_options.py keeps the README equal to it)."""
    lines = ["| option | default | range | used by | what it does |", "|---|---|---|---|---|"]
    for spec in SPEC:
        users = "all methods" if spec.name in RUN_OPTIONS else ", ".join(f"`{m}`" for m in used_by(spec.name))
        lines.append(f"| `{spec.name}` | {spec.default:g} | {spec.range_text().removeprefix('in ')} | {users} | "
                     f"{spec.help.replace('|', chr(92) + '|')} |")
    return "\n".join(lines)
