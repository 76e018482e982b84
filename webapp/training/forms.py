"""The admin forms: a dataset upload validated on the spot, and a training run with every hyper-parameter."""
from django import forms
from django.core.validators import RegexValidator

from webapp.forecast.forms import SERIES as FORECAST_SERIES

from .datasets import DatasetInvalid, inspect_caption_folder, inspect_upload
from .models import Dataset
from .services import data_roots


class DatasetForm(forms.ModelForm):
    class Meta:
        model = Dataset
        fields = ["name", "kind", "file", "target_file", "folder"]

    def clean(self):
        data = super().clean()
        uploaded, folder, kind = data.get("file"), (data.get("folder") or "").strip(), data.get("kind")
        second = data.get("target_file")
        if not uploaded and not folder:
            raise forms.ValidationError("Upload a file or name a folder on the server.")
        try:
            if uploaded:
                target = (second.name, second.read()) if second else None
                self.instance.report = inspect_upload(kind, uploaded.name, uploaded.read(), target)
                uploaded.seek(0)
                if second:
                    second.seek(0)
            elif kind != Dataset.Kind.CAPTIONS:
                raise DatasetInvalid("Server folders are for caption datasets; upload text corpora as .txt files.")
            else:
                self.instance.report = inspect_caption_folder(folder, data_roots())
                data["folder"] = self.instance.report["folder"]
        except DatasetInvalid as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


CELLS = [("lstm", "LSTM"), ("gru", "GRU"), ("rnn_tanh", "Vanilla RNN (tanh)"), ("rnn_relu", "Vanilla RNN (ReLU)")]
INITS = [("xavier", "Xavier (Glorot) uniform"), ("orthogonal", "Orthogonal recurrent weights"),
         ("default", "PyTorch default")]


class StartRunForm(forms.Form):
    """The options of ml.lm.train.LMConfig (same names), with defaults that train well on a small corpus."""

    label = forms.CharField(max_length=120, initial="My corpus · GRU", help_text="Shown to visitors.")
    slot = forms.SlugField(max_length=64, initial="my-corpus",
                           help_text="Which model selector entry this version belongs to, e.g. 'ptb-lstm' to "
                                     "offer a new version of the default model, or a new name.",
                           validators=[RegexValidator(r"^[a-z0-9-]+$", "Lower-case letters, digits and dashes.")])
    corpus = forms.ChoiceField(choices=[("dataset", "An uploaded text dataset"), ("ptb", "Penn Treebank"),
                                        ("shakespeare", "Shakespeare"),
                                        ("wiki", "Wikipedia vital articles (CC BY-SA)")], initial="dataset")
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.filter(kind=Dataset.Kind.TEXT), required=False)

    cell = forms.ChoiceField(choices=CELLS, initial="gru")
    emsize = forms.IntegerField(label="Embedding size", min_value=8, max_value=2048, initial=200)
    nhid = forms.IntegerField(label="Hidden size", min_value=8, max_value=2048, initial=200)
    nlayers = forms.IntegerField(label="Layers", min_value=1, max_value=4, initial=2)
    dropout_emb = forms.FloatField(label="Embedding dropout", min_value=0, max_value=0.9, initial=0.2)
    dropout_hid = forms.FloatField(label="Dropout between layers", min_value=0, max_value=0.9, initial=0.2)
    dropout_out = forms.FloatField(label="Output dropout", min_value=0, max_value=0.9, initial=0.2)
    dropout_weight = forms.FloatField(label="Recurrent weight drop", min_value=0, max_value=0.9, initial=0,
                                      required=False,
                                      help_text="DropConnect on the hidden-to-hidden matrices (AWD-LSTM).")
    tie_weights = forms.BooleanField(required=False, initial=True, help_text="Share embedding and output matrices.")
    init = forms.ChoiceField(label="Initialisation", choices=INITS, initial="xavier")
    subwords = forms.BooleanField(label="Character n-grams", required=False, initial=False,
                                  help_text="Build each word's vector partly from its letters (needs tied "
                                            "embeddings), so rare words share what frequent ones learned.")

    bptt = forms.IntegerField(label="Truncated BPTT length k", min_value=1, max_value=400, initial=35,
                              help_text="Gradients flow back at most k steps; the hidden state is carried on.")
    clip = forms.FloatField(label="Gradient clipping (max norm)", min_value=0.01, max_value=100, initial=0.25)
    optimizer = forms.ChoiceField(choices=[("adam", "Adam"), ("sgd", "SGD")], initial="adam")
    lr = forms.FloatField(label="Learning rate", min_value=1e-6, max_value=100, initial=0.002)
    schedule = forms.ChoiceField(choices=[("plateau", "Decay on plateau"), ("cosine", "Cosine"),
                                          ("constant", "Constant")], initial="plateau")
    lr_decay = forms.FloatField(label="Plateau decay factor", min_value=0.01, max_value=1, initial=0.25)
    warmup_steps = forms.IntegerField(min_value=0, max_value=100000, initial=50)
    weight_decay = forms.FloatField(min_value=0, max_value=1, initial=1.2e-6)
    ema = forms.FloatField(label="Weight averaging (EMA decay, 0 = off)", min_value=0, max_value=0.9999, initial=0)
    batch_size = forms.IntegerField(min_value=1, max_value=512, initial=32)
    epochs = forms.IntegerField(min_value=1, max_value=200, initial=10)
    patience = forms.IntegerField(label="Early-stopping patience (epochs)", min_value=1, max_value=50, initial=3)
    target_ppl = forms.FloatField(label="Stop at validation perplexity", min_value=0, max_value=1e6, initial=0,
                                  required=False,
                                  help_text="Stop as soon as validation perplexity reaches this (0 = train on).")
    validate_every = forms.IntegerField(label="Validate every N steps", min_value=0, max_value=1_000_000, initial=0,
                                        required=False,
                                        help_text="Extra validation passes inside an epoch (0 = at epoch ends).")
    time_budget_min = forms.FloatField(label="Time budget (minutes, 0 = none)", min_value=0, max_value=24 * 60,
                                       initial=0)
    bf16 = forms.BooleanField(label="bfloat16 softmax", required=False, initial=False,
                              help_text="Faster only on CPUs with native bf16 (AVX512-BF16/AMX); elsewhere the "
                                        "run falls back to float32 and says so in its log.")
    threads = forms.IntegerField(label="CPU threads (0 = all)", min_value=0, max_value=64, initial=0)
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=1111)

    RUN_FIELDS = ("label", "slot", "corpus", "dataset")
    OPTIONAL_ZERO = ("dropout_weight", "target_ppl", "validate_every")  # left empty = off

    def clean(self):
        data = super().clean()
        for name in self.OPTIONAL_ZERO:
            if name in data and data[name] is None:
                data[name] = 0
        if data.get("subwords") and not data.get("tie_weights"):
            self.add_error("subwords", "Character n-grams build the one shared matrix: tick “tie weights” too.")
        if data.get("corpus") == "dataset" and not data.get("dataset"):
            self.add_error("dataset", "Choose the uploaded text dataset to train on.")
        return data

    def params(self):
        return {k: v for k, v in self.cleaned_data.items() if k not in self.RUN_FIELDS}


