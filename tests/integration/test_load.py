"""The short CI variant of bench/load.py: many clients, two workers, zero errors, zero lost jobs."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_short_load_run_has_no_errors_and_loses_no_job(tiny_lm_dir, tiny_caption_dir, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(tiny_lm_dir, models / "lm")
    shutil.copytree(tiny_caption_dir, models / "caption")
    run = subprocess.run([sys.executable, "bench/load.py", "--clients", "40", "--seconds", "10", "--workers", "2",
                          "--no-cache", "--models-dir", str(models), "--json"], cwd=ROOT, capture_output=True,
                         text=True, timeout=400)
    assert run.returncode in (0, 1), run.stderr[-3000:]
    assert run.stdout.strip(), run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["requests"] > 40, report
    assert report["errors"] == 0 and report["lost"] == 0, json.dumps(report, indent=1)
    assert report["next_word"]["n"] > 0 and report["caption"]["n"] > 0
    # Forty clients at two workers: jobs wait together and are served together, each through the model.
    assert report["batch_size"]["max"] > 1 and report["from_cache"] == 0, report


def test_redis_restart_under_load_loses_no_job(tiny_lm_dir, tiny_caption_dir, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(tiny_lm_dir, models / "lm")
    shutil.copytree(tiny_caption_dir, models / "caption")
    run = subprocess.run([sys.executable, "bench/load.py", "--clients", "20", "--seconds", "12", "--workers", "2",
                          "--restart-redis-at", "4", "--models-dir", str(models), "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=500)
    assert run.returncode in (0, 1), run.stderr[-3000:]
    assert run.stdout.strip(), run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["redis_restarted"] and report["jobs"] > 20
    assert report["errors"] == 0 and report["lost"] == 0, json.dumps(report, indent=1)
