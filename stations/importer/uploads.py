"""Uploads in the staff console: a file, its dry run, then the import on confirmation.

An administrator sends a station file (any format the importer reads, Excel included)
or a member list (CSV or Excel). :func:`stage_upload` keeps the file (migration 0016),
runs it as a dry run — the same importer and rules as ``stations import --dry-run`` and
``stations members import``, writing nothing — and answers the per-row report. Nothing
is in the catalog until :func:`confirm_upload`, which imports the stored file itself (not
a new copy the browser might have changed): every good row or none, bad rows never.
An upload is confirmed once; it expires after ``STATIONS_STAFF_UPLOAD_HOURS``.

A union branch's upload imports only what is under it: stations and members with a
district code of the branch, a source that holds no other branch's stations, members
that are not another branch's (the importers' ``branch`` option). The report lists
problems in the importers' row numbering (``ROW_NUMBERING``): the answer carries the
first :data:`SHOWN_PROBLEMS`, the CSV all of them.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import asyncpg

from stations.catalog.problems import ROW_NUMBERING
from stations.errors import Conflict, InvalidInput, NotFound
from stations.importer import readers
from stations.importer.files import import_file
from stations.importer.report import ImportReport
from stations.people import branches, members
from stations.settings import SecuritySettings
from stations.sql import load
from stations.tables import Table, csv_bytes

SQL = load("uploads")

Kind = Literal["stations", "members"]
KINDS = ("stations", "members")
SHOWN_PROBLEMS = 500
PROBLEM_HEADER = ["row", "field", "code", "reason", "value", "severity"]
_MEMBER_FIELDS = ("member_no", "phone", "occupation", "name", "employer", "status", "district_code")


def _not_found(upload_id: str) -> NotFound:
    return NotFound(
        f"no upload has the id {upload_id} (uploads expire after a day); upload the file again",
        code="upload_not_found",
        upload_id=upload_id,
    )


def _suffix(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    return suffix if suffix in readers._EXTENSIONS else ""


def _check_request(kind: str, filename: str, sheet: str | None) -> tuple[str, str | None]:
    if kind not in KINDS:
        raise InvalidInput(f"kind: {kind!r}; use stations or members", field="kind")
    name = Path(filename.replace("\\", "/")).name.strip()
    if not name or len(name) > 255:
        raise InvalidInput("file: the file needs a name (1-255 characters)", field="file")
    if kind == "stations" and not _suffix(name):
        raise InvalidInput(
            f"file: cannot tell the format of {name} from its extension; send .xlsx, .csv, "
            ".json, .geojson, .gpkg or .parquet",
            field="file",
        )
    if kind == "members" and Path(name).suffix.lower() not in (".csv", ".txt", ".xlsx", ".xlsm"):
        raise InvalidInput(f"file: {name}: a member list is read from .xlsx or .csv", field="file")
    clean_sheet = sheet.strip() if sheet and sheet.strip() else None
    if clean_sheet is not None and len(clean_sheet) > 100:
        raise InvalidInput("sheet: a sheet name has at most 100 characters", field="sheet")
    return name, clean_sheet


# --- running the importers -----------------------------------------------------------------


async def _stations(
    conn: asyncpg.Connection,
    *,
    filename: str,
    content: bytes,
    options: dict[str, Any],
    branch: str | None,
    actor: str,
    dry_run: bool,
) -> ImportReport:
    with tempfile.TemporaryDirectory(prefix="stations-upload-") as folder:
        path = Path(folder) / f"upload{_suffix(filename)}"
        path.write_bytes(content)
        report = await import_file(
            conn,
            path,
            source=options.get("source"),
            crs=options.get("crs"),
            kind=options.get("station_kind"),
            sheet=options.get("sheet"),
            branch=branch,
            dry_run=dry_run,
            actor=actor,
            index_builds="background",
        )
    return report


def _station_summary(report: ImportReport) -> tuple[dict[str, Any], list[list[Any]]]:
    problems = [
        [p.row, p.field, p.code, p.reason, p.value, "rejected"] for p in report.problems
    ] + [[p.row, p.field, p.code, p.reason, p.value, "warning"] for p in report.warnings]
    counts = {
        "read": int(report.read),
        "created": int(report.created),
        "updated": int(report.updated),
        "unchanged": int(report.unchanged),
        "rejected": int(report.rejected),
        "warnings": len(report.warnings),
    }
    return {"counts": counts, "notes": report.notes, "source": report.source}, problems


class _DryRun(Exception):
    """Rolls a member dry run back."""


async def _members(
    conn: asyncpg.Connection,
    *,
    content: bytes,
    options: dict[str, Any],
    branch: str | None,
    security: SecuritySettings,
    dry_run: bool,
) -> members.ImportReport:
    rows = members.read_member_file(content, sheet=options.get("sheet"))
    result: members.ImportReport | None = None
    try:
        async with conn.transaction():
            result = await members.import_members(conn, rows=rows, security=security, branch=branch)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    assert result is not None
    return result


def _member_problem(row: int, text: str, member_no: str) -> list[Any]:
    field, _, rest = text.partition(": ")
    if field in _MEMBER_FIELDS and rest:
        return [row, field, "invalid", text, member_no or None, "rejected"]
    return [row, "row", "invalid", text, member_no or None, "rejected"]


def _member_summary(report: members.ImportReport) -> tuple[dict[str, Any], list[list[Any]]]:
    problems = [
        _member_problem(r.row, text, r.member_no) for r in report.rows for text in r.problems
    ]
    counts = {"read": len(report.rows), **report.counts, "warnings": 0}
    return {"counts": counts, "notes": [], "source": None}, problems


async def _run(
    conn: asyncpg.Connection,
    upload: asyncpg.Record,
    *,
    dry_run: bool,
    actor: str,
    security: SecuritySettings,
) -> tuple[dict[str, Any], bytes]:
    """The upload through its importer; the summary and the problems CSV."""
    options = dict(upload["options"])
    content = bytes(upload["content"])
    if upload["kind"] == "stations":
        summary, problems = _station_summary(
            await _stations(
                conn,
                filename=upload["filename"],
                content=content,
                options=options,
                branch=upload["branch"],
                actor=actor,
                dry_run=dry_run,
            )
        )
    else:
        summary, problems = _member_summary(
            await _members(
                conn,
                content=content,
                options=options,
                branch=upload["branch"],
                security=security,
                dry_run=dry_run,
            )
        )
    problems.sort(key=lambda p: (p[0], p[5] != "rejected"))
    summary["problems_total"] = len(problems)
    summary["totals_by_code"] = dict(Counter(p[2] for p in problems if p[5] == "rejected"))
    summary["problems"] = [
        dict(zip(PROBLEM_HEADER, p, strict=True)) for p in problems[:SHOWN_PROBLEMS]
    ]
    summary["row_numbering"] = ROW_NUMBERING
    return summary, csv_bytes([Table("problems", PROBLEM_HEADER, problems)])


# --- the use cases -------------------------------------------------------------------------


def _view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "kind": row["kind"],
        "filename": row["filename"],
        "size": row["size"],
        "options": row["options"],
        "branch": row["branch"],
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "expires_at": row["expires_at"],
        "confirmed_at": row["confirmed_at"],
        "confirmed_by": row["confirmed_by"],
        "dry_run": row["dry_run"],
        "result": row["result"],
    }


async def stage_upload(
    conn: asyncpg.Connection,
    *,
    kind: str,
    filename: str,
    content: bytes,
    branch: str | None,
    actor: str,
    security: SecuritySettings,
    hours: float,
    sheet: str | None = None,
    source: str | None = None,
    crs: str | None = None,
    station_kind: str | None = None,
) -> dict[str, Any]:
    """Keep the file and answer its dry run (the per-row report); nothing is imported.

    A file the importer cannot open at all (no header, not a workbook, a sheet that is
    not there) is refused with its error and not kept.
    """
    name, clean_sheet = _check_request(kind, filename, sheet)
    options = {
        k: v
        for k, v in {
            "sheet": clean_sheet,
            "source": source or None,
            "crs": crs or None,
            "station_kind": station_kind or None,
        }.items()
        if v is not None
    }
    await conn.execute(SQL.delete_expired_uploads)
    row = await conn.fetchrow(
        SQL.insert_upload,
        kind,
        name,
        content,
        len(content),
        hashlib.sha256(content).digest(),
        options,
        branch,
        actor,
        datetime.now(UTC) + timedelta(hours=hours),
    )
    try:
        summary, problems_csv = await _run(conn, row, dry_run=True, actor=actor, security=security)
    except Exception:
        await conn.execute(SQL.delete_upload, row["id"])
        raise
    stored = await conn.fetchrow(SQL.store_dry_run, row["id"], summary, problems_csv)
    return _view(stored)


async def _upload(conn: asyncpg.Connection, upload_id: str, branch: str | None) -> asyncpg.Record:
    try:
        row = await conn.fetchrow(SQL.upload_by_id, upload_id)
    except (asyncpg.DataError, ValueError):
        row = None
    if row is None:
        raise _not_found(upload_id)
    if not branches.covers(branch, row["branch"]):
        raise branches.outside(branch, "this upload was made by another union branch")
    return row


async def get_upload(
    conn: asyncpg.Connection, *, upload_id: str, branch: str | None
) -> dict[str, Any]:
    return _view(await _upload(conn, upload_id, branch))


async def problems_csv(
    conn: asyncpg.Connection, *, upload_id: str, branch: str | None
) -> tuple[str, bytes]:
    """The upload's latest report (the import's, else the dry run's) as CSV: every problem."""
    row = await _upload(conn, upload_id, branch)
    return row["filename"], bytes(row["problems_csv"] or b"")


async def confirm_upload(
    conn: asyncpg.Connection,
    *,
    upload_id: str,
    branch: str | None,
    actor: str,
    security: SecuritySettings,
) -> dict[str, Any]:
    """Import the stored file for real (all good rows in one transaction) and answer the
    import's report. Once only: a second confirmation is 409 ``upload_confirmed``."""
    await _upload(conn, upload_id, branch)
    row = await conn.fetchrow(SQL.claim_upload, upload_id, actor)
    if row is None:
        current = await conn.fetchrow(SQL.upload_by_id, upload_id)
        if current is None:
            raise _not_found(upload_id)
        raise Conflict(
            f"upload {upload_id} was imported already ({current['confirmed_at']:%Y-%m-%d %H:%M}); "
            "upload the file again to import it again",
            code="upload_confirmed",
            upload_id=upload_id,
        )
    try:
        summary, problems = await _run(conn, row, dry_run=False, actor=actor, security=security)
    except Exception:
        await conn.execute(SQL.release_upload, row["id"])
        raise
    stored = await conn.fetchrow(SQL.store_result, row["id"], summary, problems)
    return _view(stored)
