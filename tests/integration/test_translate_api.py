"""Translate end to end: HTTP -> job -> real worker -> real (toy) translator -> HTTP, and every bad input."""
import pytest

from tests.support.http import post_json
from tests.support.translate import toy_pairs

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_sentence_comes_back_translated_with_beams_attention_and_a_permalink(live_server, celery_worker,
                                                                               translate_versions, toy_translator_dirs,
                                                                               client):
    import sacrebleu

    from ml.translate.translator import Translator

    source, reference = toy_pairs(1, seed=42)[0]
    status, body = post_json(f"{live_server.url}/api/translate", {"text": source, "source": "en", "target": "de",
                                                                   "beam": 4})
    assert status == 200, body
    expected = Translator.from_dir(toy_translator_dirs["general"]).translate(source, beam=4)
    assert body["translation"] == expected["translation"] and body["nbest"] == expected["nbest"]
    assert sacrebleu.sentence_chrf(body["translation"], [reference]).score > 50    # it learnt the toy language
    assert len(body["nbest"]) == 4 and body["nbest"][0]["text"] == body["translation"]
    attention = body["attention"]
    assert len(attention["weights"]) == len(attention["target"])
    assert all(len(row) == len(attention["source"]) for row in attention["weights"])
    assert body["model"] == {"slot": "en-de", "label": "Toy · with attention",
                             "version": translate_versions["en-de"].version, "attention": True}

    page = client.get(body["page_url"].replace(live_server.url, ""))
    assert page.status_code == 200
    assert expected["translation"] in page.content.decode() and source in page.content.decode()

    status, body = post_json(f"{live_server.url}/api/translate", {"text": source, "model": "en-de-noattn"})
    assert status == 200, body
    assert body["attention"] is None and body["model"]["attention"] is False and body["beam"] == 5


@pytest.mark.parametrize("payload,field,message", [
    ({"text": ""}, "text", "Text: type an English sentence first"),
    ({"text": "   "}, "text", "only whitespace"),
    ({"text": "a" * 501}, "text", "under 500 characters"),
    ({"text": "A dog.", "target": "es"}, "target", "choose 'de' (German) or 'fr' (French)"),
    ({"text": "A dog.", "source": "de"}, "source", "only English"),
    ({"text": "A dog.", "target": "fr"}, "target", "no translation model for 'en-fr'"),
    ({"text": "A dog.", "model": "en-xx"}, "model", "no translation model for 'en-xx'"),
    ({"text": 5}, "text", "must be a string"),
    ({"text": "A dog.", "beam": "5"}, "beam", "whole number between 1 and 10"),
    ({"text": "A dog.", "beam": 11}, "beam", "at most 10"),
    ({"text": "A dog.", "beam": 0}, "beam", "at least 1"),
    ({"text": "A dog.", "target": ["de"]}, "target", "must be a string"),
])
def test_bad_input_is_refused_with_the_field(live_server, translate_versions, payload, field, message):
    status, body = post_json(f"{live_server.url}/api/translate", payload)
    assert status == 400, body
    assert body["field"] == field and message in body["error"], body


def test_no_installed_model_is_a_clear_error(live_server, db):
    status, body = post_json(f"{live_server.url}/api/translate", {"text": "A dog runs."})
    assert status == 400 and body["field"] == "target" and "no translation model" in body["error"]


def test_a_caption_translation_is_its_own_job_and_is_stored_with_the_caption(live_server, celery_worker,
                                                                             caption_version, translate_versions):
    from tests.support.http import jpeg, post_image
    from webapp.jobs.models import Job

    status, caption = post_image(f"{live_server.url}/api/captions", jpeg(), fields={"wait": "10"})
    assert status == 200 and caption["status"] == "succeeded", caption
    url = f"{live_server.url}/api/captions/{caption['id']}/translations"
    status, body = post_json(url, {"target": "de"})
    assert status == 200 and body["kind"] == "translate" and body["status"] == "succeeded", body
    sentence = body["result"]["source_text"]
    assert sentence[0].isupper() and sentence.endswith(".")
    assert sentence[:-1].lower() == caption["result"]["caption"].lower()
    stored = Job.objects.get(pk=caption["id"]).result["translations"]["de"]
    assert stored == {"text": body["result"]["translation"], "job_id": body["id"],
                      "model": {"label": "Toy · with attention", "version": translate_versions["en-de"].version}}

    status, body = post_json(url, {"target": "fr"})
    assert status == 400 and body["field"] == "target" and "en-fr" in body["error"]
    status, body = post_json(url, {"target": "es"})
    assert status == 400 and body["field"] == "target"
    status, body = post_json(f"{live_server.url}/api/captions/00000000-0000-0000-0000-000000000000/translations",
                             {"target": "de"})
    assert status == 404


def test_an_unfinished_caption_cannot_be_translated_yet(live_server, translate_versions):
    from webapp.jobs.models import Job

    queued = Job.objects.create(kind=Job.Kind.CAPTION, input={"beam": 3})
    status, body = post_json(f"{live_server.url}/api/captions/{queued.pk}/translations", {"target": "de"})
    assert status == 400 and "has not finished yet" in body["error"]
