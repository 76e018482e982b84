"""Turn a validated experiment into a job, and (in the worker) a job into charts' data."""
import statistics
from datetime import timedelta

from django.utils import timezone

from webapp.jobs import services as jobs
from webapp.jobs.models import Job

# Each experiment holds a worker for up to 20 s of CPU: one at a time per visitor, a few at a time overall.
MAX_PENDING_PER_SESSION = 1
MAX_PENDING_OVERALL = 4
# A job that has waited this long is someone else's problem (the sweeper's), not a reason to refuse new ones.
PENDING_WINDOW = timedelta(minutes=3)


# The cost model (ml/lab/budget.py) counts work, not seconds on this machine: the page scales it by how long the
# last experiments here really took from click to result. Before any has run, this factor stands in: the ratio
# measured on the 2-core VMs (1.1 on AVX512 EPYCs, 1.7 on AVX2 ones, queueing included).
CALIBRATION_RUNS = 20
DEFAULT_SPEED_FACTOR = 1.4


class LabBusy(Exception):
    """Too many unfinished experiments: the visitor should wait (HTTP 429)."""


def pending():
    return Job.objects.filter(kind=Job.Kind.LAB, status__in=(Job.Status.QUEUED, Job.Status.RUNNING),
                              queued_at__gte=timezone.now() - PENDING_WINDOW)


def speed_factor():
    """(seconds from click to result ÷ the cost model's estimate, runs it is measured on) for this server: the
    median over the last CALIBRATION_RUNS finished experiments, or (DEFAULT_SPEED_FACTOR, 0) before the first."""
    recent = (Job.objects.filter(kind=Job.Kind.LAB, status=Job.Status.SUCCEEDED, finished_at__isnull=False)
              .order_by("-finished_at").only("input", "queued_at", "finished_at")[:CALIBRATION_RUNS])
    ratios = [(job.finished_at - job.queued_at).total_seconds() / job.input["estimated_seconds"]
              for job in recent if (job.input or {}).get("estimated_seconds")]
    if not ratios:
        return DEFAULT_SPEED_FACTOR, 0
    return round(statistics.median(ratios), 3), len(ratios)


def request_experiment(config, *, preset="", estimated_seconds=None, owner=None, session_key=""):
    """Queue one experiment; the visitor's page follows its progress and draws the result."""
    if session_key and pending().filter(session_key=session_key).count() >= MAX_PENDING_PER_SESSION:
        raise LabBusy("Your previous experiment is still running: wait for it to finish, then run the next.")
    if pending().count() >= MAX_PENDING_OVERALL:
        raise LabBusy("The lab is busy with other visitors' experiments: try again in a few seconds.")
    return jobs.create_job(Job.Kind.LAB, {"config": config, "preset": preset, "estimated_seconds": estimated_seconds},
                           owner=owner, session_key=session_key)


def experiment(job, ctx):
    """Worker: run ml.lab on the job's config, reporting progress and stopping when cancelled."""
    from ml.lab.experiment import ExperimentConfig, ExperimentStopped, run_experiment  # torch only in the worker

    try:
        cfg = ExperimentConfig.from_dict(job.input.get("config") or {})
    except (TypeError, ValueError) as exc:
        raise jobs.JobError(f"Invalid experiment: {exc}") from None
    ctx.report(fraction=0.0, run="starting")
    try:
        result = run_experiment(cfg, on_progress=lambda progress: ctx.report(**progress), should_stop=ctx.should_stop)
    except ExperimentStopped:
        raise jobs.JobCancelled() from None
    result["preset"] = job.input.get("preset") or ""
    return result
