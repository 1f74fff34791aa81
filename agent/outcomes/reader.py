"""Reading a CRM export: CSV (with or without a byte-order mark) or JSON Lines, each row with its line number."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

FileFormat = Literal["csv", "jsonl"]
MAX_FIELD = 1 << 20


class UnreadableFile(ValueError):
    """The file as a whole cannot be read; the message says why in one line."""


@dataclass(frozen=True)
class Row:
    line: int  # 1-based line where the row starts (the CSV header is line 1)
    cells: dict[str, str | None]


def guess_format(path: Path) -> FileFormat:
    return "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else "csv"


def read_rows(path: Path, fmt: FileFormat) -> tuple[list[str], list[Row]]:
    """The header (CSV) or the union of keys (JSONL), and every data row; UnreadableFile if the file cannot be."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UnreadableFile(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UnreadableFile(f"{path}: is a directory") from None
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"{path}: not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise UnreadableFile(f"{path}: cannot be read ({error.strerror or type(error).__name__})") from None
    rows = list(_csv_rows(text) if fmt == "csv" else _jsonl_rows(text))
    header = rows.pop(0).cells if fmt == "csv" and rows else None
    columns = list(header) if header is not None else sorted({key for row in rows for key in row.cells})
    if not rows:
        raise UnreadableFile(f"{path}: no data rows")
    return columns, rows


def _csv_rows(text: str) -> Iterator[Row]:
    csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    start = 1
    try:
        for values in reader:
            line, start = start, reader.line_num + 1
            if header is None:
                header = [value.strip() for value in values]
                if not any(header):
                    raise UnreadableFile("the first line is not a header")
                yield Row(line, dict.fromkeys(header))
                continue
            if not any(value.strip() for value in values):
                continue  # blank line
            cells: dict[str, str | None] = dict(zip(header, values, strict=False))
            if len(values) > len(header):
                cells["\x00extra"] = "x"  # reported by the importer as a malformed row
            yield Row(line, cells)
    except csv.Error as error:
        raise UnreadableFile(f"line {reader.line_num}: not CSV ({error})") from None


def _jsonl_rows(text: str) -> Iterator[Row]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            yield Row(number, {"\x00invalid": "not a JSON object"})
            continue
        if not isinstance(value, dict):
            yield Row(number, {"\x00invalid": "not a JSON object"})
            continue
        yield Row(number, {str(k): None if v is None else str(v) for k, v in value.items()})