class StartCaptionRunForm(forms.Form):
    """The options of ml.caption.train.CaptionConfig (same names) for a run on a caption dataset."""

    label = forms.CharField(max_length=120, initial="My photos · captioner")
    slot = forms.SlugField(max_length=64, initial="flickr8k",
                           help_text="'flickr8k' offers a new version of the demo's captioner.")
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.filter(kind=Dataset.Kind.CAPTIONS))
    embed_dim = forms.IntegerField(label="Word embedding size", min_value=8, max_value=1024, initial=512)
    hidden_dim = forms.IntegerField(label="LSTM hidden size", min_value=8, max_value=1024, initial=512)
    attention_dim = forms.IntegerField(label="Attention size", min_value=8, max_value=1024, initial=512)
    proj_dim = forms.IntegerField(label="Image feature projection", min_value=8, max_value=1280, initial=512)
    dropout = forms.FloatField(min_value=0, max_value=0.9, initial=0.5)
    tie_weights = forms.BooleanField(required=False, initial=True)
    min_freq = forms.IntegerField(label="Vocabulary: minimum word count", min_value=1, max_value=100, initial=5)
    max_words = forms.IntegerField(label="Longest training caption (words)", min_value=3, max_value=60, initial=20)
    fine_tune_blocks = forms.IntegerField(label="Fine-tune the encoder's last N blocks", min_value=0, max_value=6,
                                          initial=0, help_text="0 keeps MobileNetV2 frozen and caches its features "
                                                               "(fast on a CPU).")
    batch_images = forms.IntegerField(label="Images per batch (×5 captions)", min_value=1, max_value=256, initial=32)
    lr = forms.FloatField(label="Learning rate", min_value=1e-6, max_value=1, initial=4e-4)
    encoder_lr = forms.FloatField(label="Encoder learning rate", min_value=1e-7, max_value=1, initial=1e-4)
    clip = forms.FloatField(label="Gradient clipping (max norm)", min_value=0.01, max_value=100, initial=5.0)
    alpha_c = forms.FloatField(label="Doubly stochastic attention weight", min_value=0, max_value=10, initial=1.0)
    label_smoothing = forms.FloatField(min_value=0, max_value=0.5, initial=0.1)
    epochs = forms.IntegerField(label="Epochs", min_value=1, max_value=100, initial=10)
    patience = forms.IntegerField(label="Early-stopping patience (epochs)", min_value=1, max_value=20, initial=3)
    early_stop_metric = forms.ChoiceField(choices=[("cider", "CIDEr"), ("bleu4", "BLEU-4"),
                                                   ("bleu4+cider", "BLEU-4 + CIDEr")], initial="cider",
                                          help_text="The validation score that picks the best epoch.")
    val_beam = forms.IntegerField(label="Beam width for validation", min_value=1, max_value=10, initial=3)
    time_budget_min = forms.FloatField(label="Time budget (minutes, 0 = none)", min_value=0, max_value=24 * 60,
                                       initial=0)
    threads = forms.IntegerField(label="CPU threads (0 = all)", min_value=0, max_value=64, initial=0)
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=8)
    flip_prob = forms.FloatField(label="Mirrored-photo probability", min_value=0, max_value=1, initial=0.5,
                                 required=False, help_text="Each training photo is seen mirrored this often, "
                                                           "with 'left' and 'right' swapped in its captions.")
    scst_epochs = forms.IntegerField(label="Self-critical epochs (0 = off)", min_value=0, max_value=50, initial=0,
                                     required=False, help_text="After cross-entropy: sample captions, reward "
                                                               "each with its CIDEr-D.")
    scst_lr = forms.FloatField(label="Self-critical learning rate", min_value=1e-7, max_value=1e-2, initial=2e-5,
                               required=False)
    scst_top_p = forms.FloatField(label="Self-critical nucleus (top-p)", min_value=0.05, max_value=1, initial=0.9,
                                  required=False, help_text="Words are sampled from this much of the probability "
                                                            "mass; 1 samples from all of it.")

    RUN_FIELDS = ("label", "slot", "dataset")
    OPTIONAL_DEFAULTS = {"flip_prob": 0.0, "scst_epochs": 0, "scst_lr": 2e-5, "scst_top_p": 0.9}

    def clean(self):
        data = super().clean()
        for name, default in self.OPTIONAL_DEFAULTS.items():
            if data.get(name) is None and name not in self.errors:
                data[name] = default
        if data.get("flip_prob") and data.get("fine_tune_blocks"):
            self.add_error("flip_prob", "Mirrored photos need the frozen encoder: set fine-tuned blocks to 0.")
        return data

    def params(self):
        return {k: v for k, v in self.cleaned_data.items() if k not in self.RUN_FIELDS}


