"""Training batches stored on disk, so later runs on the same data stream skip the generator.

A data stream is one generator family at one resolution, batch size, sampler
seed and generator seed (:func:`cache_key` names its folder). Each
:data:`CACHE_CHUNK_STEPS` steps of it are one safetensors file holding P in
float32 and the rendered targets in float16 (see :class:`BatchCache`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import torch

from ..nodes.generators.base import GeneratorSpec
from .weights import ProxyWeightsError, atomic_save_safetensors, param_table, read_safetensors

CACHE_CHUNK_STEPS = 100
CACHE_FORMAT = "proxymat-batch-cache"


def cache_key(spec: GeneratorSpec, res: int, batch: int, seed: int, gen_seed: int, chunk_steps: int) -> str:
    """Folder name of one data stream: generator, res, batch, sampler seed, generator seed, chunk size
    and a short hash of the parameter table, ``sample_box`` and ``fixed`` (a changed family never matches)."""
    family = {
        "params": param_table(spec),
        "sample_box": {k: [float(a), float(b)] for k, (a, b) in sorted(spec.sample_box.items())},
        "fixed": {k: float(v) for k, v in sorted(spec.fixed.items())},
    }
    digest = hashlib.sha256(json.dumps(family, sort_keys=True).encode()).hexdigest()[:10]
    return f"train_{spec.name}_r{res}_b{batch}_s{seed}_g{gen_seed}_c{chunk_steps}_{digest}"


class BatchCache:
    """Training batches of one data stream on disk, ``chunk_steps`` steps per safetensors file.

    ``chunk_NNNNNN.safetensors`` holds ``P`` (n, batch, n_params) float32 and
    ``images`` (n, batch, 1, res, res) float16 for the first ``n`` steps of
    the chunk. One chunk is held in memory; it is written atomically when full,
    on :meth:`flush` (checkpoints, end of run) and before moving to another
    chunk. An unreadable file, or one whose P differ from the live parameter
    stream, is reported through ``warn`` and re-rendered/rewritten.
    """

    def __init__(self, folder: str | Path, chunk_steps: int = CACHE_CHUNK_STEPS, warn: Callable[[str], None] = print):
        if chunk_steps < 1:
            raise ValueError("chunk_steps must be >= 1")
        self.folder, self.chunk_steps, self.warn = Path(folder), chunk_steps, warn
        self._chunk = -1
        self._p: list[torch.Tensor] = []
        self._img: list[torch.Tensor] = []
        self._dirty = False

    def chunk_path(self, index: int) -> Path:
        return self.folder / f"chunk_{index:06d}.safetensors"

    def _read(self, path: Path) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        if not path.is_file():
            return [], []
        try:
            tensors, meta = read_safetensors(path)
            p, img = tensors["P"], tensors["images"]
            if meta.get("format") != CACHE_FORMAT or p.ndim != 3 or img.ndim != 5 or img.dtype != torch.float16:
                raise ValueError("not a batch-cache chunk")
            if p.shape[:2] != img.shape[:2] or p.shape[0] > self.chunk_steps:
                raise ValueError(f"inconsistent shapes {tuple(p.shape)} / {tuple(img.shape)}")
        except (ProxyWeightsError, KeyError, ValueError) as exc:
            self.warn(f"cache: ignoring unreadable {path} ({str(exc).splitlines()[0]}); re-rendering")
            return [], []
        return list(p.unbind(0)), list(img.unbind(0))

    def _select(self, index: int) -> None:
        if index != self._chunk:
            self.flush()
            self._chunk, self._dirty = index, False
            self._p, self._img = self._read(self.chunk_path(index))

    def get(self, step: int, p: torch.Tensor) -> torch.Tensor | None:
        """Cached targets (float32, CPU) of ``step`` if stored for exactly these ``p``, else ``None``."""
        index, j = divmod(step, self.chunk_steps)
        self._select(index)
        if j >= len(self._p):
            return None
        if not torch.equal(self._p[j], p.detach().cpu()):
            self.warn(f"cache: {self.chunk_path(index)} differs from the parameter stream at step {step}; re-rendering")
            del self._p[j:], self._img[j:]
            self._dirty = True
            return None
        return self._img[j].float()

    def put(self, step: int, p: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Record freshly rendered ``images`` of ``step``; returns them as stored (float16-rounded, float32).

        Only a step that extends the held chunk contiguously is recorded (a run
        resumed in the middle of a chunk with nothing cached renders that chunk's
        rest without storing it).
        """
        half = images.detach().to(torch.float16)
        index, j = divmod(step, self.chunk_steps)
        self._select(index)
        if j == len(self._p):
            self._p.append(p.detach().cpu().clone())
            self._img.append(half.cpu())
            self._dirty = True
            if len(self._p) == self.chunk_steps:
                self.flush()
        return half.float()

    def flush(self) -> None:
        """Write the held chunk if it changed since it was read or written."""
        if self._dirty and self._p:
            tensors = {"P": torch.stack(self._p), "images": torch.stack(self._img)}
            atomic_save_safetensors(self.chunk_path(self._chunk), tensors, {"format": CACHE_FORMAT, "steps": str(len(self._p))})
        self._dirty = False
