"""Issue 20, next-word page: what a new user hits in the first ten minutes (gates for every cell, no raw tokens,
honest long-range probes, field-named errors, an accessible slider and a continuation permalink)."""
import re

import pytest
from playwright.sync_api import expect

from tests.support.http import post_json

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}
SPECIAL = re.compile(r"<unk>|<eos>|\bN\b")


def tiny_lm(directory, cell, slot, label, corpus="tiny", extra_words=(), biases=None):
    """A tiny random language model in the real checkpoint format; `biases` pushes chosen tokens' logits up."""
    import torch

    from ml.lm.checkpoint import save_model_dir
    from ml.lm.model import RNNModel
    from ml.lm.tokenizer import Vocab
    from tests.support.lm import tiny_corpus

    torch.manual_seed(0)
    vocab = Vocab(tiny_corpus().vocab.itos + list(extra_words))
    model = RNNModel(len(vocab), cell=cell, emsize=16, nhid=16, nlayers=2, tie_weights=True).eval()
    with torch.no_grad():
        for token, bias in (biases or {}).items():
            model.decoder.bias[vocab.stoi[token]] = bias
    return save_model_dir(directory, model, vocab, {"slot": slot, "label": label, "corpus": corpus},
                          {"command": "tests/browser/test_nextword_ux.py"})


@pytest.fixture(scope="session")
def tiny_gru_dir(tmp_path_factory):
    return tiny_lm(tmp_path_factory.mktemp("models") / "tiny-gru", "gru", "ptb-gru", "Tiny test GRU")


@pytest.fixture(scope="session")
def tiny_rnn_dir(tmp_path_factory):
    return tiny_lm(tmp_path_factory.mktemp("models") / "tiny-rnn", "rnn_tanh", "ptb-rnn", "Tiny test vanilla RNN")


@pytest.fixture(scope="session")
def raw_token_lm_dir(tmp_path_factory):
    """An LSTM that says N and <eos> a lot and would say <unk> most of all, with 'japanese' in its PTB-style vocab."""
    return tiny_lm(tmp_path_factory.mktemp("models") / "tiny-raw", "lstm", "ptb-lstm", "Tiny raw-token LSTM",
                   corpus="ptb", extra_words=("N", "japanese"), biases={"N": 3.0, "<eos>": 3.0, "<unk>": 12.0})


def register(slot, label, directory):
    from webapp.registry import services

    return services.register("lm", slot, label, directory, activate_now=True)


@pytest.fixture
def gru_version(tiny_gru_dir, db):
    return register("ptb-gru", "Tiny test GRU", tiny_gru_dir)


@pytest.fixture
def rnn_version(tiny_rnn_dir, db):
    return register("ptb-rnn", "Tiny test vanilla RNN", tiny_rnn_dir)


@pytest.fixture
def raw_token_version(raw_token_lm_dir, db):
    return register("ptb-lstm", "Tiny raw-token LSTM", raw_token_lm_dir)


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def scrolls_sideways(page):
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