class StartTranslateRunForm(forms.Form):
    """The options of ml.translate.train.TranslateConfig (same names) for a translator run."""

    label = forms.CharField(max_length=120, initial="My sentences · English → German")
    slot = forms.SlugField(max_length=64, initial="en-de", help_text="The language pair first: 'en-de' or 'en-fr' "
                           "offers a new version of the demo's model; 'en-de-noattn' of its no-attention model; "
                           "'en-de-mine' adds a model of your own.",
                           validators=[RegexValidator(r"^en-(de|fr)(-[a-z0-9-]+)?$",
                                                      "Start with the pair: en-de or en-fr (then -anything).")])
    corpus = forms.ChoiceField(choices=[("multi30k", "Multi30k (29,000 photo descriptions)"),
                                        ("dataset", "An uploaded parallel text dataset")], initial="multi30k")
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.filter(kind=Dataset.Kind.PARALLEL), required=False,
                                     help_text="English on the left, the slot's language on the right.")
    attention = forms.ChoiceField(choices=[("general", "Luong attention"), ("none", "None (one sentence vector)")],
                                  initial="general")
    emb_dim = forms.IntegerField(label="Embedding size", min_value=8, max_value=1024, initial=256)
    enc_hidden = forms.IntegerField(label="Encoder GRU size (each direction)", min_value=8, max_value=1024,
                                    initial=256)
    dec_hidden = forms.IntegerField(label="Decoder GRU size", min_value=8, max_value=2048, initial=512)
    input_feed = forms.BooleanField(required=False, initial=True,
                                    help_text="Feed each step's attentional vector into the next step.")
    tie_weights = forms.BooleanField(required=False, initial=True, help_text="Share the target embedding and "
                                                                             "output matrices.")
    shared_vocab = forms.BooleanField(required=False, initial=False,
                                      help_text="One subword vocabulary (English pieces count) and one embedding for "
                                                "both languages.")
    src_vocab = forms.IntegerField(label="English subword pieces", min_value=100, max_value=32000, initial=8000)
    tgt_vocab = forms.IntegerField(label="Target subword pieces", min_value=100, max_value=32000, initial=8000)
    dropout = forms.FloatField(min_value=0, max_value=0.9, initial=0.3)
    label_smoothing = forms.FloatField(min_value=0, max_value=0.5, initial=0.1)
    batch_size = forms.IntegerField(label="Sentence pairs per batch", min_value=1, max_value=1024, initial=128)
    lr = forms.FloatField(label="Learning rate", min_value=1e-6, max_value=1, initial=2e-3)
    warmup_steps = forms.IntegerField(min_value=0, max_value=100000, initial=200)
    clip = forms.FloatField(label="Gradient clipping (max norm)", min_value=0.01, max_value=100, initial=1.0)
    ema = forms.FloatField(label="Weight averaging (EMA decay, 0 = off)", min_value=0, max_value=0.9999,
                           initial=0.999)
    epochs = forms.IntegerField(label="Epochs", min_value=1, max_value=200, initial=25)
    patience = forms.IntegerField(label="Early-stopping patience (epochs)", min_value=1, max_value=50, initial=5)
    time_budget_min = forms.FloatField(label="Time budget (minutes, 0 = none)", min_value=0, max_value=24 * 60,
                                       initial=0)
    threads = forms.IntegerField(label="CPU threads (0 = all)", min_value=0, max_value=64, initial=0)
    bf16 = forms.BooleanField(required=False, initial=True, help_text="Only where the CPU multiplies bf16 "
                                                                      "natively; float32 elsewhere.")
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=1)

    RUN_FIELDS = ("label", "slot", "corpus", "dataset")

    def clean(self):
        data = super().clean()
        if data.get("corpus") == "dataset" and not data.get("dataset"):
            self.add_error("dataset", "Choose the uploaded parallel text dataset to train on.")
        return data

    def params(self):
        values = {k: v for k, v in self.cleaned_data.items() if k not in self.RUN_FIELDS and v is not None}
        values["target"] = self.cleaned_data["slot"].split("-")[1]
        return values


