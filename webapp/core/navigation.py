"""The demos the site links to; a demo whose URL is not installed yet shows as coming soon."""
from django.urls import NoReverseMatch, reverse

# (URL name, title, blurb, call to action, short title for the navigation on a phone)
DEMOS = [
    ("captions:page", "Caption an image", "Upload a photo; a CNN encoder and an attention LSTM describe it, with the "
     "other beams and a heatmap of where it looked for every word.", "Caption a photo", "Caption"),
    ("nextword:page", "Guess the next word", "Type a prompt and watch RNN, LSTM and GRU language models guess the next "
     "word as you type. Peek inside the LSTM's forget, input and output gates.", "Start typing", "Next word"),
    ("translate:page", "Translate", "Type English and watch a GRU encoder-decoder write German or French, with the "
     "attention matrix that shows which English words it looked at for each word it wrote.", "Translate a sentence",
     "Translate"),
    ("forecast:page", "Forecast", "Forecast CO2, sunspots or the S&P 500 with an LSTM, side by side with the naive, "
     "seasonal and statsmodels baselines, and the plain truth about whether it beats them.", "Forecast a series",
     "Forecast"),
    ("lab:page", "Gradient lab", "Train a vanilla RNN, an LSTM and a GRU on a long-range task and watch gradients "
     "vanish or explode, and how gates, clipping and initialisation cure them.", "Run an experiment", "Lab"),
]


def _url(name):
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def demos():
    return [{"title": t, "blurb": b, "cta": c, "short": short, "url": _url(name)} for name, t, b, c, short in DEMOS]


def nav_links(request):
    links = [{"title": d["title"], "short": d["short"], "url": d["url"]} for d in demos()]
    history = _url("jobs:history")
    if history:
        links.append({"title": "History", "short": "History", "url": history})
    return {"nav_links": [link for link in links if link["url"]]}
