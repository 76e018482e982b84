from django.contrib import admin

from .models import ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("label", "kind", "slot", "version", "is_active", "source", "created_at")
    list_filter = ("kind", "slot", "is_active", "source")
    readonly_fields = ("created_at", "activated_at")
