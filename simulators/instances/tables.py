"""Reading delimited text tables and clock times, shared by the instance readers."""

from __future__ import annotations

import csv
from pathlib import Path

DAY_S = 86_400.0


class InstanceFormatError(ValueError):
    """A file of an instance is missing a column or holds a value that cannot be read."""


def read_rows(path: Path, delimiter: str) -> list[dict[str, str]]:
    """Rows of a delimited file with a header line, keys stripped and lower-cased."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = [name.strip().lower() for name in next(reader)]
        except StopIteration:
            raise InstanceFormatError(f"{path}: empty file") from None
        rows = []
        for line in reader:
            if not line or not any(cell.strip() for cell in line):
                continue
            if len(line) != len(header):
                raise InstanceFormatError(f"{path}: {len(line)} cells, header has {len(header)}")
            rows.append({k: v.strip() for k, v in zip(header, line, strict=True)})
        return rows


def column(row: dict[str, str], name: str, path: Path) -> str:
    """The cell `name` of a row, or InstanceFormatError naming the file."""
    try:
        return row[name]
    except KeyError:
        raise InstanceFormatError(f"{path}: no column {name!r}") from None


def number(row: dict[str, str], name: str, path: Path) -> float:
    """The cell `name` of a row as a float."""
    text = column(row, name, path)
    try:
        return float(text)
    except ValueError:
        raise InstanceFormatError(f"{path}: {name}={text!r} is not a number") from None


def clock_s(text: str, path: Path) -> float:
    """Seconds since midnight of an ``HH:MM[:SS]`` clock time (hours may pass 24)."""
    parts = text.split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError(text)
        values = [float(p) for p in parts]
    except ValueError:
        raise InstanceFormatError(f"{path}: {text!r} is not a clock time") from None
    return values[0] * 3600 + values[1] * 60 + (values[2] if len(values) == 3 else 0.0)


def after(time_s: float, reference_s: float) -> float:
    """`time_s` moved to the next day when it lies more than half a day before `reference_s`.

    Real days record clock times only, so a food ready at 00:10 for an order placed
    at 23:55 reads as earlier than the placement.
    """
    return time_s + DAY_S if time_s < reference_s - DAY_S / 2 else time_s
