"""Every bad forecast request is refused in the web process with the field and the reason, and makes no job."""
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.support.forecast import csv_text, seasonal_values
from webapp.jobs.models import Job

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_rate_limits")]

GOOD = seasonal_values(120)


def post(client, body):
    return client.post("/api/forecast", json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("body,field,message", [
    ({}, "series", "a built-in series name or a list of values"),
    ({"series": "co2", "values": GOOD, "horizon": 3}, "series", "one of them"),
    ({"series": "ftse", "horizon": 3}, "series", "choose one of sp500"),
    ({"series": 5, "horizon": 3}, "series", "must be a string"),
    ({"series": "co2"}, "horizon", "1 to 365"),
    ({"series": "co2", "horizon": 0}, "horizon", "at least 1"),
    ({"series": "co2", "horizon": 366}, "horizon", "at most 365"),
    ({"series": "co2", "horizon": "5"}, "horizon", "whole number"),
    ({"series": "co2", "horizon": 2.5}, "horizon", "whole number"),
    ({"series": "co2", "horizon": 3, "cell": "transformer"}, "cell", "choose one of lstm, gru, rnn"),
    ({"values": "1,2,3", "horizon": 3}, "values", "list of numbers"),
    ({"values": GOOD[:10], "horizon": 3}, "values", "at least 30"),
    ({"values": GOOD[:40] + [None] + GOOD[41:], "horizon": 3}, "values", "values[40] is None"),
    ({"values": GOOD[:40] + ["7"] + GOOD[41:], "horizon": 3}, "values", "not a finite number"),
    ({"values": GOOD[:60], "horizon": 30}, "values", "too few for a 30-step horizon"),
])
def test_bad_api_requests_are_400_with_the_field_and_make_no_job(client, body, field, message):
    response = post(client, body)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field and message in response.json()["error"], response.json()
    assert not Job.objects.exists()


def test_nan_and_too_many_values_are_refused(client):
    body = b'{"values": [' + b", ".join([b"1.0"] * 40 + [b"NaN"] * 5) + b'], "horizon": 1}'
    response = client.post("/api/forecast", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["field"] == "values", response.content
    response = post(client, {"values": [1.0] * 100_001, "horizon": 1})
    assert response.status_code == 400 and "the limit is 100,000" in response.json()["error"]
    assert not Job.objects.exists()


def upload(client, content, name="series.csv", **fields):
    data = {"horizon": 3, "cell": "lstm", **fields,
            "file": SimpleUploadedFile(name, content if isinstance(content, bytes) else content.encode())}
    return client.post("/forecast/upload", data)


LINES = csv_text(GOOD).splitlines()
BAD_CSVS = {
    "empty": ("", "empty"),
    "one column of text": ("name\n" + "\n".join(f"row {i}" for i in range(60)), "no numeric column"),
    "dates out of order": ("\n".join(LINES[:20] + [LINES[30]] + LINES[20:30] + LINES[31:]), "goes back in time"),
    "duplicate dates": ("\n".join(LINES[:21] + [LINES[20]] + LINES[21:]), "the same 'month' as the line before"),
    "a run of NaN": ("\n".join(LINES[:30] + [line.split(",")[0] + ",NaN" for line in LINES[30:40]] + LINES[40:]),
                     "missing or not a number"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00" * 100, "not a text file"),
    "too short": ("\n".join(LINES[:25]), "at least 30"),
    "too short for the horizon": ("\n".join(LINES[:40]), "too few for a 3-step horizon"),
}


@pytest.mark.parametrize("case", BAD_CSVS)
def test_bad_csv_uploads_are_400_with_the_reason_and_make_no_job(client, case):
    content, message = BAD_CSVS[case]
    response = upload(client, content)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "file" and message in response.json()["error"], response.json()
    assert not Job.objects.exists()


def test_ten_megabytes_of_junk_is_refused_with_the_limit(client):
    response = upload(client, b"x,y\n" + b"junk," * 2_000_000)
    assert response.status_code == 400 and "the limit is 5 MB" in response.json()["error"], response.content
    assert not Job.objects.exists()


def test_a_column_that_is_not_there_is_named(client):
    response = upload(client, csv_text(GOOD), column="sales")
    assert response.status_code == 400 and "no column named 'sales'" in response.json()["error"]


def test_a_good_csv_makes_one_training_job(client):
    response = upload(client, csv_text(GOOD), horizon=6, cell="gru")
    assert response.status_code == 202, response.content
    job = Job.objects.get()
    assert job.kind == "forecast" and job.queue == "training" and job.input_file
    assert job.input == {"horizon": 6, "cell": "gru", "column": "", "name": "series", "n": 120, "mode": "train"}
    assert response.json()["page_url"] == f"/forecast/{job.pk}"
