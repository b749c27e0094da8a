"""The torch device this installation computes on, described for people.

Mining with ``device="auto"`` (the default) runs on the device
:func:`pick_device` picks: a CUDA GPU when the installed torch was built
with CUDA and sees one, else Apple's MPS, else the CPU. The app says which one in its sidebar,
so a person who installed a CUDA build of torch can see that their GPU is actually used (and
one on a laptop without a GPU knows why a run takes minutes). This module answers with the same
rule instead of a second copy of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from engine.errors import ConfigError
from engine.registry import Registry

if TYPE_CHECKING:
    import torch

Kind = Literal["cuda", "mps", "cpu"]


@dataclass(frozen=True)
class DeviceChoice:
    """A value of ``--device``: ``available()`` says whether this process can use it."""

    name: str
    label_key: str
    available: Callable[[], bool]
    label: str = ""


# torch is imported when a device is checked, not when the registry is read (CLI --help)
def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _mps() -> bool:
    import torch

    return bool(torch.backends.mps.is_available())


#: Where the networks may run; ``auto`` takes the first available of the others, in order.
DEVICES: Registry[DeviceChoice] = Registry("device", "device", (
    DeviceChoice("auto", "mining.device_auto", lambda: True),
    DeviceChoice("cpu", "mining.device_cpu", lambda: True),
    DeviceChoice("cuda", "mining.device_cuda", _cuda),
    DeviceChoice("mps", "mining.device_mps", _mps),
))

#: the order ``auto`` tries (the CPU always works)
_AUTO_ORDER = ("cuda", "mps", "cpu")


def pick_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else Apple MPS, else CPU; explicit names are checked."""
    import torch

    if name == "auto":
        for candidate in _AUTO_ORDER:
            if candidate in DEVICES and DEVICES.get(candidate).available():
                return torch.device(candidate)
        return torch.device("cpu")
    if not DEVICES.get(name).available():
        raise ConfigError(f"device '{name}' was requested but is not available here; "
                          "use --device auto or cpu", code="device_unavailable",
                          params={"device": name})
    return torch.device(name)


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
    import torch

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