def wide_elements(page):
    """What sticks out past the right edge, for the failure message."""
    return page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5).slice(0, 8)
        .map((e) => `${e.tagName}#${e.id}.${e.className} right=${Math.round(e.getBoundingClientRect().right)}`)""")


def row_headers(page):
    return [text.strip() for text in page.locator(".gate-table tbody th").all_inner_texts()]


# ---- item 2: the gate inspector for every cell ---------------------------------------------------------------

def test_gate_section_follows_the_selected_model_for_gru_and_vanilla_rnn(
        live_server, celery_worker, lm_version, gru_version, rnn_version, page, screenshot):
    page.goto(f"{live_server.url}/next-word/")
    heading = page.locator("#gates-heading")
    expect(heading).to_have_text("Inside the LSTM: forget, input and output gates")

    page.select_option("#model", "ptb-gru")
    expect(heading).to_have_text("Inside the GRU: update and reset gates")
    expect(page.locator("#gates-section")).to_contain_text("update gate decides how much of the old memory to keep")
    page.click("#inspect-button")
    page.locator(".gate-table").wait_for()
    assert row_headers(page)[:4] == ["update gate · layer 1", "update gate · layer 2", "reset gate · layer 1",
                                     "reset gate · layer 2"]
    expect(page.locator("#gates .error")).to_have_count(0)
    expect(page.locator("#model-version")).to_contain_text("Tiny test GRU")
    screenshot(page, "next-word-gates-gru")

    page.select_option("#model", "ptb-rnn")
    expect(heading).to_have_text("Inside the vanilla RNN: no gates")
    expect(page.locator("#gates .gate-table")).to_have_count(0)  # the GRU's table is not shown under this title
    page.click("#inspect-button")
    page.locator(".gate-table").wait_for()
    expect(page.locator("#gates")).to_contain_text("no gates to show")
    headers = row_headers(page)
    assert headers == ["‖h‖ · layer 1", "‖h‖ · layer 2"]
    assert page.locator(".gate-table td.gate").count() == 2 * len(page.locator(".gate-table thead th").all()[1:])
    expect(page.locator("#gates .error")).to_have_count(0)
    screenshot(page, "next-word-gates-rnn")


# ---- item 6: no raw tokens -------------------------------------------------------------------------------------

def test_sampled_text_and_suggestions_never_show_special_tokens(live_server, celery_worker, raw_token_version, page,
                                                                screenshot):
    page.goto(f"{live_server.url}/next-word/")
    page.locator(".suggestion").first.wait_for()
    shown = page.locator(".suggestion .word").all_inner_texts()
    assert "[number]" in shown and not any(SPECIAL.search(word) for word in shown), shown

    page.fill("#words", "40")
    page.click("#sample-button")
    continuation = page.locator(".continuation strong")
    continuation.wait_for()
    text = continuation.inner_text()
    assert "[number]" in text and "." in text, text
    assert not SPECIAL.search(text), text
    page.get_by_role("button", name="Append to my text").click()
    prompt = page.locator("#prompt").input_value()
    assert prompt.startswith("the stock market") and "[number]" in prompt
    assert not SPECIAL.search(prompt), prompt
    screenshot(page, "next-word-no-raw-tokens")

    status, body = post_json(f"{live_server.url}/api/next-word/sample",
                             {"text": "the market", "words": 30, "seed": 3, "temperature": 1.0})
    assert status == 200, body
    tokens, display = body["result"]["continuation"], body["result"]["continuation_text"]
    assert len(tokens) == 30 and "<unk>" not in tokens and {"N", "<eos>"} <= set(tokens)
    assert not SPECIAL.search(display)


def test_vocabulary_line_says_what_each_model_knows(live_server, raw_token_version, gru_version, page):
    page.goto(f"{live_server.url}/next-word/")
    note = page.locator("#vocabulary-note")
    expect(note).to_contain_text("lower-case Wall Street Journal words")  # the PTB-corpus model
    expect(note).to_contain_text("[number]")
    page.select_option("#model", "ptb-gru")
    expect(note).to_contain_text("(tiny)")


# ---- item 10: long-range probes, honest for every model ------------------------------------------------------

def probe_rows(page, results="#probe-results"):
    rows = page.locator(f"{results} tbody tr")
    expect(page.locator(f"{results} td.rank", has_text="…")).to_have_count(0)
    return {row.locator("th").inner_text(): [cell.inner_text() for cell in row.locator("td").all()]
            for row in rows.all()}


def test_probe_shows_where_each_model_ranks_the_expected_word(live_server, celery_worker, raw_token_version,
                                                              gru_version, rnn_version, page, screenshot):
    page.goto(f"{live_server.url}/next-word/")
    probes = page.locator(".probe")
    assert not any(SPECIAL.search(text) for text in probes.all_inner_texts())
    assert not any("nepal" in text for text in probes.all_inner_texts()), "the Nepal example has its own button"

    # The Nepal example compares the default model's family (here the PTB one): it cannot spell the answer.
    expect(page.locator("#seed-note")).to_be_hidden()
    page.click("#seed-button")
    expect(page.locator("#prompt")).to_have_value(re.compile(r"^i am from nepal\. .* i can speak$"))
    expect(page.locator("#seed-results caption")).to_have_text("Where each model ranks “nepali” next")
    rows = probe_rows(page, "#seed-results")
    assert rows == {"Tiny raw-token LSTM": ["not in vocabulary", "—", "[number]"]}, rows
    expect(page.locator("#seed-note")).to_be_visible()
    expect(page.locator("#seed-note a")).to_have_attribute("href", "/lab/")

    page.locator(".probe", has_text="tokyo").click()
    expect(page.locator("#probe-results caption")).to_contain_text("“japanese”")
    rows = probe_rows(page)
    rank, prob, guess = rows["Tiny raw-token LSTM"]
    assert rank.isdigit() and int(rank) > 1 and prob.endswith("%") and guess == "[number]", rows
    assert rows["Tiny test GRU"][0] == "not in vocabulary"
    assert page.locator("#prompt").input_value().endswith("she also speaks")
    screenshot(page, "next-word-probe-table")

    status, body = post_json(f"{live_server.url}/api/next-word", {"text": "she speaks", "target": "Japanese", "k": 1})
    assert status == 200, body
    assert body["target"]["word"] == "japanese" and body["target"]["rank"] >= 1 and 0 < body["target"]["prob"] < 1
    status, body = post_json(f"{live_server.url}/api/next-word", {"text": "i can speak", "target": "nepali"})
    assert status == 200 and body["target"]["rank"] is None and "vocabulary" in body["target"]["note"]


# ---- item 11: field-named errors, the slider's name, the permalink -------------------------------------------

def test_errors_name_the_field_and_the_temperature_slider_has_a_name(live_server, celery_worker, lm_version, page):
    page.goto(f"{live_server.url}/next-word/")
    slider = page.get_by_role("slider", name="Temperature", exact=True)
    slider.fill("1.5")
    expect(page.locator("#temperature-out")).to_have_text("1.5")
    page.fill("#words", "500")
    page.click("#sample-button")
    expect(page.locator("#sample-output .error")).to_have_text("Words: must be at most 100.")


def test_a_continuation_has_a_permalink_page_linked_from_history(live_server, celery_worker, lm_version, page, phone,
                                                                 screenshot):
    page.goto(f"{live_server.url}/next-word/")
    page.click("#sample-button")
    continuation = page.locator(".continuation strong")
    continuation.wait_for()
    text = continuation.inner_text()
    page.get_by_role("link", name="Permalink").click()
    page.wait_for_url(re.compile(r"/next-word/[0-9a-f-]{36}$"))
    permalink = page.url
    expect(page.locator("#continuation-prompt")).to_have_text("the stock market")
    expect(page.locator("#continuation-text")).to_have_text(text)
    settings = page.locator("#settings").inner_text()
    for expected in ("Tiny test LSTM v", "Temperature\n0.8", "Top-k\n40", "Words\n25"):
        assert expected in settings, settings
    assert re.search(r"Seed\n\d+", settings), settings
    assert page.locator("#permalink").input_value() == permalink
    screenshot(page, "next-word-permalink")

    page.goto(f"{live_server.url}/history/")
    entry = page.locator(".history-item", has_text="the stock market")
    assert entry.get_by_role("link", name="Permalink").get_attribute("href") == permalink.removeprefix(live_server.url)

    phone.goto(permalink)
    expect(phone.locator("#continuation-text")).to_have_text(text)
    assert not scrolls_sideways(phone), wide_elements(phone)


def test_phone_width_page_with_gate_and_probe_tables_does_not_scroll_sideways(
        live_server, celery_worker, lm_version, gru_version, rnn_version, phone, screenshot):
    phone.goto(f"{live_server.url}/next-word/")
    phone.fill("#prompt", "the cat sat on the mat and the dog looked at the red car " * 4)
    phone.click("#inspect-button")
    phone.locator(".gate-table").wait_for()
    phone.locator(".probe").nth(1).click()
    probe_rows(phone)
    phone.click("#sample-button")
    phone.locator(".continuation").wait_for()
    assert not scrolls_sideways(phone), wide_elements(phone)
    # The probe table fits its panel: no column hidden behind a scroller the reader may not notice.
    assert phone.evaluate("() => { const t = document.querySelector('.probe-table');"
                          " return t.scrollWidth <= t.parentElement.clientWidth; }")
    screenshot(phone, "next-word-phone")


# ---- issue 22: the "can it?" table and the home page's claim -------------------------------------------------

@pytest.fixture(scope="session")
def wiki_dirs(tmp_path_factory):
    """A tiny wiki-corpus LSTM and vanilla RNN that can spell the Nepal example, scored by the real probe scorer
    (`python -m ml.lm.probes DIR --record`) so their metrics.json holds what a shipped model's would."""
    from ml.lm.probes import score_dir

    root = tmp_path_factory.mktemp("wiki-models")
    words = ("nepal", "nepali", "france", "japan", "japanese", "speak")
    dirs = {"lstm": tiny_lm(root / "lstm", "lstm", "wiki-lstm", "Tiny wiki LSTM", "wiki", words, {"nepali": 6.0}),
            "rnn_tanh": tiny_lm(root / "rnn", "rnn_tanh", "wiki-rnn", "Tiny wiki RNN", "wiki", words)}
    for directory in dirs.values():
        score_dir(directory, record=True)
    return dirs


