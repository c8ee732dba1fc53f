"""Reading station files into chunks of raw rows: CSV, Excel (.xlsx), JSON arrays,
GeoJSON, GeoPackage, Shapefile and (Geo)Parquet.

Every reader yields DataFrames whose index is the row number (1 = the first record; a
CSV header is not counted) and, for formats with geometry, a ``geometry`` column of
shapely objects. CSV is streamed with Arrow, so a large file never sits in memory whole;
its encoding (UTF-8 with or without BOM, GBK/GB18030, …) and delimiter are detected.
An Excel workbook is read from its first sheet (or the one named), header row first,
with each cell as Excel typed it (:func:`stations.tables.read_xlsx`), like JSON values.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely

from stations.errors import InvalidInput

FORMATS = ("csv", "xlsx", "json", "geojson", "gpkg", "shp", "parquet")
CHUNK_ROWS = 200_000
_SAMPLE_BYTES = 256 * 1024
_DELIMITERS = (",", ";", "\t", "|")
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".json": "json",
    ".geojson": "geojson",
    ".gpkg": "gpkg",
    ".shp": "shp",
    ".parquet": "parquet",
    ".geoparquet": "parquet",
}


@dataclass
class Table:
    """An opened file: its columns, what it says about itself, and its rows in chunks."""

    path: Path
    format: str
    columns: list[str]
    chunks: Iterator[pd.DataFrame]
    has_geometry: bool = False
    crs: str | None = None  # the file's own CRS (wgs84, gcj02, EPSG:n), when it says
    total_rows: int | None = None
    encoding: str | None = None
    delimiter: str | None = None
    notes: list[str] = field(default_factory=list)


class RaggedRows(Exception):
    """The fast CSV reader met rows with a wrong number of fields (read them again slowly)."""


def detect_format(path: Path, format: str | None) -> str:
    if format is not None:
        name = format.lower()
        if name not in FORMATS:
            raise InvalidInput(
                f"format: {format!r} is not supported; use one of {', '.join(FORMATS)}",
                field="format",
            )
        return name
    found = _EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise InvalidInput(
            f"cannot tell the format of {path.name} from its extension; "
            f"pass --format ({', '.join(FORMATS)})",
            field="format",
        )
    if found == "json" and _looks_like_geojson(path):
        return "geojson"
    return found


def _looks_like_geojson(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(4096)
    return b'"FeatureCollection"' in head or b'"Feature"' in head


def open_table(
    path: Path | str,
    *,
    format: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    slow_csv: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    sheet: str | None = None,
) -> Table:
    """Open a file for reading in chunks (nothing but the header is read yet).

    ``sheet``: the sheet of an Excel workbook to read (default: the first).
    """
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"{path}: no such file", field="file")
    kind = detect_format(path, format)
    if sheet is not None and kind != "xlsx":
        raise InvalidInput(
            f"sheet: only Excel workbooks have sheets; {path.name} is read as {kind}",
            field="sheet",
        )
    if kind == "xlsx":
        return _open_xlsx(path, sheet, chunk_rows)
    if kind == "csv":
        return _open_csv(path, encoding, delimiter, slow=slow_csv, chunk_rows=chunk_rows)
    if kind == "json":
        return _open_json(path, encoding, chunk_rows)
    if kind == "geojson":
        return _open_geojson(path, encoding, chunk_rows)
    if kind in ("gpkg", "shp"):
        return _open_ogr(path, kind, encoding, chunk_rows)
    return _open_parquet(path, chunk_rows)


# --- encodings and delimiters ------------------------------------------------------------


def detect_encoding(sample: bytes, *, complete: bool) -> str:
    """UTF-8 (with or without BOM) when the bytes decode as such, else the best guess.

    GBK and GB2312 guesses become GB18030, their superset (Chinese exports mix them).
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise InvalidInput(
            "cannot tell the file's text encoding; pass --encoding (e.g. gb18030 or utf-8)",
            field="encoding",
        )
    guess = best.encoding.lower().replace("-", "_")
    if guess in ("gbk", "gb2312", "gb18030", "hz", "cp936"):
        return "gb18030"
    return best.encoding


