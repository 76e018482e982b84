"""English -> German / French translation: a recurrent encoder-decoder with (or without) attention.

Modules: data (Multi30k and parallel text, sentencepiece subwords, length-bucketed batches), model (the
encoder-decoder), decode (greedy and beam search), checkpoint (model directories without pickle), train (on the
shared ml.training core), evaluate (sacreBLEU / chrF, BLEU by source length), translator (the inference API).
"""
