"""PostgreSQL's binary COPY format, built a column at a time (numpy and Arrow).

asyncpg's ``copy_records_to_table`` encodes row by row: building a million Python
tuples and encoding them takes seconds. Here each column is a numpy array of fixed-width
values or an Arrow array of variable-length values already in PostgreSQL's wire form
(UTF-8 text; jsonb, text arrays and geographies as their binary input expects them), and
pgpq (Rust, over Arrow) writes the rows of the COPY stream: a length before each value,
a count before each row. The server parses no numbers. The result goes to
``copy_to_table(..., format="binary")``.

Format: https://www.postgresql.org/docs/current/sql-copy.html (Binary Format).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pgpq
import pyarrow as pa
import pyarrow.compute as pc

HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = b"\xff\xff"
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_TEXT_OID = 25
_EMPTY = pa.scalar(b"", pa.large_binary())


@dataclass(frozen=True)
class Column:
    """One COPY column: fixed-width wire values (numpy) or variable-length bytes (Arrow).

    ``fixed`` is in the column's numpy type (int32, int64, float64, bool; timestamptz as
    int64 microseconds since 2000-01-01 UTC, its wire value);
    ``var`` holds each row's wire bytes (UTF-8 for text). ``null`` marks NULLs; for
    ``var`` the Arrow nulls count as well.
    """

    fixed: np.ndarray | None = None
    var: pa.Array | None = None
    null: np.ndarray | None = None

    def take(self, positions: np.ndarray) -> Column:
        """The rows at ``positions`` (in that order)."""
        return Column(
            fixed=None if self.fixed is None else self.fixed[positions],
            var=None if self.var is None else self.var.take(pa.array(positions)),
            null=None if self.null is None else self.null[positions],
        )


def int4(values: np.ndarray, null: np.ndarray | None = None) -> Column:
    return Column(fixed=np.asarray(values, dtype=np.int32), null=null)


def int8(values: np.ndarray, null: np.ndarray | None = None) -> Column:
    return Column(fixed=np.asarray(values, dtype=np.int64), null=null)


def float8(values: np.ndarray, null: np.ndarray | None = None) -> Column:
    return Column(fixed=np.asarray(values, dtype=np.float64), null=null)


def boolean(values: np.ndarray) -> Column:
    return Column(fixed=np.asarray(values, dtype=bool))


def text(values: pa.Array | pa.ChunkedArray | Sequence[str | bytes | None]) -> Column:
    """Text, or values already in wire format (jsonb, arrays), from Arrow or a list."""
    array = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return Column(var=array.cast(pa.large_binary()))


def timestamptz(values: Sequence[datetime | None]) -> Column:
    """Aware datetimes as microseconds since 2000-01-01 UTC; None is NULL."""
    micros = np.zeros(len(values), dtype=np.int64)
    null = np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values):
        if value is None:
            null[i] = True
        else:
            delta = value - _PG_EPOCH
            micros[i] = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Column(fixed=micros, null=null)


def repeated_text(value: str, n: int) -> Column:
    """The same text in each of ``n`` rows."""
    return text(pa.repeat(pa.scalar(value.encode(), pa.large_binary()), n))


_EWKB_POINT_SRID = np.frombuffer(
    b"\x01" + (0x20000001).to_bytes(4, "little") + (4326).to_bytes(4, "little"), dtype=np.uint8
)


def geography_points(lat: np.ndarray, lng: np.ndarray) -> Column:
    """WGS84 points as ``geography`` values: PostGIS reads its binary COPY input as
    EWKB (little-endian point with SRID 4326: 25 bytes, x = longitude)."""
    n = len(lat)
    block = np.empty((n, 25), dtype=np.uint8)
    block[:, :9] = _EWKB_POINT_SRID
    block[:, 9:17] = np.ascontiguousarray(lng, dtype="<f8").view(np.uint8).reshape(n, 8)
    block[:, 17:] = np.ascontiguousarray(lat, dtype="<f8").view(np.uint8).reshape(n, 8)
    return Column(var=_fixed_binary(block))


def text_array_wire(items: Sequence[str]) -> bytes:
    """One ``text[]`` value in wire format (one dimension, no NULL elements)."""
    if not items:
        return b"".join(n.to_bytes(4, "big") for n in (0, 0, _TEXT_OID))
    parts = [n.to_bytes(4, "big") for n in (1, 0, _TEXT_OID, len(items), 1)]
    for item in items:
        data = item.encode()
        parts += [len(data).to_bytes(4, "big"), data]
    return b"".join(parts)


def jsonb_wire(json_text: pa.Array) -> pa.Array:
    """jsonb values in wire format: a version byte (1), then the JSON text."""
    return pc.binary_join_element_wise(
        pa.scalar(b"\x01", pa.large_binary()), json_text.cast(pa.large_binary()), _EMPTY
    )


def _fixed_binary(block: np.ndarray) -> pa.Array:
    """An (n, width) uint8 block as an Arrow large_binary array of n values."""
    n, width = block.shape
    block = np.ascontiguousarray(block)
    array = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, pa.py_buffer(block)])
    return array.cast(pa.large_binary())


def _arrow(column: Column) -> pa.Array:
    """A column as the Arrow array pgpq writes (variable-length values as raw bytes)."""
    null = column.null
    if column.fixed is not None:
        return pa.array(column.fixed, mask=null if null is not None and null.any() else None)
    assert column.var is not None
    data = column.var
    if null is not None and null.any():
        data = pc.if_else(pa.array(null), pa.scalar(None, pa.large_binary()), data)
    return data


def encode(columns: Sequence[Column], n: int) -> bytes:
    """``n`` rows of ``columns`` as a complete binary COPY stream (header to trailer)."""
    if n == 0:
        return HEADER + TRAILER
    table = pa.Table.from_arrays(
        [_arrow(c) for c in columns], names=[str(i) for i in range(len(columns))]
    )
    encoder = pgpq.ArrowToPostgresBinaryEncoder(table.schema)
    parts = [encoder.write_header()]
    parts += [encoder.write_batch(batch) for batch in table.to_batches()]
    parts.append(encoder.finish())
    return b"".join(parts)


def source(data: bytes) -> memoryview:
    """COPY data as ``copy_to_table`` takes it in one piece: a buffer (asyncpg reads a
    file-like source 512 kB at a time through the executor's threads, each read waiting
    for the interpreter lock that the import's checking threads hold; bytes would be
    taken for a path)."""
    return memoryview(data)
