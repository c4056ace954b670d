"""The number and option validators, once: every parameter check in lstmae goes through these.

Messages name the parameter, the bad value and what is valid, in one style:
``window=0 is not valid; it must be an integer >= 1.``
"""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

MAX_INT = 2**53  # sizes beyond this are nonsense and overflow int64 index arithmetic


def check_int(name: str, value: Any, minimum: int = 1, *, allow_none: bool = False,
              maximum: int = MAX_INT) -> int | None:
    """`value` as an int >= `minimum` (None passes when `allow_none`), else a ValueError."""
    if value is None and allow_none:
        return None
    none = " or None" if allow_none else ""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}={value!r} is not valid; it must be an integer >= {minimum}{none}.")
    try:
        result = operator.index(value)
    except TypeError:
        raise ValueError(f"{name}={value!r} is not valid; it must be an integer >= {minimum}{none}.") from None
    if result < minimum:
        raise ValueError(f"{name}={value!r} is not valid; it must be an integer >= {minimum}{none}.")
    if result > maximum:
        raise ValueError(f"{name}={value!r} is not valid; it is too large (at most {maximum}).")
    return int(result)


def check_number(name: str, value: Any, low: float, high: float | None = None, *, low_inclusive: bool = True,
                 high_inclusive: bool = False, allow_none: bool = False, integer: bool = False) -> Any:
    """A finite number in the range [low (or > low), high) (None passes when `allow_none`); returns it."""
    if integer:
        if value is None and allow_none:
            return None
        checked = check_int(name, value, int(np.ceil(low)) if low_inclusive else int(np.floor(low)) + 1,
                            allow_none=allow_none)
        if high is not None and (checked > high or (checked == high and not high_inclusive)):
            raise ValueError(f"{name}={value!r} is not valid; it must be an integer < {high}.")
        return checked
    if value is None and allow_none:
        return None
    ok = isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))
    ok = ok and bool(np.isfinite(value))
    if ok:
        ok = value >= low if low_inclusive else value > low
        if high is not None:
            ok = ok and (value <= high if high_inclusive else value < high)
    if not ok:
        bound = f">= {low}" if low_inclusive else f"> {low}"
        if high is not None:
            bound += f" and {'<=' if high_inclusive else '<'} {high}"
        none = " or None" if allow_none else ""
        raise ValueError(f"{name}={value!r} is not valid; it must be a number {bound}{none}.")
    return value


def check_choice(name: str, value: Any, choices: tuple) -> Any:
    """`value` if it is one of `choices`, else a ValueError listing them."""
    try:
        ok = value in choices
    except TypeError:  # unhashable or uncomparable
        ok = False
    if not ok:
        raise ValueError(f"{name}={value!r} is not valid; choose one of {', '.join(repr(c) for c in choices)}.")
    return value


def check_bool(name: str, value: Any) -> bool:
    """`value` if it is True or False (numpy booleans too), else a ValueError."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}={value!r} is not valid; it must be True or False.")
    return bool(value)
