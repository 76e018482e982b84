from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from webapp.jobs import services as jobs

from . import services
from .forms import (CAPTION_FIELDSETS, FORECAST_FIELDSETS, START_FIELDSETS, TRANSLATE_FIELDSETS, DatasetForm,
                    StartCaptionRunForm, StartForecastRunForm,
                    StartRunForm, StartTranslateRunForm, form_sections)
from .models import Dataset, TrainingRun


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    form = DatasetForm
    list_display = ("name", "kind", "summary", "created_by", "created_at")
    list_filter = ("kind",)
    readonly_fields = ("report", "created_by", "created_at")

    @admin.display(description="Contents")
    def summary(self, obj):
        r = obj.report or {}
        if r.get("kind") == "text":
            return f"{r['lines']:,} lines · {r['tokens']:,} tokens · {r['vocabulary']:,} words"
        if r.get("kind") == "captions":
            return f"{r['images']:,} images · {r['captions']:,} captions"
        if r.get("kind") == "parallel":
            return f"{r['pairs']:,} sentence pairs · {r['source_words']:,} → {r['target_words']:,} words"
        return "—"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        services.extract_caption_zip(obj)


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ("label", "slot", "cell", "status_badge", "progress_percent", "best_ppl", "started_by", "queued")
    list_filter = ("job__status", "slot")
    fields = ("label", "slot", "kind", "corpus", "dataset", "params", "run_dir", "started_by", "job")
    readonly_fields = fields
    change_form_template = "admin/training/trainingrun/change_form.html"

    def has_add_permission(self, request):
        return request.user.has_perm("training.start_training")

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Model")
    def cell(self, obj):
        if obj.kind == "translate":
            return f"translator ({'attention' if obj.params.get('attention') != 'none' else 'no attention'})"
        if obj.kind == "forecast":
            return f"forecaster ({obj.params.get('cell', 'lstm')}, {obj.params.get('horizon')} steps)"
        return obj.params.get("cell") if obj.kind == "lm" else "captioner"

    @admin.display(description="Status")
    def status_badge(self, obj):
        return format_html('<span class="run-status run-{}">{}</span>', obj.job.status, obj.job.status)

    @admin.display(description="Progress")
    def progress_percent(self, obj):
        fraction = (obj.job.progress or {}).get("fraction") or (1.0 if obj.job.status == "succeeded" else 0.0)
        return f"{fraction:.0%}"

    @admin.display(description="Best validation")
    def best_ppl(self, obj):
        best = (obj.job.result or {}).get("best")
        if not best:
            return "—"
        if obj.kind == "translate":
            return f"BLEU {best:.2f}"
        if obj.kind == "forecast":
            return f"MAE {best:.4g}"
        return f"perplexity {best:.1f}" if obj.kind == "lm" else f"score {best:.3f}"

    @admin.display(description="Queued", ordering="job__queued_at")
    def queued(self, obj):
        return obj.job.queued_at

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("start/", wrap(self.start_view), name="training_trainingrun_start"),
            path("start/estimate.json", wrap(self.estimate_view), name="training_trainingrun_estimate"),
            path("<int:run_id>/progress.json", wrap(self.progress_view), name="training_trainingrun_progress"),
            path("<int:run_id>/cancel/", wrap(self.cancel_view), name="training_trainingrun_cancel"),
        ] + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:training_trainingrun_start")

    # kind -> (start form, its sections, page title)
    START_FORMS = {"lm": (StartRunForm, START_FIELDSETS, "Train a language model"),
                   "caption": (StartCaptionRunForm, CAPTION_FIELDSETS, "Train an image captioner"),
                   "translate": (StartTranslateRunForm, TRANSLATE_FIELDSETS, "Train a translator"),
                   "forecast": (StartForecastRunForm, FORECAST_FIELDSETS, "Train a forecaster")}

    @classmethod
    def _start_form(cls, request, data):
        kind = request.GET.get("kind") if request.GET.get("kind") in cls.START_FORMS else "lm"
        return kind, cls.START_FORMS[kind][0](data)

    @staticmethod
    def _estimate(kind, form):
        """Estimate from whatever the form holds: the values that validate, the defaults of an unsent form."""
        if form.is_bound:
            form.is_valid()
            values = form.cleaned_data
        else:
            values = {name: form.get_initial_for_field(field, name) for name, field in form.fields.items()}
        return services.estimate_duration(kind, values)

    def start_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        kind, form = self._start_form(request, request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            run = services.start_run(params=form.params(), slot=data["slot"], label=data["label"],
                                     corpus=data.get("corpus", "dataset"), dataset=data.get("dataset"),
                                     user=request.user, kind=kind)
            messages.success(request, f"Training run “{run.label}” is queued on the training queue.")
            return redirect("admin:training_trainingrun_change", run.pk)
        _, fieldsets, title = self.START_FORMS[kind]
        sections = form_sections(form, fieldsets)
        others = [{"kind": other, "title": other_title} for other, (_, _, other_title) in self.START_FORMS.items()
                  if other != kind]
        context = {**self.admin_site.each_context(request), "title": title, "form": form, "kind": kind,
                   "others": others,
                   "opts": self.model._meta, "sections": sections, "estimate": self._estimate(kind, form)}
        return TemplateResponse(request, "admin/training/trainingrun/start.html", context)

    def estimate_view(self, request):
        """The start form's estimate, asked again by its script whenever a value changes (GET: the form's values)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        kind, form = self._start_form(request, request.GET)
        return JsonResponse(self._estimate(kind, form))

    def progress_view(self, request, run_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(TrainingRun.objects.select_related("job", "model_version"), pk=run_id)
        job = run.job
        version = run.model_version
        return JsonResponse({
            "status": job.status, "error": job.error or None, "progress": job.progress or {},
            "history": [e for e in run.history if e.get("event") in ("step", "epoch")],
            "result": job.result, "timings": job.timings(), "cancel_requested": job.cancel_requested,
            "log": run.log,
            "version": version and {**version.as_dict(), "is_active": version.is_active,
                                    "url": reverse("admin:registry_modelversion_change", args=[version.pk])},
        })

    def cancel_view(self, request, run_id):
        if request.method != "POST" or not self.has_add_permission(request):
            raise PermissionDenied
        run = get_object_or_404(TrainingRun, pk=run_id)
        jobs.cancel(run.job)
        messages.info(request, "Cancelling: the run stops within a few seconds and keeps its last checkpoint.")
        return redirect("admin:training_trainingrun_change", run.pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = get_object_or_404(TrainingRun.objects.select_related("job"), pk=object_id)
        extra = {"run": run, "can_cancel": self.has_add_permission(request) and not run.job.is_finished,
                 "command": services.command_for(run)}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})
