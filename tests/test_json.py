"""webapp.core.json: orjson behind Job's JSON columns, the result cache and API answers, with the json module's
output where it matters."""
import datetime
import decimal
import json as std_json

import pytest
from django.utils.translation import gettext_lazy

from webapp.core import json
from webapp.jobs.models import Job


def test_what_orjson_cannot_write_is_written_as_django_writes_it():
    value = {"label": gettext_lazy("Image caption"), "price": decimal.Decimal("1.50"),
             "took": datetime.timedelta(seconds=90), 3: "a key that is not a string"}
    assert std_json.loads(json.dumps(value)) == {"label": "Image caption", "price": "1.50", "took": "P0DT00H01M30S",
                                                 "3": "a key that is not a string"}


def test_an_object_it_cannot_write_is_a_type_error():
    with pytest.raises(TypeError):
        json.dumps({"value": object()})


def test_a_response_is_json_with_its_status():
    response = json.JsonResponse({"error": "Text: too long.", "field": "text"}, status=400)
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert std_json.loads(response.content) == {"error": "Text: too long.", "field": "text"}


def test_the_field_refuses_a_custom_encoder():
    with pytest.raises(TypeError):
        json.JSONField(encoder=std_json.JSONEncoder)


@pytest.mark.django_db
def test_job_columns_round_trip_through_the_database():
    result = {"attention": [[0.0123, 1e-05, 0.5]], "caption": "a dog runs", "nested": {"ok": True, "none": None}}
    job = Job.objects.create(kind=Job.Kind.CAPTION, input={"beam": 3, "text": "ünïcode ✓"}, result=result,
                             progress=None)
    stored = Job.objects.get(pk=job.pk)
    assert stored.result == result and stored.input == {"beam": 3, "text": "ünïcode ✓"} and stored.progress is None
    assert Job.objects.filter(input__beam=3, result__caption="a dog runs").count() == 1   # lookups still work