class StartForecastRunForm(forms.Form):
    """The options of ml.forecast.train.ForecastConfig (same names) for a forecaster run."""

    label = forms.CharField(max_length=120, initial="Atmospheric CO2 · GRU")
    slot = forms.SlugField(max_length=64, initial="co2-gru", help_text="'<series>-<cell>': 'co2-lstm' offers a new "
                           "version of the demo's CO2 model; a slot of an uploaded series' name serves it on the "
                           "forecast page.")
    corpus = forms.ChoiceField(label="Series", initial="co2", choices=[
        *((name, title) for name, title, _ in FORECAST_SERIES), ("dataset", "An uploaded time series dataset")])
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.filter(kind=Dataset.Kind.SERIES), required=False)
    column = forms.CharField(required=False, max_length=100, help_text="The dataset's value column (default: its "
                                                                       "only numeric one).")
    horizon = forms.IntegerField(label="Horizon (steps forecast at once)", min_value=1, max_value=365, initial=52)
    season = forms.IntegerField(label="Season (steps; -1 = the series' own, 0 = none)", min_value=-1,
                                max_value=1000, initial=-1)
    cell = forms.ChoiceField(choices=[("lstm", "LSTM"), ("gru", "GRU"), ("rnn", "Vanilla RNN")], initial="gru")
    hidden = forms.IntegerField(label="Hidden units", min_value=1, max_value=1024, initial=64)
    layers = forms.IntegerField(min_value=1, max_value=4, initial=1)
    context = forms.IntegerField(label="Context (past steps read; 0 = two seasons or twice the horizon)",
                                 min_value=0, max_value=2000, initial=0)
    dropout = forms.FloatField(min_value=0, max_value=0.9, initial=0.1)
    weight_decay = forms.FloatField(min_value=0, max_value=1, initial=1e-4)
    batch_size = forms.IntegerField(label="Windows per batch", min_value=1, max_value=4096, initial=64)
    lr = forms.FloatField(label="Learning rate", min_value=1e-6, max_value=1, initial=3e-3)
    clip = forms.FloatField(label="Gradient clipping (max norm)", min_value=0.01, max_value=100, initial=1.0)
    epochs = forms.IntegerField(label="Epochs", min_value=1, max_value=5000, initial=3000)
    patience = forms.IntegerField(label="Early-stopping patience (epochs)", min_value=1, max_value=1000, initial=30)
    ema = forms.FloatField(label="Weight averaging (EMA decay, 0 = off)", min_value=0, max_value=0.9999,
                           initial=0.98)
    min_gain = forms.FloatField(label="Least validation gain over naive", min_value=0, max_value=0.99, initial=0.03,
                                help_text="The network replaces the naive forecast it starts as only when its "
                                          "validation error is this share lower (0.03 = 3 %).")
    time_budget_min = forms.FloatField(label="Time budget (minutes, 0 = none)", min_value=0, max_value=24 * 60,
                                       initial=2)
    threads = forms.IntegerField(label="CPU threads (0 = all)", min_value=0, max_value=64, initial=1)
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)

    RUN_FIELDS = ("label", "slot", "corpus", "dataset")

    def clean(self):
        data = super().clean()
        if data.get("corpus") == "dataset" and not data.get("dataset"):
            self.add_error("dataset", "Choose the uploaded time series dataset to train on.")
        return data

    def params(self):
        return {k: v for k, v in self.cleaned_data.items() if k not in self.RUN_FIELDS}


