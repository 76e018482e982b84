"""Error handlers without a browser: the 500 page, and make run's settings keep DEBUG off unless asked."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory

from webapp.core import errors

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.django_db
def test_a_server_error_is_a_friendly_page_for_people_and_json_for_the_api():
    page = errors.server_error(RequestFactory().get("/caption/"))
    assert page.status_code == 500 and b"Something went wrong" in page.content and b"Traceback" not in page.content
    api = errors.server_error(RequestFactory().get("/api/next-word"))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"


@pytest.mark.parametrize("debug, expected", [(None, "False"), ("1", "True"), ("0", "False")])
def test_make_run_serves_with_debug_off_unless_asked(debug, expected):
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    env["DJANGO_SETTINGS_MODULE"] = "webapp.settings.dev"  # what webapp/launcher.py (make run) uses
    if debug is not None:
        env["DEBUG"] = debug
    out = subprocess.run([sys.executable, "-c", "from django.conf import settings; print(settings.DEBUG)"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
