"""Dynamic batching with real workers and Redis: waiting jobs run together, a bad input fails alone, a cancelled
job is not run, a worker killed mid-batch loses nothing, and a second "machine" (a worker from another checkout
with its own var directory and host name) shares the load.

Each test queues its jobs on a queue of its own before it starts the worker that serves it, so the jobs are
all waiting when the worker takes its first batch.
"""
import io
import os
import shutil
import signal
import sys
import uuid
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from webapp import launcher
from webapp.jobs import services
from webapp.jobs.models import Job

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def own_queue():
    return f"batch-test-{uuid.uuid4().hex[:8]}"


def all_finished(wait_until, jobs, timeout=60):
    """{id: row} once every job has ended."""
    ids = [job.pk for job in jobs]
    return wait_until(lambda: (rows := {j.pk: j for j in Job.objects.filter(pk__in=ids)}) and
                      all(j.is_finished for j in rows.values()) and rows,
                      timeout=timeout, message=f"{len(ids)} jobs to finish")


def jpeg(colour):
    out = io.BytesIO()
    Image.new("RGB", (160, 120), colour).save(out, "JPEG")
    return ContentFile(out.getvalue(), name="photo.jpg")


def test_waiting_suggestions_run_in_one_batch_and_a_bad_prompt_fails_alone(lm_version, start_worker, wait_until):
    queue = own_queue()
    prompts = ["the stock market", "shares of", "!!! ???", "in new york", "the company said"]
    jobs = [services.create_job(Job.Kind.NEXT_WORD, {"text": text, "k": 3, "model": "ptb-lstm"},
                                model_version=lm_version, queue=queue) for text in prompts]
    worker = start_worker(queues=queue)
    done = all_finished(wait_until, jobs)

    assert "crashed" not in worker.log.read_text()   # the batch handler failed the bad prompt, not itself
    bad = done[jobs[2].pk]
    assert bad.status == Job.Status.FAILED and "punctuation" in bad.error
    for job in jobs[:2] + jobs[3:]:
        row = done[job.pk]
        assert row.status == Job.Status.SUCCEEDED, row.error
        assert len(row.result["suggestions"]) == 3
        assert row.timings()["batch_size"] == len(prompts)      # the batch a job ran in is in its timings
    assert len({row.worker for row in done.values()}) == 1


def test_translations_share_one_batched_beam_search(translate_versions, toy_translator_dirs, start_worker,
                                                    wait_until):
    from ml.translate.translator import Translator
    from tests.support.translate import toy_pairs

    queue = own_queue()
    texts = [source for source, _ in toy_pairs(4, seed=5)]
    texts.insert(2, " ")  # a job only a worker sees: the API refuses an empty text
    version = translate_versions["en-de"]
    jobs = [services.create_job(Job.Kind.TRANSLATE, {"text": text, "source": "en", "target": "de", "beam": 4},
                                model_version=version, queue=queue) for text in texts]
    worker = start_worker(queues=queue)
    done = all_finished(wait_until, jobs)

    assert "crashed" not in worker.log.read_text()   # the batch handler failed the empty text, not itself
    assert done[jobs[2].pk].status == Job.Status.FAILED and "empty" in done[jobs[2].pk].error
    alone = Translator.from_dir(toy_translator_dirs["general"])
    for job, text in zip(jobs, texts):
        if job is jobs[2]:
            continue
        row = done[job.pk]
        assert row.status == Job.Status.SUCCEEDED and row.batch_size == len(texts)
        assert row.result["translation"] == alone.translate(text, beam=4)["translation"]


def test_a_batch_with_a_broken_image_fails_only_that_job(caption_version, start_worker, wait_until):
    queue = own_queue()
    files = [jpeg((200, 40, 40)), jpeg((30, 160, 60)), ContentFile(b"\xff\xd8 not really a JPEG", name="photo.jpg"),
             jpeg((200, 40, 40))]
    jobs = [services.create_job(Job.Kind.CAPTION, {"beam": 2, "image": {}}, input_file=f, model_version=caption_version,
                                queue=queue) for f in files]
    start_worker(queues=queue)
    done = all_finished(wait_until, jobs)

    broken = done[jobs[2].pk]
    assert broken.status == Job.Status.FAILED and "Could not caption this image" in broken.error
    first, second, repeat = done[jobs[0].pk], done[jobs[1].pk], done[jobs[3].pk]
    for row in (first, second, repeat):
        assert row.status == Job.Status.SUCCEEDED, row.error
        assert row.result["caption"] and row.batch_size == 4
    # The same photo twice in a batch runs the model once: the second copy is the first's answer.
    assert repeat.result["caption"] == first.result["caption"] and repeat.result["from_cache"]
    assert "from_cache" not in first.result


