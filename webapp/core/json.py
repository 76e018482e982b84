"""JSON through orjson on the paths every demo request takes: Job's JSON columns, the result cache, the completion
messages and the API's answers. A caption's result carries its attention maps (about 6 kB of floats); the json
module spent about 0.3 ms encoding it and as long decoding it, several times a request. orjson takes a seventh.

Output is the same JSON, written compactly (no spaces after separators). Keys that are not strings are written as
strings, as the json module does.
"""
import datetime
import decimal

import orjson
from django.db import models
from django.http import HttpResponse
from django.utils.duration import duration_iso_string
from django.utils.functional import Promise

OPTIONS = orjson.OPT_NON_STR_KEYS

loads = orjson.loads


def _default(value):
    """What orjson cannot write itself, written as DjangoJSONEncoder writes it."""
    if isinstance(value, Promise):     # a lazily translated string
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.timedelta):
        return duration_iso_string(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumpb(value) -> bytes:
    return orjson.dumps(value, default=_default, option=OPTIONS)


def dumps(value) -> str:
    return dumpb(value).decode()


class JsonResponse(HttpResponse):
    """django.http.JsonResponse for a dict, encoded by orjson."""

    def __init__(self, data, **kwargs):
        kwargs.setdefault("content_type", "application/json")
        super().__init__(content=dumpb(data), **kwargs)


class JSONField(models.JSONField):
    """models.JSONField whose values orjson encodes and decodes (no custom encoder or decoder)."""

    def __init__(self, *args, **kwargs):
        if kwargs.get("encoder") or kwargs.get("decoder"):
            raise TypeError("webapp.core.json.JSONField takes no encoder or decoder; use models.JSONField")
        super().__init__(*args, **kwargs)

    def get_db_prep_value(self, value, connection, prepared=False):
        if not prepared:
            value = self.get_prep_value(value)
        if connection.vendor == "postgresql":
            from psycopg.types.json import Jsonb

            return Jsonb(value, dumps=dumps)
        return dumps(value)

    def from_db_value(self, value, expression, connection):
        if not isinstance(value, (str, bytes)):   # NULL, or a key transform's native value on SQLite
            return value
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
