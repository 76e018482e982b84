from django.contrib import admin

from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "attempts", "worker", "queued_at", "finished_at")
    list_filter = ("kind", "status", "queue")
    search_fields = ("id", "error", "worker")
    readonly_fields = [f.name for f in Job._meta.fields]

    def has_add_permission(self, request):
        return False