def test_a_job_cancelled_while_it_waits_is_not_run_in_the_batch(start_worker, wait_until):
    queue = own_queue()
    jobs = [services.create_job(Job.Kind.DIAGNOSTIC, {"message": f"m{i}"}, queue=queue) for i in range(3)]
    services.cancel(jobs[1])
    start_worker(queues=queue)
    done = all_finished(wait_until, jobs)

    cancelled = done[jobs[1].pk]
    assert cancelled.status == Job.Status.CANCELLED and cancelled.attempts == 0 and cancelled.started_at is None
    for job in (jobs[0], jobs[2]):
        assert done[job.pk].status == Job.Status.SUCCEEDED and done[job.pk].batch_size == 2


def test_a_worker_killed_mid_batch_loses_no_job(start_worker, wait_until):
    queue = own_queue()
    jobs = [services.create_job(Job.Kind.DIAGNOSTIC, {"message": f"m{i}", "hold_seconds": 1.5}, queue=queue)
            for i in range(4)]
    doomed = start_worker(queues=queue)
    wait_until(lambda: Job.objects.filter(pk__in=[j.pk for j in jobs], status=Job.Status.RUNNING).count() == 4,
               timeout=60, message="the worker to claim all four as one batch")
    doomed.kill(signal.SIGKILL)

    start_worker(queues=queue)
    done = all_finished(wait_until, jobs, timeout=90)
    for i, job in enumerate(jobs):
        row = done[job.pk]
        assert row.status == Job.Status.SUCCEEDED, row.error
        assert row.result["echo"] == f"m{i}" and row.attempts == 2


class Machine:
    """A worker started from its own copy of the code, with its own var directory and host name: what a second
    machine pointed at the same PostgreSQL and Redis runs."""

    def __init__(self, root, env, queue, name):
        self.checkout = root / "checkout"
        for part in ("webapp", "ml"):
            shutil.copytree(ROOT / part, self.checkout / part, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy2(ROOT / "manage.py", self.checkout / "manage.py")
        self.var = root / "var"
        self.log = root / "worker.log"
        env = {**env, "UNROLL_VAR_DIR": str(self.var), "UNROLL_TEST_VAR_DIR": str(self.var),
               "UNROLL_MODELS_DIR": str(ROOT / "models"), "JOB_BATCH_SIZE": "2"}
        command = [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", queue, "-n", name, "-l", "info",
                   "--without-gossip", "--without-mingle", "--concurrency", "1"]
        self.proc = launcher.spawn(command, env=env, log=self.log, cwd=self.checkout)

    def wait_ready(self, wait_until):
        wait_until(lambda: self.proc.poll() is None and "ready." in self.log.read_text(errors="replace"),
                   timeout=90, message=f"the worker of {self.checkout}")
        return self

    def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)


def test_a_second_machine_shares_the_load_and_none_is_lost_when_one_dies(worker_env, tmp_path, wait_until):
    queue = own_queue()
    machines = [Machine(tmp_path / name, worker_env, queue, f"{name}@{name}-host").wait_ready(wait_until)
                for name in ("machine-a", "machine-b")]
    for machine in machines:  # each runs its own copy of the code
        assert Path(os.readlink(f"/proc/{machine.proc.pid}/cwd")) == machine.checkout
    jobs = [services.create_job(Job.Kind.DIAGNOSTIC, {"message": f"m{i}", "hold_seconds": 0.4}, queue=queue)
            for i in range(16)]

    # Both take batches; once machine B has finished one, it dies with the next in hand.
    on_b = Job.objects.filter(pk__in=[j.pk for j in jobs], worker__startswith="machine-b@")
    wait_until(lambda: on_b.filter(status=Job.Status.SUCCEEDED).exists() and
               on_b.filter(status=Job.Status.RUNNING).exists(), timeout=60,
               message="machine B to finish a batch and hold another")
    machines[1].kill()
    try:
        done = all_finished(wait_until, jobs, timeout=120)
    finally:
        machines[0].kill()

    assert all(row.status == Job.Status.SUCCEEDED for row in done.values()), [r.error for r in done.values()]
    hosts = {row.worker.split("@")[0] for row in done.values()}
    assert hosts <= {"machine-a", "machine-b"} and "machine-a" in hosts
    finished_on_b = [row for row in done.values() if row.worker.startswith("machine-b@")]
    rerun_on_a = [row for row in done.values() if row.attempts == 2]
    assert finished_on_b, "machine B finished none of the jobs before it died"
    assert rerun_on_a and all(row.worker.startswith("machine-a@") for row in rerun_on_a)
    assert all(row.batch_size <= 2 for row in done.values())