# The start forms show what most runs change (data, size, epochs, time budget) and fold the rest into
# "Advanced" sections: (title, field names, folded). A folded section opens by itself when one of its fields has
# an error, so an error is never hidden.
START_FIELDSETS = [
    ("What to train", ["label", "slot", "corpus", "dataset"], False),
    ("Network and length", ["cell", "emsize", "nhid", "nlayers", "epochs", "time_budget_min"], False),
    ("Advanced: optimisation", ["batch_size", "lr", "optimizer", "schedule", "lr_decay", "warmup_steps", "bptt",
                                "clip", "ema", "patience", "validate_every", "target_ppl"], True),
    ("Advanced: regularisation", ["dropout_emb", "dropout_hid", "dropout_out", "dropout_weight", "weight_decay"],
     True),
    ("Advanced: architecture details", ["tie_weights", "subwords", "init"], True),
    ("Advanced: machine", ["threads", "bf16", "seed"], True),
]

CAPTION_FIELDSETS = [
    ("What to train", ["label", "slot", "dataset"], False),
    ("Network and length", ["embed_dim", "hidden_dim", "epochs", "time_budget_min"], False),
    ("Advanced: optimisation", ["batch_images", "lr", "encoder_lr", "clip", "patience", "early_stop_metric",
                                "val_beam"], True),
    ("Advanced: regularisation", ["dropout", "label_smoothing", "alpha_c", "flip_prob"], True),
    ("Advanced: architecture details", ["attention_dim", "proj_dim", "tie_weights", "min_freq", "max_words",
                                        "fine_tune_blocks"], True),
    ("Advanced: self-critical fine-tuning (SCST)", ["scst_epochs", "scst_lr", "scst_top_p"], True),
    ("Advanced: machine", ["threads", "seed"], True),
]


def form_sections(form, fieldsets):
    """The template's view of a start form: each section's bound fields, and whether it is shown open."""
    sections = []
    for title, names, folded in fieldsets:
        fields = [form[name] for name in names]
        has_errors = form.is_bound and any(field.errors for field in fields)
        slug = title.split(":")[-1].strip().split(" ")[0].lower()
        sections.append({"title": title, "fields": fields, "folded": folded, "open": not folded or has_errors,
                         "id": f"section-{slug}"})
    return sections

FORECAST_FIELDSETS = [
    ("What to train", ["label", "slot", "corpus", "dataset", "column"], False),
    ("Network and length", ["cell", "hidden", "horizon", "epochs", "time_budget_min"], False),
    ("Advanced: optimisation", ["batch_size", "lr", "weight_decay", "clip", "ema", "patience", "min_gain"], True),
    ("Advanced: regularisation", ["dropout"], True),
    ("Advanced: architecture details", ["layers", "context", "season"], True),
    ("Advanced: machine", ["threads", "seed"], True),
]

TRANSLATE_FIELDSETS = [
    ("What to train", ["label", "slot", "corpus", "dataset"], False),
    ("Network and length", ["attention", "emb_dim", "enc_hidden", "dec_hidden", "epochs", "time_budget_min"], False),
    ("Advanced: optimisation", ["batch_size", "lr", "warmup_steps", "clip", "ema", "patience"], True),
    ("Advanced: regularisation", ["dropout", "label_smoothing"], True),
    ("Advanced: architecture details", ["input_feed", "tie_weights", "shared_vocab", "src_vocab", "tgt_vocab"], True),
    ("Advanced: machine", ["threads", "bf16", "seed"], True),
]
