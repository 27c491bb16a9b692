"""The sum notation of a family (core.families): written out by hand for small n, refused with a
message that says what to type, never evaluated outside the safe parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import sympy as sp

from core import build_problem
from core.families import EXAMPLE, MAX_FAMILY_LENGTH, expand_family, repeat_start, start_pattern
from core.growth import GROWTH_SIZES, typed_family
from core.parsing import MAX_LENGTH, ParseError


@pytest.mark.parametrize("notation, n, written", [
    (EXAMPLE, 3, "((100(x2 - x1^2)^2 + (1 - x1)^2) + (100(x3 - x2^2)^2 + (1 - x2)^2))"),
    ("sum(x[i]^2, i = 1..n)", 2, "((x1^2) + (x2^2))"),
    ("x[1] + x[n]", 3, "x1 + x3"),  # no sum: x[1] .. x[n] must all appear, so this one is refused below
    ("sum(i x[i]^2, i=1..n)", 3, "(((1) x1^2) + ((2) x2^2) + ((3) x3^2))"),
    ("sum(x[2i-1] x[2i], i = 1..n/2)", 4, "((x1 x2) + (x3 x4))"),
    ("sum(x[i]^2, i = 1..n) + sum(x[i] x[i+1], i = 1..n-2)", 3, "((x1^2) + (x2^2) + (x3^2)) + ((x1 x2))"),
    ("sum(x[i]^2, i = 1..n) + sum(x[i], i = 3..1)", 2, "((x1^2) + (x2^2)) + (0)"),  # an empty sum is 0
    ("sum(x[i]^2, i = 1..n) + 0.5 sum(x[i], i = 3..1)", 2, "((x1^2) + (x2^2)) + 0.5 (0)"),  # times 0, not "0.5 0"
    ("sum(x[i] .5, i = 1..n)", 2, "((x1 .5) + (x2 .5))"),  # x .5 as typed: the parser reads x*0.5
    ("sum(sum(x[i] x[j]/(i + j - 1), j = 1..n), i = 1..n)", 2,
     "((((x1 x1/((1) + (1) - 1)) + (x1 x2/((1) + (2) - 1)))) + (((x2 x1/((2) + (1) - 1)) + (x2 x2/((2) + (2) - 1)))))"),
    ("exp(-x[1]) + sum(sin(pi x[i]) + e, i = 2..n)", 3, "exp(-x1) + ((sin(pi x2) + e) + (sin(pi x3) + e))"),
])
def test_a_family_written_out_by_hand(notation, n, written):
    if notation == "x[1] + x[n]":
        with pytest.raises(ParseError, match=r"leaves out x\[2\]"):
            expand_family(notation, n)
        return
    assert expand_family(notation, n) == written


def test_the_written_out_family_is_the_function_it_says():
    x = sp.symbols("x1:5", real=True)
    hilbert = build_problem(expand_family("sum(sum(x[i] x[j]/(i + j - 1), j = 1..n), i = 1..n)", 4), timeout=None)
    assert sp.simplify(hilbert.expr - sum(x[i] * x[j] / (i + j + 1) for i in range(4) for j in range(4))) == 0
    rosenbrock = build_problem(expand_family(EXAMPLE, 4), timeout=None)
    assert sp.expand(rosenbrock.expr - sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3))) == 0
    assert rosenbrock.variable_names == ("x1", "x2", "x3", "x4")


@pytest.mark.parametrize("notation, message", [
    ("sum(x[i+1]^2, i = 1..n)", r"at n = 4, i = 4: x\[i \+ 1\] is x\[5\].*change the sum's range"),
    ("sum(x[i]^2, i = 1..n-1)", r"leaves out x\[4\]: every x\[1\] \.\. x\[n\] must appear"),
    ("x^2", r"x at position 1 has no index"),
    ("y + sum(x[i]^2, i = 1..n)", r"unknown name `y`.*the variables are x\[1\] \.\. x\[n\]"),
    ("sum(x[i]^2)", r"needs a range after a comma: sum\(TERM, i = 1..n\)"),
    ("sum(x[i]^2, q = 1..n)", r"index is one of i, j, k, not `q`"),
    ("sum(x[i]^2, i = 1..n) + i", r"i at position 25 is outside any sum over i"),
    ("sum(x[i/2]^2, i = 1..n)", r"divides 1 by 2, which is not a whole number"),
    ("x[1.5] + sum(x[i], i=1..n)", r"holds '1.5': an index or a bound is whole-number arithmetic"),
    ("sum(x[i]^2, i = 1..n", r"'\(' at position 4 is not closed"),
    ("sum(sum(x[i], i = 1..n), i = 1..n)", r"a sum over i inside a sum over i"),
    ("sum(sum(sum(x[i], k=1..1), j=1..1), i=1..n)", r"nested more than 2 deep"),
    ("sum(x[i]^2, i = 1..n) ; 3", r"unexpected ';'"),
    ("sum(x[i]^2, i = 1..n), 3", r"',' at position 22 is out of place"),
    ("sum(x[i]^2, i = 1..n) + x[j]", r"uses j, which is not the index of a sum around it"),
    ("sum(x[i]^2, i = 1..n) + x[99999999]", r"far beyond the 20 variables"),
    # numbers typed apart stay apart (never glued into 2.5, 3.5 or 2.1e1), and are refused as the parser refuses them
    ("sum(x[i]^2 .5, i = 1..n)", r"two numbers in a row at position 12"),
    ("cos(3 .5) + sum(x[i], i = 1..n)", r"two numbers in a row at position 7"),
    ("2. 1e1 + sum(x[i], i = 1..n)", r"two numbers in a row at position 4"),
    ("sum(x[1 2] + x[i], i = 1..n)", r"holds '2'"),  # no product of two numbers inside an index either
    # an index or a sum is written out in parentheses: after a function name it would become its argument
    ("sum(sin i^2 + x[i], i = 1..n)", r"write function calls with parentheses: sin\(i\), not sin i"),
    ("sin sum(x[i], i = 1..n)", r"sin\(sum\(…\)\), not sin sum\(…\)"),
    ("", r"type a family"),
    ("sum(x[i]^2, i = 1..n) + " + "1 + " * 120, r"too long \(\d+ characters, max 400\)"),
    ("sum(sum(x[i] + x[j] + 123456789, j = 1..n), i = 1..n)", rf"longer than {MAX_LENGTH} characters"),
])
def test_what_is_not_a_family_is_refused_with_what_to_type(notation, message):
    with pytest.raises(ParseError, match=message):
        expand_family(notation, 4 if "sum(sum(x[i] +" not in notation else 20)


def test_python_is_never_reached():
    # dunder chains, calls and attribute access never get past the token rules or the name check;
    # what does get through is written out for the one safe parser, which refuses it there
    for hostile in ("x[1].__class__ + sum(x[i], i=1..n)", "__import__('os') + sum(x[i], i=1..n)",
                    "sum(x[i], i=1..n) + x[(lambda: 1)()]", "sum(x[i], i = 1..__import__('os').getpid())"):
        with pytest.raises(ParseError):
            expand_family(hostile, 3)


def test_a_start_is_repeated_to_length_n():
    assert start_pattern("-1.2, 1") == (-1.2, 1.0)
    assert repeat_start((-1.2, 1.0), 5) == [-1.2, 1.0, -1.2, 1.0, -1.2]
    for bad, message in (("", "numbers separated by commas"), ("1, a", "not a list of numbers"),
                         ("inf", "finite"), (", ".join(["1"] * 21), "1 to 20 numbers")):
        with pytest.raises(ParseError, match=message):
            start_pattern(bad)


def test_a_typed_family_is_checked_at_every_size_measured():
    family = typed_family(" " + EXAMPLE + " ", "-1.2, 1")
    assert family.notation == EXAMPLE and family.start(3) == [-1.2, 1.0, -1.2]
    assert [len(family.start(n)) for n in family.sizes] == list(GROWTH_SIZES)
    # a family that holds at n = 2 but not at every measured size is refused before anything runs
    with pytest.raises(ParseError, match="n = 6"):
        typed_family("sum(x[i]^2, i = 1..n) + sum(x[i+6], i = 1..n-5)", "1")  # empty at n = 2, x[7] at n = 6
    assert len(EXAMPLE) < MAX_FAMILY_LENGTH


_PIECES = ["2", ".5", "1.", "3e2", "10", "+", "-", "*", "/", "^", "(", ")", "sin", "exp", "pi", "e", " "]


def _refusal_or_expr(text: str):
    from core.parsing import parse_function
    try:
        return parse_function(text).expr
    except ParseError:
        return "refused"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8))
def test_what_is_not_a_sum_or_an_index_reads_as_typed(pieces):
    """Outside sums and indices the notation moves tokens only: T + sum(x[i], i = 1..n) at n = 2
    means what T + (x1 + x2) means typed straight into the parser (or both are refused)."""
    typed = "".join(pieces)
    try:
        written = expand_family(f"{typed} + sum(x[i], i = 1..n)", 2)
    except ParseError as err:  # refused as the parser refuses it, or a name a family has no use for (e2: a variable)
        assert _refusal_or_expr(f"{typed} + (x1 + x2)") == "refused" or str(err).startswith("unknown name"), typed
        return
    assert _refusal_or_expr(written) == _refusal_or_expr(f"{typed} + (x1 + x2)"), (typed, written)
