"""Serve third-party browser files straight from their Python packages, never copied into the repo."""
import importlib.util
from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

# URL under STATIC_URL -> (package, file inside the package)
VENDOR_FILES = {
    "vendor/plotly.min.js": ("plotly", "package_data/plotly.min.js"),
}


def _package_file(package, relative):
    spec = importlib.util.find_spec(package)
    return Path(spec.origin).parent / relative if spec and spec.origin else None


class PackageFileFinder(BaseFinder):
    def find(self, path, find_all=False, **kwargs):
        if path not in VENDOR_FILES:
            return [] if find_all else None
        found = _package_file(*VENDOR_FILES[path])
        if found is None or not found.exists():
            return [] if find_all else None
        return [str(found)] if find_all else str(found)

    def list(self, ignore_patterns):
        for url_path, (package, relative) in VENDOR_FILES.items():
            found = _package_file(package, relative)
            if found and found.exists():
                storage = FileSystemStorage(location=str(found.parent))
                storage.prefix = str(Path(url_path).parent)
                yield found.name, storage
