"""Uploads for import in the staff console: send a file, read its per-row report, confirm.

``POST /v1/uploads`` (multipart: ``file``, ``kind`` = stations | members, optional
``sheet``, ``source``, ``crs``, ``station_kind``) keeps the file and answers the dry
run; ``POST /v1/uploads/{id}/confirm`` imports that very file, all good rows or none;
``GET /v1/uploads/{id}/problems.csv`` is the latest report's every problem. A file
larger than ``STATIONS_STAFF_UPLOAD_MAX_MB`` is refused with 413 before it is read.
Administrators only, within their union branch (:mod:`stations.importer.uploads`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from api.auth import AdminDep, branch_of
from api.deps import ConnDep
from stations import tables
from stations.errors import InvalidInput, TooLarge
from stations.importer import uploads
from stations.settings import Settings

PATH = "/v1/uploads"
FORM_OVERHEAD_BYTES = 64 * 1024  # the form's own fields and boundaries are small

router = APIRouter(prefix=PATH, tags=["uploads"])


def file_limit(settings: Settings) -> int:
    """The largest uploaded file, in bytes."""
    return int(settings.staff.upload_max_mb * 1024 * 1024)


def body_limit(settings: Settings) -> int:
    """The largest upload request: the file and its form (the edge guard enforces it)."""
    return file_limit(settings) + FORM_OVERHEAD_BYTES


UploadId = Annotated[str, Path(max_length=36, description="the upload's id (a UUID)")]


class UploadProblem(BaseModel):
    row: int
    field: str
    code: str
    reason: str
    value: str | None
    severity: str = Field(description="rejected (the row is not imported) or warning")


class UploadReport(BaseModel):
    counts: dict[str, int] = Field(
        description="read, created, updated, unchanged, rejected, warnings"
    )
    notes: list[str]
    source: str | None
    problems_total: int
    totals_by_code: dict[str, int]
    problems: list[UploadProblem] = Field(description=f"the first {uploads.SHOWN_PROBLEMS}")
    row_numbering: str


class UploadOut(BaseModel):
    id: str
    kind: str
    filename: str
    size: int
    options: dict[str, Any]
    branch: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime
    confirmed_at: datetime | None
    confirmed_by: str | None
    dry_run: UploadReport | None = Field(description="what the import would do")
    result: UploadReport | None = Field(description="what the import did, once confirmed")


_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "kind"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "kind": {"type": "string", "enum": list(uploads.KINDS)},
                        "sheet": {"type": "string", "maxLength": 100},
                        "source": {"type": "string", "maxLength": 64},
                        "crs": {"type": "string", "maxLength": 40},
                        "station_kind": {"type": "string", "maxLength": 40},
                    },
                }
            }
        },
    }
}


def _text(form: Any, name: str, limit: int) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: send text", field=name)
    if len(value) > limit:
        raise InvalidInput(f"{name}: at most {limit} characters", field=name)
    return value.strip() or None


@router.post(
    "",
    status_code=201,
    response_model=UploadOut,
    summary="Upload a station file or member list; answers its dry run (nothing imported)",
    openapi_extra=_FORM,
)
async def upload(request: Request, principal: AdminDep, conn: ConnDep) -> dict[str, Any]:
    # The request as a whole was held to body_limit() by the edge guard (api/guard.py)
    # before this runs; here the file itself is held to file_limit().
    settings = request.app.state.settings
    limit = file_limit(settings)
    too_large = TooLarge(
        f"file: larger than {settings.staff.upload_max_mb:g} MB; split it, or import "
        "it on the server with `stations import`",
        limit_bytes=limit,
    )
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("send the file as multipart/form-data", field="file")
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as exc:  # python-multipart's and Starlette's parse errors
        raise InvalidInput(f"the multipart body cannot be read ({exc})", field="file") from None
    try:
        sent = form.get("file")
        if not isinstance(sent, UploadFile):
            raise InvalidInput("file: send the file in the field 'file'", field="file")
        content = await sent.read(limit + 1)
        if len(content) > limit:
            raise too_large
        kind = _text(form, "kind", 20) or ""
        return await uploads.stage_upload(
            conn,
            kind=kind,
            filename=sent.filename or "",
            content=content,
            branch=branch_of(principal),
            actor=principal.actor,
            security=settings.security,
            hours=settings.staff.upload_hours,
            sheet=_text(form, "sheet", 100),
            source=_text(form, "source", 64),
            crs=_text(form, "crs", 40),
            station_kind=_text(form, "station_kind", 40),
        )
    finally:
        await form.close()


@router.get("/{upload_id}", response_model=UploadOut, summary="An upload and its report")
async def get_upload(upload_id: UploadId, principal: AdminDep, conn: ConnDep) -> dict[str, Any]:
    return await uploads.get_upload(conn, upload_id=upload_id, branch=branch_of(principal))


@router.get(
    "/{upload_id}/problems.csv",
    summary="Every problem of the upload's latest report, as CSV",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def upload_problems(upload_id: UploadId, principal: AdminDep, conn: ConnDep) -> Response:
    filename, body = await uploads.problems_csv(
        conn, upload_id=upload_id, branch=branch_of(principal)
    )
    stem = "".join(c if c.isascii() and c.isalnum() else "-" for c in filename.rsplit(".", 1)[0])
    return Response(
        body,
        media_type=tables.CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{stem or "upload"}-problems.csv"'},
    )


@router.post(
    "/{upload_id}/confirm",
    response_model=UploadOut,
    summary="Import the uploaded file: every good row in one transaction, bad rows never",
)
async def confirm(
    upload_id: UploadId, request: Request, principal: AdminDep, conn: ConnDep
) -> dict[str, Any]:
    return await uploads.confirm_upload(
        conn,
        upload_id=upload_id,
        branch=branch_of(principal),
        actor=principal.actor,
        security=request.app.state.settings.security,
    )
