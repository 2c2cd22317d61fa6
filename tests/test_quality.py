"""The code-quality gates run as tests, so CI (``make test``) enforces them.

ruff (lint and format) over everything, and ``mypy --strict`` over ``src/``,
exactly as the Makefile's ``lint`` and ``typecheck`` targets run them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    "argv",
    [
        ("ruff", "check", "src", "tests", "bench"),
        ("ruff", "format", "--check", "src", "tests", "bench"),
        ("mypy", "src"),
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_quality_gate(argv: tuple[str, ...]) -> None:
    tool = BIN / argv[0]
    if not tool.exists():
        pytest.skip(f"{argv[0]} is not installed next to {sys.executable}")
    result = _run(str(tool), *argv[1:])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
