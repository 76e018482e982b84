from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path

from . import services
from .models import ModelVersion

# Set here (the registry is the admin's own app) rather than in webapp/urls.py: "Django administration" tells a
# new member of staff nothing about where they are.
admin.site.site_header = "Unroll admin"
admin.site.site_title = "Unroll admin"
admin.site.index_title = "Datasets, training runs and model versions"

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
                       "created_at", "activated_at", "previous")
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

    def _check_permission(self, request):
        if not request.user.has_perm("registry.activate_modelversion"):
            raise PermissionDenied

    def _confirm(self, request, version, title, question, consequence, button_id, button_text):
        """A confirmation page in the style of Django's delete confirmation: GET asks, its form POSTs."""
        context = {**self.admin_site.each_context(request), "title": title, "opts": self.model._meta,
                   "original": version, "question": question, "consequence": consequence,
                   "button_id": button_id, "button_text": button_text}
        return TemplateResponse(request, "admin/registry/modelversion/confirm.html", context)

    def activate_view(self, request, pk):
        self._check_permission(request)
        version = get_object_or_404(ModelVersion, pk=pk)
        if request.method != "POST":
            current = services.active_version(version.kind, version.slot)
            instead = f" instead of {current}" if current and current.pk != version.pk else ""
            return self._confirm(
                request, version, "Activate this version?", f"Activate {version}?",
                f"It will serve slot “{version.slot}”{instead} from the workers' next job; "
                f"jobs already running finish on the version they started with.",
                "confirm-activate", f"Yes, activate v{version.version}")
        services.activate(version)
        messages.success(request, f"{version} now serves “{version.slot}”. Workers use it from their next job.")
        return redirect("admin:registry_modelversion_change", pk)

    def rollback_view(self, request, pk):
        self._check_permission(request)
        version = get_object_or_404(ModelVersion, pk=pk)
        target = services.rollback_target(version)
        if target is None:
            # Also reached from a stale page: the version no longer serves, so there is nothing of its to undo.
            reason = ("it does not serve its slot now" if not version.is_active
                      else "no other version served this slot before it was activated")
            messages.warning(request, f"Nothing to roll back to from {version}: {reason}.")
            return redirect("admin:registry_modelversion_change", pk)
        if request.method != "POST":
            return self._confirm(
                request, version, "Roll back this slot?", f"Roll back “{version.slot}” to {target}?",
                f"{target} served this slot before {version} was activated; it will serve again instead of "
                f"v{version.version} from the workers' next job.",
                "confirm-rollback", f"Yes, roll back to v{target.version}")
        previous = services.rollback(version.kind, version.slot)
        messages.success(request, f"Rolled back: {previous} serves “{previous.slot}” again.")
        return redirect("admin:registry_modelversion_change", previous.pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        version = self.get_object(request, object_id)          # None for a missing id: Django says so itself
        extra = {"can_activate": request.user.has_perm("registry.activate_modelversion"),
                 "rollback_target": version and services.rollback_target(version)}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})
