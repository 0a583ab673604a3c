"""Ids read from text: ASCII digits that fit a bigint, else None (never an exception)."""

from __future__ import annotations

import pytest

from supportdesk.ids import BIGINT_MAX, id_from_text


@pytest.mark.parametrize(("text", "expected"), [
    ("7", 7), (" 42 ", 42), (str(BIGINT_MAX), BIGINT_MAX), (12, 12),
    ("0", None), ("-3", None), ("", None), (None, None), ("abc", None), ("1.5", None),
    ("²", None), ("١٢", None), (str(BIGINT_MAX + 1), None), ("9" * 40, None),
])
def test_an_id_is_ascii_digits_that_fit_a_bigint(text, expected):
    assert id_from_text(text) == expected
