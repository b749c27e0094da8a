"""describe_device: the device mining's ``device="auto"`` picks, in words for the sidebar.

No GPU here: the CUDA case is faked at torch's API (``is_available`` and the device
properties), which is all ``pick_device`` and ``describe_device`` read."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from engine.device import DeviceInfo, describe_device, pick_device
from engine.i18n import translate


def test_cpu_when_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    info = describe_device()
    assert info.kind == "cpu" and info.memory_gb is None
    assert info.threads == torch.get_num_threads()
    key, params = info.message()
    assert translate(key, "en", **params) == f"Computing on CPU ({info.threads} threads)"
    assert translate(key, "ko", **params) == f"연산 장치: CPU ({info.threads}스레드)"


def test_auto_picks_cuda_when_torch_sees_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda index: SimpleNamespace(name="NVIDIA H100 80GB HBM3",
                                                      total_memory=85_031_714_816))
    assert pick_device("auto").type == "cuda"  # what a mining run with device="auto" uses
    info = describe_device()
    assert (info.kind, info.name, info.memory_gb) == ("cuda", "NVIDIA H100 80GB HBM3", 79.2)
    key, params = info.message()
    assert translate(key, "en", **params) == "Computing on GPU: NVIDIA H100 80GB HBM3 (79 GB)"


def test_mps_message() -> None:
    info = DeviceInfo(kind="mps", name="Apple MPS", memory_gb=None, threads=8,
                      torch_version="2.13.0", cuda=None)
    assert translate(*info.message()[:1], "ko") == "연산 장치: Apple GPU (MPS)"
    assert info.to_dict()["kind"] == "mps"
