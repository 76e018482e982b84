"""The README is the map: every page and endpoint in the URL conf is listed there."""
import re
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def readme_parameter(match):
    return "<id>" if match.group(1).endswith("id") else f"<{match.group(1)}>"


def routes(patterns=None, prefix=""):
    """Every URL pattern outside the admin as README writes it: `/caption/<id>` for `caption/<uuid:job_id>`."""
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if not route.startswith("admin/"):
                yield from routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield "/" + re.sub(r"<(?:\w+:)?(\w+)>", readme_parameter, route)


def test_every_page_and_endpoint_is_in_the_readme():
    found = sorted(set(routes()))
    assert len(found) >= 14
    missing = [route for route in found if f"{route}`" not in README]
    assert not missing, f"README.md does not list: {missing}"
    assert "`/admin/`" in README


def test_every_environment_variable_is_in_the_readme():
    root = Path(__file__).resolve().parents[1]
    read = re.compile(r"""(?:environ\.get|env_bool|env_list|getenv)\(\s*["']([A-Z][A-Z0-9_]+)["']""")
    names = {name for folder in ("webapp", "ml") for path in (root / folder).rglob("*.py")
             for name in read.findall(path.read_text())}
    assert {"DEBUG", "REDIS_URL", "SECRET_KEY"} <= names
    missing = sorted(name for name in names if f"`{name}`" not in README and f"`{name}=" not in README)
    assert not missing, f"README.md's configuration table does not list: {missing}"
