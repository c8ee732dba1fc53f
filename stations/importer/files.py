"""Importing a file: open it, map its columns, and run the frame pipeline on its chunks."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pandas as pd

from stations.catalog.problems import Problems
from stations.catalog.text import as_text
from stations.errors import InvalidInput
from stations.geo import crs as crsmod
from stations.geo.region import Region, region_from_text
from stations.importer import readers
from stations.importer.mapping import Mapping, identity_mapping, load_mapping
from stations.importer.prepare import Options, Progress
from stations.importer.report import ImportReport
from stations.importer.run import ImportRun
from stations.people import branches


def source_from_path(path: Path) -> str:
    """A source name from a file name: ``Paris Fontaines.csv`` -> ``paris-fontaines``."""
    slug = re.sub(r"[^a-z0-9_.-]+", "-", path.stem.lower()).strip("-._")
    return (slug or "import")[:64]


async def import_file(
    conn: asyncpg.Connection,
    path: Path | str,
    *,
    format: str | None = None,
    crs: str | crsmod.Crs | None = None,
    kind: str | None = None,
    source: str | None = None,
    mapping: Path | str | None = None,
    region: Region | str | None = None,
    dry_run: bool = False,
    report_csv: Path | str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    time_zone: str | None = None,
    country: str | None = None,
    actor: str = "cli",
    progress: Progress | None = None,
    index_builds: str = "wait",
    sheet: str | None = None,
    branch: str | None = None,
) -> ImportReport:
    """Import a station file (see :mod:`stations.importer`) and return its report.

    The CRS of the coordinates is, in this order: ``crs``, the mapping's
    ``[position] crs`` (both given and different: refused), the file's own (a ``crs``
    column of our exports, a GeoPackage's or GeoParquet's CRS, GeoJSON's ``crs``), WGS84.
    The source is ``source``, the mapping's, the file's ``source`` column (one value) or
    the file name. ``sheet`` names the sheet of an Excel workbook (default: the first).
    ``branch``: a union branch's import: rows whose district code is not under it are
    rejected (``outside_branch``), and the source may hold no station of another branch.
    """
    path = Path(path)
    parsed_region = region_from_text(region) if isinstance(region, str) else region
    loaded = load_mapping(mapping) if mapping is not None else None
    run = functools.partial(
        _import,
        conn,
        path,
        format=format,
        crs=crs,
        kind=kind,
        source=source,
        mapping=loaded,
        region=parsed_region,
        dry_run=dry_run,
        report_csv=report_csv,
        encoding=encoding,
        delimiter=delimiter,
        time_zone=time_zone,
        country=country,
        actor=actor,
        progress=progress,
        index_builds=index_builds,
        sheet=sheet,
        branch=branch,
    )
    try:
        return await run(slow_csv=False)
    except readers.RaggedRows:
        # Rows with a wrong number of fields: read again with the reader that numbers them.
        return await run(slow_csv=True)


async def _import(
    conn: asyncpg.Connection,
    path: Path,
    *,
    format: str | None,
    crs: str | crsmod.Crs | None,
    kind: str | None,
    source: str | None,
    mapping: Mapping | None,
    region: Region | None,
    dry_run: bool,
    report_csv: Path | str | None,
    encoding: str | None,
    delimiter: str | None,
    time_zone: str | None,
    country: str | None,
    actor: str,
    progress: Progress | None,
    index_builds: str,
    slow_csv: bool,
    sheet: str | None,
    branch: str | None,
) -> ImportReport:
    table = readers.open_table(
        path,
        format=format,
        encoding=encoding,
        delimiter=delimiter,
        slow_csv=slow_csv,
        sheet=sheet,
    )
    notes: list[str] = list(table.notes)
    identity = mapping is None
    if mapping is None:
        mapping, ignored = identity_mapping(table.columns, has_geometry=table.has_geometry)
        if ignored:
            notes.append(
                f"columns not imported (no mapping file): {', '.join(ignored)}; "
                "pass --mapping to use them"
            )
    else:
        missing = mapping.missing_columns(table.columns)
        if missing and table.format in ("geojson", "json"):
            notes.append(f"no record has {', '.join(missing)}: read as empty")
        elif missing:
            raise InvalidInput(
                f"{path.name}: the mapping {mapping.name} names columns the file does not "
                f"have: {', '.join(missing)}; the file has: {', '.join(table.columns)}"
            )
        mapping = mapping.with_same_names(table.columns)
        if mapping.position.geometry and not table.has_geometry:
            raise InvalidInput(
                f"{path.name}: the mapping {mapping.name} has no [position] and the file "
                "has no geometry; say which columns hold the position"
            )
    # Our own exports carry "source" and "crs" columns; a foreign file's "source" column
    # (an OSM tag, say) means something else and is only read through a mapping.
    chunks = _chunks(table, mapping, keep_own_columns=identity)
    first = next(chunks, None)
    file_source = _single_value(first, "source") if first is not None and identity else None
    file_crs = _single_value(first, "crs") if first is not None and identity else None
    chosen_source = source or mapping.source or file_source or source_from_path(path)
    chosen_crs = _choose_crs(crs, mapping, file_crs or table.crs)
    await branches.check_source(conn, branch=branch, source=chosen_source)
    if table.encoding and table.encoding not in ("utf-8", "utf_8", "utf-8-sig"):
        notes.append(f"read as {table.encoding} text")
    if not source and not mapping.source and not file_source:
        notes.append(f"source name taken from the file name: {chosen_source}")
    options = Options(
        source=chosen_source,
        actor=actor,
        crs=chosen_crs,
        default_kind=kind,
        region=region,
        dry_run=dry_run,
        time_zone=time_zone,
        country=country,
        reason=f"import of {path.name} as source {chosen_source}",
        index_builds=index_builds,
        branch=branch,
    )
    run = ImportRun(
        conn,
        options,
        progress=progress,
        total_rows=table.total_rows,
        field_labels=mapping.field_labels,
    )

    def everything() -> Iterator[tuple[pd.DataFrame, Problems, int]]:
        if first is not None:
            yield first
        yield from chunks

    async def feed() -> None:
        for frame, problems, dropped in everything():
            _check_source_column(frame, chosen_source, problems)
            own = [c for c in ("source", "crs") if c in frame.columns]
            await run.add(frame.drop(columns=own), problems=problems, dropped=dropped)

    report = await run.run(feed)
    report.notes = notes + report.notes
    if report_csv is not None:
        report.write_problems_csv(report_csv)
    return report


def _chunks(
    table: readers.Table, mapping: Mapping, *, keep_own_columns: bool
) -> Iterator[tuple[pd.DataFrame, Problems, int]]:
    """Mapped chunks, with the problems mapping found and the rows dropped as unreadable."""
    for raw in table.chunks:
        problems = Problems()
        dropped = 0
        if "__fields__" in raw.columns:
            counts = raw.pop("__fields__").to_numpy()
            ragged = counts != len(table.columns)
            if ragged.any():
                problems.add(
                    raw.index[ragged],
                    "row",
                    "wrong_field_count",
                    [
                        f"has {c} fields; the header has {len(table.columns)} "
                        "(a missing or extra delimiter, or an unclosed quote)"
                        for c in counts[ragged]
                    ],
                )
                raw = raw[~ragged]
                dropped = int(ragged.sum())
        frame = mapping.apply(raw, problems)
        for extra in ("source", "crs") if keep_own_columns else ():
            if extra in raw.columns and extra not in frame.columns:
                frame[extra] = raw[extra]
        yield frame, problems, dropped


def _single_value(chunk: tuple[pd.DataFrame, Problems, int], column: str) -> str | None:
    frame = chunk[0]
    if column not in frame.columns:
        return None
    values = as_text(frame[column]).dropna().unique()
    if len(values) > 1:
        if column == "crs":
            raise InvalidInput(
                f"the file's crs column holds several systems ({', '.join(map(str, values))}); "
                "import them separately, or convert them first"
            )
        return None
    return str(values[0]) if len(values) else None


def _choose_crs(
    given: str | crsmod.Crs | None, mapping: Mapping, from_file: str | None
) -> crsmod.Crs:
    """``crs`` given, else the mapping's, else the file's own, else WGS84.

    A ``crs`` given beside a mapping that names another is refused: one of the two is
    wrong, and guessing which would put every station hundreds of metres off (GCJ-02
    read as WGS84) without a word.
    """
    named = (
        crsmod.parse_crs(mapping.position.crs, field="mapping crs")
        if mapping.position.crs
        else None
    )
    if given is not None:
        chosen = given if isinstance(given, crsmod.Crs) else crsmod.parse_crs(given, field="crs")
        if named is not None and named != chosen:
            raise InvalidInput(
                f"crs: --crs {chosen} disagrees with the mapping {mapping.name}, whose "
                f"[position] crs is {named}; drop --crs to use the mapping's, or correct "
                "the mapping",
                field="crs",
            )
        return chosen
    if named is not None:
        return named
    if from_file:
        return crsmod.parse_crs(from_file, field="file crs")
    return crsmod.Crs("wgs84")


def _check_source_column(frame: pd.DataFrame, source: str, problems: Problems) -> None:
    """Rows of an export that belong to another source than the one being imported."""
    if "source" not in frame.columns:
        return
    values = as_text(frame["source"])
    other = (values.notna() & (values != source)).to_numpy(dtype=bool)
    if other.any():
        problems.add(
            frame.index[other],
            "source",
            "other_source",
            f"belongs to another source than {source!r}; import each source separately "
            "(--source) or export one source at a time",
            values[other],
        )
