"""`make audit` (.ci/audit.py): a known vulnerability fails, and so does an audit that got no
vulnerability data, which pip-audit alone would pass. Read from pip-audit's JSON reports, in the
shapes pip-audit 2.10 writes, so no network is needed."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "audit.py"


def audit(tmp_path, report):
    path = tmp_path / "report.json"
    if report is not None:
        path.write_text(json.dumps(report))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--report", str(path)], capture_output=True, text=True
    )
    return done.returncode, done.stdout + done.stderr


def test_a_known_vulnerability_fails(tmp_path):
    vuln = {"id": "PYSEC-2023-100", "fix_versions": ["4.2.2"]}
    report = {
        "dependencies": [
            {"name": "django", "version": "4.2.0", "vulns": [vuln]},
            {"name": "sqlparse", "version": "0.6.1", "vulns": []},
        ]
    }
    code, output = audit(tmp_path, report)
    assert code == 1
    assert "FAIL: known vulnerabilities:\n  django 4.2.0: PYSEC-2023-100 (fixed in 4.2.2)" in output


def test_no_known_vulnerability_passes(tmp_path):
    report = {"dependencies": [{"name": "django", "version": "5.2.19", "vulns": []}]}
    assert audit(tmp_path, report) == (0, "No known vulnerabilities in 1 packages (pypi).\n")


@pytest.mark.parametrize(
    "report",
    [
        # What pip-audit writes, exiting 0, when PyPI's JSON API answers 404 for every version.
        {
            "dependencies": [
                {
                    "name": "django",
                    "skip_reason": "Dependency not found on PyPI and could not be audited: "
                    "django (5.2.19)",
                },
                {"name": "sqlparse", "version": "0.6.1", "vulns": []},
            ]
        },
        # No report at all: pip-audit stopped on an error (OSV's host unreachable).
        None,
    ],
)
def test_an_audit_without_vulnerability_data_fails_loudly(tmp_path, report):
    code, output = audit(tmp_path, report)
    assert code == 2
    assert output.startswith("FATAL: the dependency audit could not be done: ")
    assert "this is not a pass" in output
