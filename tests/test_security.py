"""Security settings and code rules that keep checkpoints and uploads safe."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_production_settings_pass_the_deploy_check_with_no_warnings():
    # DEBUG and the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE must not leak into a production check.
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(DJANGO_SETTINGS_MODULE="webapp.settings.production", ALLOWED_HOSTS="unroll.example.com",
               SECRET_KEY="a-long-random-production-secret-" + "x7Gq9!mZ2#kP4$wL8^rT6&vB1*nC3(dF5)hJ0" * 2)
    run = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "System check identified no issues (0 silenced)." in run.stdout


def python_files():
    for path in ROOT.rglob("*.py"):
        if not any(part in (".venv", "var", "node_modules", ".git") for part in path.relative_to(ROOT).parts):
            yield path


def test_no_checkpoint_or_data_is_loaded_with_pickle():
    offenders = []
    for path in python_files():
        if path.name == Path(__file__).name:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if re.search(r"torch\.load\(", line) and "weights_only=True" not in line:
                offenders.append(f"{path}:{number}: {line.strip()}")
            if re.search(r"\bpickle\.loads?\(|\bjoblib\.load\(", line):
                offenders.append(f"{path}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_ml_never_imports_django():
    offenders = [str(p) for p in (ROOT / "ml").rglob("*.py")
                 if re.search(r"^\s*(from|import) django", p.read_text(), re.M)]
    assert not offenders


def test_the_web_process_never_imports_torch():
    """Views, forms and URLs load without torch: only workers pay for it (memory, start-up time)."""
    code = ("import django, sys; django.setup(); import webapp.urls; from django.urls import get_resolver; "
            "get_resolver().url_patterns; print('torch' in sys.modules)")
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="webapp.settings.dev")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"
