from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path

from . import services
from .models import ModelVersion

# The metrics worth comparing, in the order shown; a version shows those it has.
METRICS = [("valid_ppl", "Valid ppl"), ("test_ppl", "Test ppl"), ("bleu1", "BLEU-1"), ("bleu4", "BLEU-4"),
           ("cider", "CIDEr"), ("train_wall_s", "Train time (s)"), ("tokens_per_s", "Tokens/s")]


def metric(version, key):
    value = (version.metrics or {}).get(key)
    if value is None and key == "test_ppl":
        value = (version.metrics or {}).get("test", {}).get("perplexity") if isinstance(
            (version.metrics or {}).get("test"), dict) else None
    return round(value, 3) if isinstance(value, float) else value


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("label", "kind", "slot", "version", "is_active", "source", "valid_ppl", "bleu4", "created_at")
    list_filter = ("kind", "slot", "is_active", "source")
    readonly_fields = ("kind", "slot", "version", "path", "config", "metrics", "command", "source", "is_active",
                       "created_at", "activated_at")
    fields = ("label",) + readonly_fields
    actions = ["compare"]
    change_form_template = "admin/registry/modelversion/change_form.html"

    @admin.display(description="Valid ppl")
    def valid_ppl(self, obj):
        return metric(obj, "valid_ppl") or "—"

    @admin.display(description="BLEU-4")
    def bleu4(self, obj):
        return metric(obj, "bleu4") or "—"

    def has_add_permission(self, request):
        return False  # versions come from shipped checkpoints and training runs

    @admin.action(description="Compare selected versions side by side")
    def compare(self, request, queryset):
        versions = list(queryset.order_by("kind", "slot", "version"))
        rows = [(label, [metric(v, key) for v in versions]) for key, label in METRICS
                if any(metric(v, key) is not None for v in versions)]
        context = {**self.admin_site.each_context(request), "title": "Compare model versions",
                   "versions": versions, "rows": rows, "opts": self.model._meta}
        return TemplateResponse(request, "admin/registry/modelversion/compare.html", context)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/activate/", wrap(self.activate_view), name="registry_modelversion_activate"),
            path("<int:pk>/rollback/", wrap(self.rollback_view), name="registry_modelversion_rollback"),
        ] + super().get_urls()

    def _check(self, request):
        if request.method != "POST" or not request.user.has_perm("registry.activate_modelversion"):
            raise PermissionDenied

    def activate_view(self, request, pk):
        self._check(request)
        version = services.activate(get_object_or_404(ModelVersion, pk=pk))
        messages.success(request, f"{version} now serves “{version.slot}”. Workers use it from their next job.")
        return redirect("admin:registry_modelversion_change", pk)

    def rollback_view(self, request, pk):
        self._check(request)
        version = get_object_or_404(ModelVersion, pk=pk)
        previous = services.rollback(version.kind, version.slot)
        if previous is None:
            messages.warning(request, "There is no earlier active version of this slot to roll back to.")
            return redirect("admin:registry_modelversion_change", pk)
        messages.success(request, f"Rolled back: {previous} serves “{previous.slot}” again.")
        return redirect("admin:registry_modelversion_change", previous.pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"can_activate": request.user.has_perm("registry.activate_modelversion")}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})
