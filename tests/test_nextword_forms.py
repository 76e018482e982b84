"""Every next-word API field's error names the field, in words a visitor reads ("Words: must be at most 100.")."""
import pytest

from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url, body, field, message", [
    ("/api/next-word", {"text": ""}, "text", "Text: type a few words first; the prompt is empty."),
    ("/api/next-word", {"text": "x" * 2001}, "text", "Text: the prompt is too long; keep it under 2000 characters."),
    ("/api/next-word", {"text": ["a"]}, "text", "Text: must be a string."),
    ("/api/next-word", {"text": "a", "model": "nope"}, "model",
     "Model: unknown model 'nope'; pick one from the model selector."),
    ("/api/next-word", {"text": "a", "k": 0}, "k", "k: must be at least 1."),
    ("/api/next-word", {"text": "a", "k": 2.5}, "k", "k: must be a whole number between 1 and 20."),
    ("/api/next-word", {"text": "a", "target": "two words"}, "target",
     "Target: must be a single word (the word you expect next)."),
    ("/api/next-word", {"text": "a", "target": "x" * 41}, "target", "Target: one word of at most 40 characters."),
    ("/api/next-word", {"text": "a", "target": 7}, "target", "Target: must be a string."),
    ("/api/next-word/sample", {"text": "a", "words": 101}, "words", "Words: must be at most 100."),
    ("/api/next-word/sample", {"text": "a", "words": "lots"}, "words",
     "Words: must be a whole number between 1 and 100."),
    ("/api/next-word/sample", {"text": "a", "temperature": 0.01}, "temperature", "Temperature: must be at least 0.05."),
    ("/api/next-word/sample", {"text": "a", "temperature": 9}, "temperature", "Temperature: must be at most 3."),
    ("/api/next-word/sample", {"text": "a", "temperature": "hot"}, "temperature",
     "Temperature: must be a number between 0.05 and 3."),
    ("/api/next-word/sample", {"text": "a", "top_k": 1001}, "top_k", "Top-k: must be at most 1000."),
    ("/api/next-word/sample", {"text": "a", "seed": -1}, "seed", "Seed: must be at least 0."),
    ("/api/next-word/sample", {"text": "a", "seed": 2**31}, "seed", "Seed: must be at most 2147483647."),
    ("/api/next-word/inspect", {"text": "   "}, "text", "Text: type a few words first; the prompt is only whitespace."),
])
def test_each_field_error_names_the_field(client, lm_version, url, body, field, message):
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": message, "field": field}
    assert not Job.objects.exists()


def test_a_sample_without_a_seed_records_the_one_it_used():
    from webapp.nextword.forms import SampleForm

    form = SampleForm({"text": "the market", "words": 3})
    form.is_valid()
    assert isinstance(form.cleaned_data["seed"], int) and 0 <= form.cleaned_data["seed"] < 2**31
    form = SampleForm({"text": "the market", "seed": 0})
    form.is_valid()
    assert form.cleaned_data["seed"] == 0


def test_the_page_describes_each_model_from_its_checkpoint(lm_version):
    from webapp.nextword import services

    facts = services.describe(lm_version)
    assert facts["cell"] == "lstm" and facts["gates"] == "lstm" and facts["cell_name"] == "LSTM"
    assert facts["vocabulary"].startswith("Vocabulary: ") and "[number]" in facts["vocabulary"]
