"""The torch device this installation computes on, described for people.

Mining with ``device="auto"`` (the default) runs on the device
:func:`engine.mining.session.pick_device` picks: a CUDA GPU when the installed torch was built
with CUDA and sees one, else Apple's MPS, else the CPU. The app says which one in its sidebar,
so a person who installed a CUDA build of torch can see that their GPU is actually used (and
one on a laptop without a GPU knows why a run takes minutes). This module answers with the same
rule instead of a second copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

Kind = Literal["cuda", "mps", "cpu"]


@dataclass(frozen=True)
class DeviceInfo:
    """What ``device="auto"`` resolves to in this process.

    ``memory_gb``: total memory of the GPU in GiB (CUDA only); ``threads``: torch intra-op
    threads (what a CPU run uses); ``cuda``: the CUDA version torch was built with, None for a
    CPU-only build (the usual reason a GPU goes unused).
    """

    kind: Kind
    name: str
    memory_gb: float | None
    threads: int
    torch_version: str
    cuda: str | None

    def message(self) -> tuple[str, dict[str, Any]]:
        """The i18n key (``engine/i18n/<lang>/device.toml``) and parameters of the one-line
        caption, e.g. ``("device.cuda", {"name": "NVIDIA H100", "memory": "79.1"})``."""
        if self.kind == "cuda":
            return "device.cuda", {"name": self.name, "memory": f"{self.memory_gb or 0:.0f}"}
        if self.kind == "mps":
            return "device.mps", {}
        return "device.cpu", {"threads": self.threads}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "memory_gb": self.memory_gb,
                "threads": self.threads, "torch_version": self.torch_version,
                "cuda": self.cuda}


def describe_device() -> DeviceInfo:
    """The device ``device="auto"`` picks here, with its name and size."""
    from engine.mining.session import pick_device

    device = pick_device("auto")
    threads = torch.get_num_threads()
    common = {"threads": threads, "torch_version": torch.__version__,
              "cuda": torch.version.cuda}
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        return DeviceInfo(kind="cuda", name=props.name,
                          memory_gb=round(props.total_memory / 2**30, 1), **common)
    if device.type == "mps":
        return DeviceInfo(kind="mps", name="Apple MPS", memory_gb=None, **common)
    return DeviceInfo(kind="cpu", name="CPU", memory_gb=None, **common)
