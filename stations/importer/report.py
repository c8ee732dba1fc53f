"""What an import did: counts, every problem with the row it was found in, and warnings.

A problem rejects its row; a warning (a position at sea, say) is something to look at
in a row that was imported all the same. Both have a field, a code, a reason and the
value, and both go to the terminal and the ``--report`` CSV (its ``severity`` column
says ``rejected`` or ``warning``).

Row numbers count records from 1 and never the header: row 1 is the first line after
a CSV header, the first object of a JSON array, the first GeoJSON feature, the first
record of a GeoPackage, Shapefile or Parquet file (and the first row of a DataFrame
handed to ``import_frame``).
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from stations.catalog.problems import ROW_NUMBERING
from stations.tables import safe_row

__all__ = ["ROW_NUMBERING", "ImportReport", "Problem"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one row: the field, a code to count by, what to do."""

    row: int
    field: str
    code: str
    reason: str
    value: str | None = None


@dataclass
class ImportReport:
    """Counts and problems of one import (or of a dry run: what it would do).

    ``read`` rows were read; each ended up ``created``, ``updated``, ``unchanged`` or
    ``rejected`` (a row with at least one problem is rejected as a whole).
    """

    source: str
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds by stage
    problem_frame: pd.DataFrame = field(default_factory=lambda: _empty_frame())
    warning_frame: pd.DataFrame = field(default_factory=lambda: _empty_frame())
    row_numbering: str = ROW_NUMBERING
    # search indexes a bulk import left to build after its commit (index_builds="background")
    deferred_indexes: list[str] = field(default_factory=list)

    @property
    def imported(self) -> int:
        """Rows that are in the catalog after the import (or would be, in a dry run)."""
        return self.created + self.updated + self.unchanged

    @property
    def problems(self) -> list[Problem]:
        """Every problem, in row order (built on demand: a bad file can have millions)."""
        return _listed(self.problem_frame)

    @property
    def warnings(self) -> list[Problem]:
        """Every warning, in row order: rows that were imported but deserve a look."""
        return _listed(self.warning_frame)

    def totals_by_code(self) -> Counter[str]:
        return Counter(self.problem_frame["code"].tolist())

    def warning_totals_by_code(self) -> Counter[str]:
        return Counter(self.warning_frame["code"].tolist())

    def write_problems_csv(self, path: Path | str) -> None:
        """All problems, then all warnings, as CSV (UTF-8 with BOM so spreadsheet programs
        read Chinese, cells formula-safe: :mod:`stations.tables`); the ``severity``
        column tells them apart."""
        with Path(path).open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["row", "field", "code", "reason", "value", "severity"])
            for severity, items in (("rejected", self.problems), ("warning", self.warnings)):
                for p in items:
                    # The value is the file's own text: written formula-safe.
                    writer.writerow(
                        safe_row([p.row, p.field, p.code, p.reason, p.value or "", severity])
                    )


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame(columns=["row", "field", "code", "reason", "value"])


def _listed(frame: pd.DataFrame) -> list[Problem]:
    return [
        Problem(int(r.row), str(r.field), str(r.code), str(r.reason), _text(r.value))
        for r in frame.itertuples(index=False)
    ]


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value)