def _norm_encoding(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise InvalidInput(
            f"encoding: {name!r} is not a known text encoding; use e.g. utf-8, gb18030",
            field="encoding",
        ) from None


def sniff_delimiter(text: str) -> str:
    """The delimiter (of ``,;\\t|``) that splits the first lines into the most, equal fields."""
    lines = text.splitlines()[:50]
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # the sample may cut the last line short
    best, best_score = ",", (0, 0)
    for candidate in _DELIMITERS:
        counts = [len(r) for r in csv.reader(lines, delimiter=candidate)]
        if not counts:
            continue
        header = counts[0]
        consistent = sum(1 for c in counts if c == header)
        score = (consistent if header > 1 else 0, header)
        if score > best_score:
            best, best_score = candidate, score
    return best


# --- CSV ------------------------------------------------------------------------------------


def _open_csv(
    path: Path, encoding: str | None, delimiter: str | None, *, slow: bool, chunk_rows: int
) -> Table:
    size = path.stat().st_size
    with path.open("rb") as f:
        sample = f.read(_SAMPLE_BYTES)
    encoding = (
        _norm_encoding(encoding)
        if encoding
        else detect_encoding(sample, complete=size <= _SAMPLE_BYTES)
    )
    text = sample.decode(encoding, errors="ignore")
    if text.startswith("\ufeff"):
        text = text[1:]
    if delimiter is None:
        delimiter = sniff_delimiter(text)
    elif delimiter in ("\\t", "tab"):
        delimiter = "\t"
    header_row = next(csv.reader(io.StringIO(text), delimiter=delimiter), None)
    if not header_row:
        raise InvalidInput(f"{path.name}: the file is empty (no header line)", field="file")
    columns = _unique_names(header_row)
    # records, near enough (a quoted line break counts twice): progress and the bulk path
    total = max(0, _count_lines(path) - 1)
    chunks = (
        _csv_chunks_slow(path, encoding, delimiter, columns, chunk_rows)
        if slow
        else _csv_chunks(path, encoding, delimiter, columns)
    )
    return Table(
        path=path,
        format="csv",
        columns=columns,
        chunks=chunks,
        total_rows=total,
        encoding=encoding,
        delimiter=delimiter,
    )


def _unique_names(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    names = []
    for i, raw in enumerate(header):
        name = raw.strip().lstrip("\ufeff") or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        names.append(name)
    return names


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as f:
        while block := f.read(8 * 1024 * 1024):
            count += block.count(b"\n")
    return count


def _csv_chunks(
    path: Path, encoding: str, delimiter: str, columns: list[str]
) -> Iterator[pd.DataFrame]:
    ragged: list[str] = []

    def on_invalid(row: Any) -> str:
        ragged.append(row.text)
        return "skip"

    arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig", "utf_8") else encoding
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            block_size=8 * 1024 * 1024,
            encoding=arrow_encoding,
            column_names=columns,
            skip_rows=1,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in columns},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    first = 1
    try:
        for batch in reader:
            if ragged:
                raise RaggedRows(ragged[0])
            frame = batch.to_pandas()
            frame.index = pd.RangeIndex(first, first + len(frame))
            first += len(frame)
            yield frame
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "UTF-8" in str(exc):
            raise InvalidInput(
                f"{path.name}: not valid {encoding} text further into the file; pass "
                "--encoding with the file's real encoding (Chinese exports are often gb18030)",
                field="encoding",
            ) from exc
        raise InvalidInput(f"{path.name}: cannot be read as CSV ({exc})", field="file") from exc
    if ragged:
        raise RaggedRows(ragged[0])


def _csv_chunks_slow(
    path: Path, encoding: str, delimiter: str, columns: list[str], chunk_rows: int
) -> Iterator[pd.DataFrame]:
    """Python's csv module: slower, but it numbers every record, even ragged ones.

    A row with the wrong number of fields keeps its number; its fields are all empty
    and the column ``__fields__`` says how many it had (the importer reports it).
    """
    width = len(columns)
    with path.open(encoding=encoding, newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        next(reader, None)
        first = 1
        while True:
            block: list[list[str]] = []
            counts: list[int] = []
            for record in reader:
                counts.append(len(record))
                block.append(record if len(record) == width else [""] * width)
                if len(block) >= chunk_rows:
                    break
            if not block:
                return
            frame = pd.DataFrame(block, columns=columns, dtype="str")
            frame["__fields__"] = counts
            frame.index = pd.RangeIndex(first, first + len(frame))
            first += len(frame)
            yield frame


# --- Excel ------------------------------------------------------------------------------


def _open_xlsx(path: Path, sheet: str | None, chunk_rows: int) -> Table:
    from stations.tables import read_xlsx

    found = read_xlsx(path, sheet=sheet, name=path.name)
    columns = _unique_names(found.header)

    def chunks() -> Iterator[pd.DataFrame]:
        block: list[list[Any]] = []
        numbers: list[int] = []
        for number, values in found.records:
            block.append(values)
            numbers.append(number)
            if len(block) >= chunk_rows:
                yield _xlsx_frame(block, numbers, columns)
                block, numbers = [], []
        if block:
            yield _xlsx_frame(block, numbers, columns)

    notes = [f"read the sheet {found.sheet!r}; its header is spreadsheet row {found.header_row}"]
    return Table(path=path, format="xlsx", columns=columns, chunks=chunks(), notes=notes)


def _xlsx_frame(block: list[list[Any]], numbers: list[int], columns: list[str]) -> pd.DataFrame:
    """Cells as typed, in object columns (like JSON: a whole number stays an int)."""
    frame = pd.DataFrame(
        {
            name: pd.Series([row[i] for row in block], dtype=object)
            for i, name in enumerate(columns)
        },
        columns=columns,
    )
    frame.index = pd.Index(numbers, dtype=np.int64)
    return frame


# --- JSON and GeoJSON ---------------------------------------------------------------------


def _load_json(path: Path, encoding: str | None) -> Any:
    raw = path.read_bytes()
    name = (
        _norm_encoding(encoding)
        if encoding
        else detect_encoding(raw[:_SAMPLE_BYTES], complete=len(raw) <= _SAMPLE_BYTES)
    )
    if name not in ("utf-8", "utf_8"):
        raw = raw.decode(name).lstrip("\ufeff").encode()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{path.name}: not valid JSON ({exc})", field="file") from exc


def _open_json(path: Path, encoding: str | None, chunk_rows: int) -> Table:
    data = _load_json(path, encoding)
    if isinstance(data, dict) and data.get("type") in ("FeatureCollection", "Feature"):
        return _geojson_table(path, data, chunk_rows)
    if not isinstance(data, list):
        raise InvalidInput(
            f"{path.name}: --format json reads an array of objects ([{{...}}, …]); "
            "this file holds something else",
            field="file",
        )
    columns: dict[str, None] = {}
    for record in data:
        if isinstance(record, dict):
            columns.update(dict.fromkeys(record))
    names = list(columns)
    records = [r if isinstance(r, dict) else {} for r in data]

    def chunks() -> Iterator[pd.DataFrame]:
        for start in range(0, len(records), chunk_rows):
            frame = _json_frame(records[start : start + chunk_rows], names)
            frame.index = pd.RangeIndex(start + 1, start + 1 + len(frame))
            yield frame

    return Table(path=path, format="json", columns=names, chunks=chunks(), total_rows=len(data))


def _json_frame(records: list[dict], names: list[str]) -> pd.DataFrame:
    """JSON records as a frame of the values as parsed: a whole number stays an int even
    in a column with nulls, where pandas' inference would make every value a float
    (ids 1, 2, … would read "1.0", "2.0")."""
    return pd.DataFrame(
        {name: pd.Series([r.get(name) for r in records], dtype=object) for name in names},
        columns=names,
    )


def _open_geojson(path: Path, encoding: str | None, chunk_rows: int) -> Table:
    data = _load_json(path, encoding)
    if not isinstance(data, dict) or data.get("type") not in ("FeatureCollection", "Feature"):
        raise InvalidInput(
            f"{path.name}: not GeoJSON (no FeatureCollection); for a plain array of "
            "objects use --format json",
            field="file",
        )
    return _geojson_table(path, data, chunk_rows)


def _geojson_table(path: Path, data: dict, chunk_rows: int) -> Table:
    features = data["features"] if data.get("type") == "FeatureCollection" else [data]
    columns: dict[str, None] = {}
    for feature in features:
        properties = feature.get("properties") if isinstance(feature, dict) else None
        if isinstance(properties, dict):
            columns.update(dict.fromkeys(properties))
    has_feature_id = any(isinstance(f, dict) and "id" in f for f in features)
    if has_feature_id and "id" not in columns:
        columns["id"] = None
    names = list(columns)

    def chunks() -> Iterator[pd.DataFrame]:
        for start in range(0, len(features), chunk_rows):
            part = features[start : start + chunk_rows]
            records = []
            for feature in part:
                feature = feature if isinstance(feature, dict) else {}
                record = dict(feature.get("properties") or {})
                if "id" in feature and "id" not in record:
                    record["id"] = feature["id"]
                records.append(record)
            frame = _json_frame(records, names)
            frame["geometry"] = _geojson_geometries(part)
            frame.index = pd.RangeIndex(start + 1, start + 1 + len(frame))
            yield frame

    return Table(
        path=path,
        format="geojson",
        columns=names,
        chunks=chunks(),
        has_geometry=True,
        crs=_geojson_crs(data),
        total_rows=len(features),
    )


def _geojson_geometries(features: list[Any]) -> np.ndarray:
    """Shapely geometries of features: points fast, others one by one, None if unreadable."""
    out = np.full(len(features), None, dtype=object)
    xs, ys, at = [], [], []
    for i, feature in enumerate(features):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(geometry, dict):
            continue
        coordinates = geometry.get("coordinates")
        if (
            geometry.get("type") == "Point"
            and isinstance(coordinates, list)
            and len(coordinates) >= 2
            and all(isinstance(c, (int, float)) for c in coordinates[:2])
        ):
            xs.append(coordinates[0])
            ys.append(coordinates[1])
            at.append(i)
            continue
        try:
            out[i] = shapely.geometry.shape(geometry)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError):
            out[i] = None
    if at:
        out[np.array(at)] = shapely.points(np.array(xs, dtype=float), np.array(ys, dtype=float))
    return out


def _geojson_crs(data: dict) -> str | None:
    """The CRS a GeoJSON file declares: the 2008 specification's ``crs`` member (which
    our exports write for EPSG systems), or the ``coordinates_crs`` member of older
    exports; None means RFC 7946's WGS84."""
    named = data.get("coordinates_crs")
    if isinstance(named, str):
        return named
    legacy = data.get("crs")
    if isinstance(legacy, dict):
        name = str((legacy.get("properties") or {}).get("name", ""))
        code = name.rsplit(":", 1)[-1]
        if code.isdigit():
            return "wgs84" if code == "4326" else f"EPSG:{code}"
        if name.upper().endswith("CRS84"):
            return "wgs84"
    return None


# --- GeoPackage, Shapefile, Parquet ---------------------------------------------------------


def _epsg_name(crs: Any) -> str | None:
    if crs is None:
        return None
    code = crs.to_epsg()
    if code is None:
        return None
    return "wgs84" if code == 4326 else f"EPSG:{code}"


def _open_ogr(path: Path, kind: str, encoding: str | None, chunk_rows: int) -> Table:
    import pyogrio

    try:
        # through Arrow, so an integer field with nulls keeps ints (None where null)
        frame = pyogrio.read_dataframe(
            path,
            encoding=encoding,
            use_arrow=True,
            arrow_to_pandas_kwargs={"integer_object_nulls": True},
        )
    except Exception as exc:  # pyogrio raises its own DataSourceError/FieldError kinds
        raise InvalidInput(f"{path.name}: cannot be read as {kind} ({exc})", field="file") from exc
    crs = _epsg_name(frame.crs)
    geometry_name = frame.geometry.name if hasattr(frame, "geometry") else None
    data = pd.DataFrame(frame.drop(columns=[geometry_name]) if geometry_name else frame)
    if geometry_name:
        data["geometry"] = np.asarray(frame.geometry.values, dtype=object)
    names = [c for c in data.columns if c != "geometry"]

    def chunks() -> Iterator[pd.DataFrame]:
        for start in range(0, len(data), chunk_rows):
            part = data.iloc[start : start + chunk_rows].copy()
            part.index = pd.RangeIndex(start + 1, start + 1 + len(part))
            yield part

    return Table(
        path=path,
        format=kind,
        columns=names,
        chunks=chunks(),
        has_geometry=geometry_name is not None,
        crs=crs,
        total_rows=len(data),
        encoding=encoding,
    )


def _open_parquet(path: Path, chunk_rows: int) -> Table:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"{path.name}: cannot be read as Parquet ({exc})", field="file") from exc
    metadata = parquet.schema_arrow.metadata or {}
    geo = orjson.loads(metadata[b"geo"]) if b"geo" in metadata else None
    geometry_column = geo.get("primary_column") if geo else None
    crs = None
    if geo and geometry_column:
        column_meta = geo["columns"].get(geometry_column, {})
        projjson = column_meta.get("crs", "absent")
        if projjson == "absent":
            crs = "wgs84"  # GeoParquet: no crs member means OGC:CRS84
        elif projjson is not None:
            import pyproj

            crs = _epsg_name(pyproj.CRS.from_json_dict(projjson))
    names = [n for n in parquet.schema_arrow.names if n != geometry_column]

    def chunks() -> Iterator[pd.DataFrame]:
        first = 1
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            frame = batch.to_pandas(integer_object_nulls=True)  # ints with nulls stay ints
            if geometry_column:
                wkb = frame.pop(geometry_column).to_numpy(dtype=object)
                frame["geometry"] = shapely.from_wkb(wkb, on_invalid="ignore")
            frame.index = pd.RangeIndex(first, first + len(frame))
            first += len(frame)
            yield frame

    return Table(
        path=path,
        format="parquet",
        columns=names,
        chunks=chunks(),
        has_geometry=geometry_column is not None,
        crs=crs,
        total_rows=parquet.metadata.num_rows,
    )
