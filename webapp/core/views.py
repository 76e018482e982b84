from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from webapp.nextword import probes

from . import health, navigation


@never_cache
def healthz(request):
    report = health.report()
    return JsonResponse(report, status=200 if report["ok"] else 503)


UNROLLED = [("i", "am"), ("am", "from"), ("from", "nepal"), ("nepal", "…")]


def home(request):
    steps = [{"x": 30 + 150 * i, "word": word, "next": following} for i, (word, following) in enumerate(UNROLLED)]
    return render(request, "core/home.html", {"health": health.report(), "demos": navigation.demos(),
                                              "unrolled_steps": steps, "seed_claims": probes.seed_claims()})
