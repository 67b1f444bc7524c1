#!/usr/bin/env python3
"""The README's two commands, needing nothing but Python 3.11+.

    python3 dev.py serve [dispatch serve options]   start the service on its embedded defaults
    python3 dev.py test  [pytest options]           lint, type-check, check imports, run the tests
    python3 dev.py bench NAME [--quick]             run benchmarks/NAME.py

Each creates `.venv` on first use (and reinstalls when pyproject.toml changes), so a
newcomer runs nothing else. `make serve` / `make test` do the same.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".installed"


def _fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv() -> None:
    """Create the virtualenv and install the project with its dev extras, if out of date."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file may be run by an older python3
        sys.exit("Python 3.11+ is required: run this file with python3.11 or newer")
    if STAMP.exists() and STAMP.read_text() == _fingerprint():
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(BIN / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    print("installing dependencies (first run takes a minute) ...", flush=True)
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True, cwd=ROOT)
    STAMP.write_text(_fingerprint())


def run(*argv: str) -> None:
    """Run a tool from the virtualenv in the project root; stop on failure."""
    result = subprocess.run([str(BIN / argv[0]), *argv[1:]], check=False, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(result.returncode)


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in ("serve", "test", "bench") or argv == ["bench"]:
        sys.exit(__doc__)
    ensure_venv()
    if argv[0] == "serve":
        os.execv(BIN / "dispatch", [str(BIN / "dispatch"), "serve", *argv[1:]])
    if argv[0] == "bench":
        run("python", "-m", f"benchmarks.{argv[1]}", *argv[2:])
        return
    run("ruff", "check", ".")
    run("mypy")
    run("lint-imports")
    run("pytest", *argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
