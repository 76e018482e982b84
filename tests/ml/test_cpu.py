"""bf16 is used only where the CPU multiplies it natively; elsewhere training falls back to float32 and says so."""
import pytest

from ml import cpu
from ml.caption.train import CaptionConfig
from ml.lm.train import LMConfig, train
from tests.support.lm import tiny_corpus

AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma\n"
ZEN4 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n"


@pytest.mark.parametrize("text, native", [(AVX2_ONLY, False), (ZEN4, True),
                                          ("flags : amx_bf16 amx_tile\n", True), ("", False)])
def test_has_native_bf16_reads_cpu_flags(tmp_path, text, native):
    info = tmp_path / "cpuinfo"
    info.write_text(text)
    assert cpu.has_native_bf16(str(info)) is native


def test_unreadable_cpuinfo_trusts_the_setting(tmp_path):
    assert cpu.has_native_bf16(str(tmp_path / "missing")) is True


def test_bf16_request_falls_back_with_a_warning(monkeypatch, tmp_path):
    monkeypatch.setattr(cpu, "has_native_bf16", lambda: False)
    assert cpu.effective_bf16(False) == (False, None)
    used, warning = cpu.effective_bf16(True)
    assert used is False and "float32" in warning
    events = []
    cfg = LMConfig(corpus="tiny", emsize=8, nhid=8, nlayers=1, batch_size=4, bptt=8, epochs=1, threads=1,
                   bf16=True, log_every=1, run_dir=str(tmp_path))
    res = train(cfg, corpus=tiny_corpus(), on_progress=events.append)
    assert res["status"] == "finished"
    assert [e for e in events if e["event"] == "warning" and "bf16" in e["message"]]


def test_bf16_kept_where_native(monkeypatch):
    monkeypatch.setattr(cpu, "has_native_bf16", lambda: True)
    assert cpu.effective_bf16(True) == (True, None)
    assert CaptionConfig().bf16 is True  # the captioner's default still asks for it
