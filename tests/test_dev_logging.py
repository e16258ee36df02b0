"""`make run` logs each line of the development server once (issue 15).

Django's default logging gave the "django" logger a console handler of its own (with debug on)
that also propagated to the root's console: "Not Found: /x/" and "Watching for file changes"
came out twice. Run in a fresh process with the development environment of `make run`, since
the logging is configured once, at setup, from the settings.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EMIT = """
import logging
import django

django.setup()
logging.getLogger("django.server").info('"GET /api/ HTTP/1.1" 200 446')
logging.getLogger("django.request").warning("Not Found: /nope/")
logging.getLogger("django.utils.autoreload").info("Watching for file changes with StatReloader")
logging.getLogger("huey").info("Executing events.tasks.run_import")
"""


def emitted(debug):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "diplomacy.settings",
        "DJANGO_DEBUG": "1" if debug else "0",
    }
    env.pop("DJANGO_LOG_LEVEL", None)
    done = subprocess.run(
        [sys.executable, "-c", EMIT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_each_development_server_line_is_logged_once():
    output = emitted(debug=True)
    assert output.count('"GET /api/ HTTP/1.1" 200 446') == 1, output
    assert output.count("Not Found: /nope/") == 1, output
    assert output.count("Watching for file changes") == 1, output
    assert output.count("Executing events.tasks.run_import") == 1, output


def test_request_lines_keep_their_time():
    """The server's own handler (with the time) still writes its request lines."""
    line = next(line for line in emitted(debug=True).splitlines() if "GET /api/" in line)
    assert line.startswith("[") and '] "GET /api/ HTTP/1.1" 200 446' in line


def test_with_debug_off_warnings_are_still_logged_once():
    output = emitted(debug=False)
    assert output.count("Not Found: /nope/") == 1, output
