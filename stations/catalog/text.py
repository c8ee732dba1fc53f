"""Text as the catalog reads it: stripped cells, numbers written as text, name keys.

Vectorised with Arrow where a million rows pass through (the importer).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from stations.tables import QUOTED_FORMULA


def as_text(values: pd.Series) -> pd.Series:
    """Values as stripped text (pandas ``str`` dtype); blank and missing become NaN.

    A whole number is written without a fraction even where it sits in a float column
    (pandas makes one of integers with a null): ``1.0`` reads ``"1"``, as the source wrote it.
    """
    if values.dtype == object or values.dtype.kind == "f":
        values = values.map(_scalar_text, na_action="ignore")
    text = _unquoted(values.astype("str").str.strip())
    return text.where(text.str.len() > 0)


_QUOTED = re.compile(QUOTED_FORMULA)


def _unquoted(text: pd.Series) -> pd.Series:
    """A spreadsheet's text marker taken off: ``'=…`` reads ``=…`` (see :mod:`stations.tables`).

    Vectorised: Arrow finds the few values that start with an apostrophe.
    """
    array = pa.array(text, type=pa.large_string(), from_pandas=True)
    quoted = np.asarray(pc.fill_null(pc.starts_with(array, "'"), False))
    if not quoted.any():
        return text
    out = text.copy()
    out[quoted] = [v[1:] if _QUOTED.match(v) else v for v in text[quoted].tolist()]
    return out


def _scalar_text(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # ids that were read as numbers: 450024929.0 -> "450024929"
    if isinstance(value, str):
        return value
    if value is None:
        return None
    return str(value)


# Python's whitespace (str.split) other than one space, and runs of spaces; RE2 (Arrow)
# finds the few values that have any, Python collapses those.
_UNEVEN_SPACE = (
    r"[\t\n\x{0b}\f\r\x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}"
    r"\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]|  "
)


def collapse_whitespace(text: pd.Series) -> pd.Series:
    """Every run of whitespace (line breaks, tabs, ideographic spaces) as one space.

    Names wrapped across lines in a spreadsheet cell come out as one line, as templates
    already write them. Vectorised: only the values that need it are touched.
    """
    array = pa.array(text, type=pa.large_string(), from_pandas=True)
    uneven = np.asarray(pc.fill_null(pc.match_substring_regex(array, _UNEVEN_SPACE), False))
    if not uneven.any():
        return text
    out = text.copy()
    out[uneven] = [" ".join(v.split()) for v in text[uneven].tolist()]
    return out


_NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"


def parse_numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Numbers from numeric or text values (a decimal comma is accepted).

    Returns ``(numbers, missing)``: numbers are NaN where the value is missing or is
    not a number, and ``missing`` tells the two apart. Text is parsed by Arrow, so a
    million coordinates take a few tens of milliseconds.
    """
    if values.dtype.kind in "fiu":
        numbers = values.to_numpy(dtype=float)
        return numbers, np.isnan(numbers)
    text = pa.array(as_text(values), type=pa.large_string())
    missing = np.asarray(text.is_null(), dtype=bool)
    text = pc.replace_substring_regex(text, r"^([-+]?\d+),(\d+)$", r"\1.\2")
    looks_numeric = pc.match_substring_regex(text, _NUMBER)
    numbers = pc.cast(pc.if_else(looks_numeric, text, None), pa.float64())
    return numbers.to_numpy(zero_copy_only=False), missing


_NOT_LETTER_OR_DIGIT = r"[^\p{L}\p{M}\p{N}]+"


def name_keys(names: pd.Series) -> pd.Series:
    """Names as compared for near-duplicates: NFKC, lower case, only letters and digits.

    ``相山公园 爱心驿站`` and ``相山公园爱心驿站`` match; so do ``Fontaine Wallace`` and
    ``FONTAINE-WALLACE``. Vectorised (Arrow), so a million names take a fraction of a
    second.
    """
    if names.dtype == object:
        names = names.astype("str")
    array = pa.array(names, type=pa.large_string())
    array = pc.utf8_lower(pc.utf8_normalize(array, "NFKC"))
    array = pc.replace_substring_regex(array, _NOT_LETTER_OR_DIGIT, "")
    keys = array.to_pandas()
    keys.index = names.index
    return keys


def name_key(name: str) -> str:
    """:func:`name_keys` of one name."""
    return str(name_keys(pd.Series([name], dtype=object)).iloc[0])
