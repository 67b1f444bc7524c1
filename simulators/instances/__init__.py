"""Delivery days to replay: MDRP library instances and real days, detected from a directory.

`load_instance(path)` looks at the files a directory holds and picks the reader
whose files are all there; `find_instances(path)` lists every instance directory
at or below a path, so callers never name files or instances themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from simulators.instances.mdrplib import is_mdrplib, read_mdrplib
from simulators.instances.mdrpsim import is_mdrpsim, read_mdrpsim
from simulators.instances.models import DayCourier, DayOrder, Instance, Rules
from simulators.instances.tables import InstanceFormatError

__all__ = [
    "DayCourier",
    "DayOrder",
    "Instance",
    "InstanceFormatError",
    "Rules",
    "detect_format",
    "find_instances",
    "load_instance",
]

_READERS: tuple[tuple[str, Callable[[Path], bool], Callable[[Path], Instance]], ...] = (
    ("mdrplib", is_mdrplib, read_mdrplib),
    ("mdrp-sim", is_mdrpsim, read_mdrpsim),
)


def detect_format(directory: Path) -> str | None:
    """The name of the format `directory` is in, or None when no reader recognises it."""
    for name, recognises, _ in _READERS:
        if directory.is_dir() and recognises(directory):
            return name
    return None


def load_instance(directory: Path | str) -> Instance:
    """Read the instance in `directory`, whatever its format."""
    path = Path(directory)
    for _, recognises, read in _READERS:
        if path.is_dir() and recognises(path):
            return read(path)
    raise InstanceFormatError(f"{path}: not an instance directory of any known format")


def find_instances(root: Path | str) -> list[Path]:
    """Instance directories at or below `root`, sorted by path."""
    path = Path(root)
    if detect_format(path) is not None:
        return [path]
    found = [p for p in sorted(path.rglob("*")) if detect_format(p) is not None]
    return found
