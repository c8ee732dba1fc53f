"""Problems found in rows, collected a rule at a time, and the scalar-rule verdicts.

A rule runs over a whole column (or once per distinct value of it) and adds one problem
per bad row: the field, a short ``code`` to count by (``unknown_amenity``), a ``reason``
that says what is wrong and what to do, and the value as given. The importer's per-row
report and single-station writes are built from the same collector.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd

from stations.errors import InvalidInput

PROBLEM_COLUMNS = ("index", "field", "code", "reason", "value")
ROW_NUMBERING = "rows are numbered from 1 at the first record; a CSV header line is not counted"
"""How every import report (stations and members) numbers rows."""


@dataclass
class Problems:
    """Problems found in a frame, collected a rule at a time (each covering many rows).

    ``index`` holds the frame's index labels of the bad rows; ``code`` is a short name
    to count by (``unknown_amenity``), ``reason`` says what is wrong and what to do.
    """

    parts: list[pd.DataFrame] = field(default_factory=list)

    def add(
        self,
        index: pd.Index | np.ndarray | list,
        field: str,
        code: str,
        reason: str | np.ndarray | list[str],
        value: Any = None,
    ) -> None:
        labels = np.asarray(index)
        if labels.size == 0:
            return
        if isinstance(value, pd.Series):
            value = value.to_numpy(dtype=object)
        elif isinstance(value, np.ndarray):
            value = value.astype(object)
        self.parts.append(
            pd.DataFrame(
                {
                    "index": labels,
                    "field": field,
                    "code": code,
                    "reason": reason,
                    "value": value,
                },
                columns=list(PROBLEM_COLUMNS),
            )
        )

    def frame(self) -> pd.DataFrame:
        """Every problem, one row each (columns: index, field, code, reason, value)."""
        parts = [p for p in self.parts if len(p)]
        if not parts:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS})
        out = pd.concat(parts, ignore_index=True)
        out["value"] = [shown(v) for v in out["value"].tolist()]
        return out

    def bad_index(self) -> np.ndarray:
        """Index labels of the rows with at least one problem."""
        if not self.parts:
            return np.array([], dtype=np.int64)
        return np.unique(np.concatenate([p["index"].to_numpy() for p in self.parts]))

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)


def shown(value: Any) -> str | None:
    """A value as a person reads it in a report (cut to 120 characters)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        text = ";".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = orjson.dumps(value).decode()
    else:
        text = str(value)
    return text if len(text) <= 120 else text[:117] + "..."


class RuleBroken(InvalidInput):
    """A scalar rule's verdict on one value: ``code`` to count by, ``detail`` to read."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.code = code


def map_distinct(values: pd.Series, func: Callable[[Any], Any]) -> pd.Series:
    """``func`` applied once per distinct non-missing value; missing stays None."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results = np.empty(len(uniques) + 1, dtype=object)
    results[: len(uniques)] = [func(u) for u in uniques]
    results[-1] = None  # NA has code -1, which picks this last slot
    return pd.Series(results[codes], index=values.index, dtype=object)


def verdict(value: Any, rule: Callable[[Any], Any]) -> tuple[Any, str | None, str | None]:
    """A scalar rule's outcome: (cleaned value, code, reason); None, None when it passed."""
    try:
        return rule(value), None, None
    except RuleBroken as exc:
        return None, exc.code, str(exc.detail)


def check_distinct(
    values: pd.Series, rule: Callable[[Any], Any], *, field: str, problems: Problems
) -> pd.Series:
    """Run a scalar rule once per distinct value: cleaned values, None where it failed.

    ``rule`` returns the cleaned value or raises :class:`RuleBroken`.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    cleaned = np.empty(len(uniques) + 1, dtype=object)  # the last slot is for NA (-1)
    broken: dict[str, list[int]] = {}
    reasons = np.empty(len(uniques) + 1, dtype=object)
    for i, unique in enumerate(uniques):
        cleaned[i], code, reasons[i] = verdict(unique, rule)
        if code is not None:
            broken.setdefault(code, []).append(i)
    cleaned[-1] = None
    for code, which in sorted(broken.items()):
        rows = np.isin(codes, which)
        problems.add(values.index[rows], field, code, reasons[codes[rows]], values[rows])
    return pd.Series(cleaned[codes], index=values.index, dtype=object)
