"""Unroll's captioner against the issue's reference pipeline, timed on the same CPU in the same minutes.

    .venv/bin/python bench/caption_vs_reference.py [--model models/caption-flickr8k] [--runs 20]
        [--threads 1] [--image PATH] [--json]

Issue #4 measured its reference (sgrvinod's Show-Attend-Tell tutorial decoder, unchanged, on frozen
MobileNetV2 features) at 84 ms per JPEG at beam 3 on the machine of that day. VMs differ by 3x and
more, so a figure from another machine cannot say whether Unroll is "at least twice as fast". This
script rebuilds the reference's inference *workload* and times both here, interleaved:

* encoder: torchvision MobileNetV2 ``features`` in eager float32 (no BatchNorm folding, no tracing);
* decoder: the tutorial's sizes (attention, embedding and LSTM 512; dropout 0.5) and its data flow —
  attention over the raw 1280-d cells with the encoder half of the attention MLP recomputed at every
  step, ``LSTMCell(512 + 1280 -> 512)``, gate ``f_beta: 512 -> 1280``, output ``fc: 512 -> V``;
* decoding: the tutorial's beam search (k rows, cumulative log-probs, top-k over all k x V
  continuations, no length normalisation), run for as many steps as Unroll's caption of the same
  photo took, with k = 3 throughout (the tutorial shrinks k as beams end, so this is slightly
  generous to the reference only in its last steps, and counts no step it would not take).

Its weights are random (seeded): the work of a step does not depend on them, which is why the step
count is taken from Unroll's caption rather than from the random decoder's output. Prints medians
and p95 of both and their ratio.
"""
import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402
from torchvision import transforms  # noqa: E402
from torchvision.models import mobilenet_v2  # noqa: E402

from bench.caption_latency import latency_stats, pick_image  # noqa: E402
from ml.caption.captioner import Captioner  # noqa: E402


class ReferenceDecoder(nn.Module):
    """The tutorial decoder's layers and sizes. ``encoder_out (k, 49, 1280)``, ``h, c (k, 512)``."""

    def __init__(self, vocab_size: int, encoder_dim: int = 1280, dim: int = 512, dropout: float = 0.5):
        super().__init__()
        self.encoder_att = nn.Linear(encoder_dim, dim)
        self.decoder_att = nn.Linear(dim, dim)
        self.full_att = nn.Linear(dim, 1)
        self.embedding = nn.Embedding(vocab_size, dim)
        self.dropout = nn.Dropout(dropout)
        self.decode_step = nn.LSTMCell(dim + encoder_dim, dim)
        self.init_h = nn.Linear(encoder_dim, dim)
        self.init_c = nn.Linear(encoder_dim, dim)
        self.f_beta = nn.Linear(dim, encoder_dim)
        self.fc = nn.Linear(dim, vocab_size)

    def attention(self, encoder_out, h):
        att = self.full_att(torch.relu(self.encoder_att(encoder_out) + self.decoder_att(h).unsqueeze(1))).squeeze(2)
        alpha = torch.softmax(att, dim=1)
        return (encoder_out * alpha.unsqueeze(2)).sum(dim=1), alpha

    def step(self, words, encoder_out, h, c):
        context, alpha = self.attention(encoder_out, h)
        context = torch.sigmoid(self.f_beta(h)) * context
        h, c = self.decode_step(torch.cat([self.embedding(words), context], dim=1), (h, c))
        return torch.log_softmax(self.fc(self.dropout(h)), dim=1), alpha, h, c


class ReferencePipeline:
    """JPEG -> eager MobileNetV2 -> tutorial-style beam search for a given number of steps."""

    def __init__(self, vocab_size: int, seed: int = 0):
        torch.manual_seed(seed)
        from ml.caption.encoder import imagenet_weights_path
        net = mobilenet_v2(weights=None)
        net.load_state_dict(torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True))
        self.encoder = net.features.eval()
        self.decoder = ReferenceDecoder(vocab_size).eval()
        self.vocab_size = vocab_size
        self.transform = transforms.Compose([
            transforms.Resize((224, 224)), transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

    @torch.no_grad()
    def caption(self, path, steps: int, k: int = 3) -> list[int]:
        image = self.transform(Image.open(path).convert("RGB")).unsqueeze(0)
        encoder_out = self.encoder(image).flatten(2).transpose(1, 2)          # (1, 49, 1280)
        encoder_out = encoder_out.expand(k, -1, -1).contiguous()
        mean = encoder_out.mean(dim=1)
        h, c = self.decoder.init_h(mean), self.decoder.init_c(mean)
        words = torch.ones(k, dtype=torch.long)                                 # <start>
        seqs = words.unsqueeze(1)
        top_scores = torch.zeros(k, 1)
        for t in range(steps):
            logp, _, h, c = self.decoder.step(words, encoder_out, h, c)
            scores = top_scores.expand_as(logp) + logp
            flat = scores[0] if t == 0 else scores.view(-1)
            top_scores, top_idx = flat.topk(k)
            prev, words = top_idx // self.vocab_size, top_idx % self.vocab_size
            seqs = torch.cat([seqs[prev], words.unsqueeze(1)], dim=1)
            h, c, top_scores = h[prev], c[prev], top_scores.unsqueeze(1)
        return seqs[0].tolist()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(REPO / "models" / "caption-flickr8k"))
    p.add_argument("--image")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    image = pick_image(args.image)
    cap = Captioner.from_dir(args.model, num_threads=args.threads or None)
    ours = cap.caption(image, beam=3)
    steps = len(ours["words"]) + 1                                              # the words and <end>
    ref = ReferencePipeline(len(cap.vocab))
    timed = {"unroll": [], "reference": []}
    runs = {"unroll": lambda: cap.caption(image, beam=3), "reference": lambda: ref.caption(image, steps)}
    for i in range(args.warmup + args.runs):
        order = ("unroll", "reference") if i % 2 else ("reference", "unroll")  # interleaved, alternating
        for name in order:
            t = time.perf_counter()
            runs[name]()
            if i >= args.warmup:
                timed[name].append((time.perf_counter() - t) * 1000)
    result = {"image": str(image), "beam": 3, "steps": steps, "runs": args.runs,
              "unroll": latency_stats(timed["unroll"]), "reference": latency_stats(timed["reference"]),
              "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
              "cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
              "caption": ours["caption"]}
    result["speedup_median"] = round(result["reference"]["median_ms"] / result["unroll"]["median_ms"], 2)
    print(json.dumps(result) if args.json else "\n".join(f"{k:15s} {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