def test_the_home_claim_and_the_probe_table_agree(live_server, celery_worker, wiki_dirs, raw_token_version,
                                                  page, phone, screenshot):
    import json

    for cell, slot, label in (("lstm", "wiki-lstm", "Tiny wiki LSTM"), ("rnn_tanh", "wiki-rnn", "Tiny wiki RNN")):
        register(slot, label, wiki_dirs[cell])
    recorded = {cell: json.loads((wiki_dirs[cell] / "metrics.json").read_text())["probes"] for cell in wiki_dirs}

    page.goto(f"{live_server.url}/next-word/")
    expect(page.locator("#model")).to_have_value("wiki-lstm")       # general English is the default when installed
    table = page.locator("#probe-scores")
    shown = {}
    for row in table.locator("tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        shown[row.get_attribute("data-model")] = cells
    assert set(shown) == {"wiki-lstm", "wiki-rnn"}, shown         # the PTB test model has no recorded scores
    for slot, cell in (("wiki-lstm", "lstm"), ("wiki-rnn", "rnn_tanh")):
        summary = recorded[cell]["summary"]
        assert shown[slot][0] == f"{summary['n']} (wiki)"
        assert shown[slot][3] == f"{round(summary['top10'] * 100)}%"
        assert float(shown[slot][5]) == pytest.approx(summary["mean_lift_nats"], abs=0.005)
    seed_ranks = {slot: int(re.search(r"ranked (\d+)", cells[6]).group(1)) for slot, cells in shown.items()}
    assert seed_ranks["wiki-lstm"] == 1                            # its bias puts "nepali" first

    page.click("#seed-button")
    rows = probe_rows(page, "#seed-results")
    assert list(rows) == ["Tiny wiki LSTM", "Tiny wiki RNN"], rows   # the wiki family, LSTM first
    assert rows["Tiny wiki LSTM"][0] == "1 ✓"
    assert int(rows["Tiny wiki RNN"][0].replace(",", "")) == seed_ranks["wiki-rnn"]
    screenshot(page, "next-word-can-it-table")

    # The home page claims exactly the recorded ranks, nothing more.
    for viewer in (page, phone):
        viewer.goto(f"{live_server.url}/")
        claims = viewer.locator("#seed-claim [data-model]")
        expect(claims).to_have_count(2)
        assert {c.get_attribute("data-model"): int(c.get_attribute("data-rank")) for c in claims.all()} == seed_ranks
        expect(claims.first).to_have_text(re.compile(r"the\s+LSTM 1st"))
        assert not scrolls_sideways(viewer), wide_elements(viewer)


def test_without_a_model_that_can_spell_it_the_home_page_claims_nothing(live_server, raw_token_version, page):
    page.goto(f"{live_server.url}/")
    expect(page.locator("main")).to_contain_text("I can speak")
    expect(page.locator("#seed-claim")).to_have_count(0)
