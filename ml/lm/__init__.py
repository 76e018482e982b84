"""Word-level recurrent language models (issue #3). Pure PyTorch: never imports Django.

Public API (what the web app calls):
    from ml.lm.predictor import NextWordPredictor
    from ml.lm.train import LMConfig, train
    p = NextWordPredictor.from_dir(models_dir / "lm-ptb-lstm")
    p.suggest(text, k=5, include_special=False) -> [{"word": str, "prob": float}]
    p.sample(text, n_words=20, temperature=1.0, top_k=40, seed=None) -> [str]
    p.inspect(text) -> {"tokens", "cell", "layers", "gates", "gate_units", "hidden_norm", "cell_norm"?,
                        "token_prob", "next"}
    train(LMConfig(..., run_dir=...), on_progress=callback, should_stop=callable) -> dict (see ml.training)

Modules: tokenizer (Vocab + tokenize), corpus (ptb/shakespeare/wiki/text files, batchify), model (RNNModel),
inspect (step-by-step gates), train (LMConfig, train, evaluate), checkpoint (model dirs, no pickle),
predictor (NextWordPredictor), evaluate (perplexity of a model dir), probes (long-range probe scores),
wiki_report (vocabulary measurements behind the wiki tokenisation).
"""
# Nothing is imported here, so `ml.lm.tokenizer` stays importable without torch (the web process uses it).
