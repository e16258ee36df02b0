"""ruff lint and format are part of the suite."""

import subprocess
import sys

from django.conf import settings


def ruff(*args):
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
    )


def test_ruff_lint():
    result = ruff("check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    result = ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr
