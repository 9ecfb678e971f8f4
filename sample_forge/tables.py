"""Read and write tables (JSONL, Parquet, CSV) chosen by file ending; streaming JSONL; atomic writes.

verl's ``.json`` files are JSON Lines too, so ``.json`` is read as JSON Lines unless it holds one array.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from sample_forge.errors import InputError

__all__ = [
    "iter_rows",
    "read_rows",
    "write_rows",
    "append_jsonl",
    "atomic_write",
    "table_format",
]

# Free-form dict columns (``meta``) go to Parquet as JSON text: Arrow structs cannot be empty and
# would pad every row with the union of all keys. The list is kept in the file's schema metadata.
_JSON_COLUMNS_KEY = b"sample_forge.json_columns"
JSON_COLUMNS = ("meta",)

_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


def table_format(path: str | os.PathLike[str]) -> str:
    """'jsonl' | 'json' | 'parquet' | 'csv' from the file ending, or an InputError."""
    suffix = Path(path).suffix.lower()
    try:
        return _FORMATS[suffix]
    except KeyError:
        raise InputError(
            f"unknown table format '{suffix or '(none)'}'; use .jsonl, .json, .parquet or .csv",
            path=str(path),
        ) from None


def _iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise InputError(f"malformed JSON ({e})", path=str(path), line=lineno) from None
            if not isinstance(row, dict):
                raise InputError("expected a JSON object per line", path=str(path), line=lineno)
            yield row


def iter_rows(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Stream rows of a table as dicts. JSONL streams line by line; Parquet by record batch."""
    p = Path(path)
    fmt = table_format(p)
    if not p.exists():
        raise InputError("no such file", path=str(p))
    if fmt == "jsonl":
        yield from _iter_jsonl(p)
    elif fmt == "json":
        with open(p, "rb") as f:
            head = f.read(64).lstrip()
        if head.startswith(b"["):
            try:
                data = orjson.loads(p.read_bytes())
            except orjson.JSONDecodeError as e:
                raise InputError(f"malformed JSON ({e})", path=str(p)) from None
            for i, row in enumerate(data):
                if not isinstance(row, dict):
                    raise InputError("expected a list of JSON objects", path=str(p), line=i + 1)
                yield row
        else:
            yield from _iter_jsonl(p)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(p)
        except Exception as e:  # pyarrow raises several types for corrupt files
            raise InputError(f"cannot read Parquet ({e})", path=str(p)) from None
        meta = pf.schema_arrow.metadata or {}
        json_cols = orjson.loads(meta.get(_JSON_COLUMNS_KEY, b"[]"))
        for batch in pf.iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                for c in json_cols:
                    if isinstance(row.get(c), str):
                        row[c] = orjson.loads(row[c])
                yield row
    else:
        with open(p, newline="", encoding="utf-8") as f:
            yield from csv.DictReader(f)


def read_rows(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    return list(iter_rows(path))


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[Any]:
    """Write to a temp file in the same directory, then rename over ``path`` (never a half file)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    # mkstemp makes 0600 files; give the usual umask-based mode (a trainer may run as another user)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _dumps(row: dict[str, Any]) -> bytes:
    return orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def write_rows(
    path: str | os.PathLike[str],
    rows: Iterable[dict[str, Any]],
    *,
    json_columns: tuple[str, ...] = JSON_COLUMNS,
) -> int:
    """Write rows atomically in the format given by the ending. Returns the row count.
    In Parquet, ``json_columns`` are stored as JSON text and decoded again by :func:`iter_rows`."""
    p = Path(path)
    fmt = table_format(p)
    n = 0
    if fmt in ("jsonl", "json"):
        with atomic_write(p, "wb") as f:
            for row in rows:
                f.write(_dumps(row) + b"\n")
                n += 1
        return n
    rows = list(rows)
    n = len(rows)
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        present = [c for c in json_columns if any(c in r for r in rows)]
        if present:
            rows = [
                {k: (orjson.dumps(v).decode() if k in present else v) for k, v in r.items()} for r in rows
            ]
        table = pa.Table.from_pylist(rows)
        if present:
            table = table.replace_schema_metadata(
                {**(table.schema.metadata or {}), _JSON_COLUMNS_KEY: orjson.dumps(present)}
            )
        with atomic_write(p, "wb") as f:
            pq.write_table(table, f)
    else:
        fields: list[str] = []
        for row in rows:
            for k in row:
                if k not in fields:
                    fields.append(k)
        with atomic_write(p, "w") as f:
            w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
            w.writeheader()
            for row in rows:
                w.writerow(
                    {
                        k: (orjson.dumps(v).decode() if isinstance(v, (dict, list)) else v)
                        for k, v in row.items()
                    }
                )
    return n


def append_jsonl(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> None:
    """Append rows to a JSONL log (rejects, failures); each row flushed whole."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "ab") as f:
        for row in rows:
            f.write(_dumps(row) + b"\n")
        f.flush()
