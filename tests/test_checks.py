import numpy as np
import pytest

from handbook_utils import checks


def test_numpy_scalars_are_accepted():
    assert checks.real_number("x", np.float32(0.5)) == 0.5
    assert checks.positive_int("n", np.int64(3)) == 3


@pytest.mark.parametrize(
    "check, value, exc, message",
    [
        (checks.real_number, True, TypeError, "x must be a real number"),
        (checks.real_number, float("nan"), ValueError, "x must be finite"),
        (checks.non_negative, -1, ValueError, r"x must be in \[0, inf\)"),
        (checks.positive, 0, ValueError, r"x must be in \(0, inf\)"),
        (checks.probability, 1.5, ValueError, r"x must be in \[0, 1\]"),
        (checks.in_open_unit, 1.0, ValueError, r"x must be in \(0, 1\)"),
        (checks.positive_int, 2.0, TypeError, "x must be an int"),
        (checks.positive_int, 0, ValueError, r"x must be in \[1, inf\)"),
    ],
)
def test_bad_values_name_the_parameter_and_range(check, value, exc, message):
    with pytest.raises(exc, match=message):
        check("x", value)


def test_in_open_unit_may_allow_one():
    assert checks.in_open_unit("k", 1.0, allow_one=True) == 1.0
