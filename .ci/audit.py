"""`make audit`: pip-audit over requirements.txt (its pins and what they pull in), failing on a
known vulnerability, and failing loudly, never passing, when no vulnerability data came back.

Run with the audit's own virtualenv (`.local/audit-venv`, which `make audit` builds), so that
pip-audit's dependencies stay out of the project's. Exit status: 0 nothing known, 1 a known
vulnerability, 2 the audit could not be done (the service unreachable, or a package it could
not look up). pip-audit itself passes a package it could not look up with a warning ("No known
vulnerabilities found"): the report is read here so that such a run does not pass.

    python .ci/audit.py [--service pypi|osv] [--report FILE] [requirements.txt]

`--report FILE` reads a pip-audit JSON report already written instead of running pip-audit.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

UNREACHABLE = (
    "FATAL: the dependency audit could not be done: {why}. The audit is incomplete, so this "
    "is not a pass (whatever pip-audit printed above). pip-audit needs its vulnerability "
    "service ({service}: {url}); check that this machine reaches it, or try the other one: "
    "`make audit AUDIT_SERVICE=osv` (or pypi)."
)
URLS = {
    "pypi": "https://pypi.org/pypi/<name>/<version>/json",
    "osv": "https://api.osv.dev/v1/query",
}


def verdict(report, service):
    """(exit status, message) for a pip-audit JSON report (a dict), or for None: no report."""
    if report is None:
        why = "pip-audit stopped without a report (its error is above)"
        return 2, UNREACHABLE.format(why=why, service=service, url=URLS.get(service, service))
    skipped = [d for d in report.get("dependencies", []) if "skip_reason" in d]
    if skipped:
        total = len(report["dependencies"])
        why = f"{len(skipped)} of {total} packages could not be looked up, the first: "
        why += skipped[0]["skip_reason"]
        return 2, UNREACHABLE.format(why=why, service=service, url=URLS.get(service, service))
    found = [
        f"{d['name']} {d['version']}: {v['id']}"
        + (f" (fixed in {', '.join(v['fix_versions'])})" if v.get("fix_versions") else "")
        for d in report.get("dependencies", [])
        for v in d.get("vulns", [])
    ]
    if found:
        return 1, "FAIL: known vulnerabilities:\n  " + "\n  ".join(found)
    count = len(report.get("dependencies", []))
    return 0, f"No known vulnerabilities in {count} packages ({service})."


def run_pip_audit(requirements, service):
    """pip-audit's JSON report as a dict, or None when it wrote none (an error)."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "report.json"
        subprocess.run(
            [sys.executable, "-m", "pip_audit", "--requirement", requirements]
            + ["--vulnerability-service", service, "--format", "json", "--output", str(output)]
            + ["--progress-spinner", "off"],
            check=False,
        )
        return json.loads(output.read_text()) if output.exists() else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requirements", nargs="?", default="requirements.txt")
    parser.add_argument("--service", choices=sorted(URLS), default="pypi")
    parser.add_argument("--report", help="read this pip-audit JSON report, run nothing")
    options = parser.parse_args(argv)
    if options.report:
        path = Path(options.report)
        report = json.loads(path.read_text()) if path.exists() else None
    else:
        report = run_pip_audit(options.requirements, options.service)
    status, message = verdict(report, options.service)
    print(message, file=sys.stderr if status else sys.stdout)
    return status


if __name__ == "__main__":
    sys.exit(main())
