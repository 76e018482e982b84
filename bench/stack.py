"""Start a throw-away Unroll stack (Redis, SQLite or DATABASE_URL, workers, gunicorn) for benchmarks."""
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from webapp import launcher  # noqa: E402


class Stack:
    def __init__(self, workdir, workers=1, concurrency=1, web_threads=8, models_dir=None, env=None, web_processes=3):
        self.workdir = Path(workdir)
        self.port = launcher.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, UNROLL_VAR_DIR=str(self.workdir), DJANGO_SETTINGS_MODULE="webapp.settings.dev",
                        DEBUG="0", **(env or {}))
        if not self.env.get("BENCH_DATABASE_URL"):
            self.env.pop("DATABASE_URL", None)  # SQLite in the scratch folder, never a shared database
        else:
            self.env["DATABASE_URL"] = self.env["BENCH_DATABASE_URL"]
        if models_dir:
            self.env["UNROLL_MODELS_DIR"] = str(models_dir)
        self.workers, self.concurrency, self.web_threads = workers, concurrency, web_threads
        self.web_processes = web_processes
        self.children = []
        self.redis = None

    def start(self):
        # Always its own Redis (and so a clean queue), unless BENCH_REDIS_URL names one.
        if self.env.get("BENCH_REDIS_URL"):
            self.env["REDIS_URL"] = self.env["BENCH_REDIS_URL"]
        else:
            self.env["REDIS_URL"], self.redis = launcher.start_redis(workdir=self.workdir / "redis",
                                                                     log=self.workdir / "redis.log")
        for args in (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"],
                     ["register_models"]):
            subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True,
                           stdout=subprocess.DEVNULL)
        for i in range(self.workers):
            self.start_worker(i)
        self.web = launcher.spawn(launcher.web_command(f"127.0.0.1:{self.port}", self.web_processes, self.web_threads)
                                  + ["--timeout", "120", "--log-level", "warning"],
                                  env=self.env, log=self.workdir / "web.log")
        self.children.append(("web", self.web))
        self.wait_healthy()
        return self

    def restart_redis(self, down_seconds=2.0):
        """Kill Redis (SIGKILL: everything queued in it is lost, as persistence is off) and start it again on the
        same port."""
        import signal

        port = int(self.env["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
        self.redis.send_signal(signal.SIGKILL)
        self.redis.wait()
        time.sleep(down_seconds)
        _, self.redis = launcher.start_redis(port=port, workdir=self.workdir / "redis", log=self.workdir / "redis.log")

    def start_worker(self, index):
        worker = launcher.spawn(launcher.worker_command(concurrency=self.concurrency, name=f"bench{index}@%h",
                                                        loglevel="warning"),
                                env=self.env, log=self.workdir / f"worker{index}.log")
        self.children.append((f"worker{index}", worker))
        return worker

    def wait_healthy(self, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"stack not healthy after {timeout}s; see {self.workdir}")

    def cpu_seconds(self):
        """{"web", "worker0", ..., "redis": CPU seconds (user + system) so far} of every process in each child's
        process group (each child starts its own session, so pool processes count with their worker)."""
        groups = {proc.pid: name for name, proc in self.children}
        if self.redis:
            groups[self.redis.pid] = "redis"
        ticks = os.sysconf("SC_CLK_TCK")
        totals = dict.fromkeys(groups.values(), 0.0)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            group = groups.get(int(fields[2]))  # field 5 of stat: the process group
            if group:
                totals[group] += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        return totals

    def stop(self):
        for name, proc in reversed(self.children):
            launcher.stop(proc, name)
        if self.redis:
            launcher.stop(self.redis, "redis")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
