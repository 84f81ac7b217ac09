"""Intent prototype vectors, computed once per (model, intents) instead of at every start.

Embedding the ~200 example utterances of ``intents.yaml`` takes about 0.46 s of a cold start on
this machine. The result depends only on the model's files and the intents, so it is keyed by a
fingerprint of both and looked up, in order, in

1. the package (``prototypes.safetensors`` next to this module: the default model and intents,
   so a fresh container starts without computing them);
2. the cache directory (``AGENT_CACHE_DIR``, default ``$XDG_CACHE_HOME/agentwatch`` or
   ``~/.cache/agentwatch``), where a computed set is stored for the next start (best effort: a
   read-only file system only means computing again);

and computed otherwise. ``python -m agentwatch.agent.rewrite_prototypes`` rewrites the packaged file after
``intents.yaml`` changes; ``tests/test_agent_model.py`` fails until it is.

The model fingerprint reads each file's name and size and 16 slices of 64 KiB spread over it: a
fine-tuned checkpoint of the same shape changes nearly every byte, so it gets its own key, while
hashing a 90 MB checkpoint in full would cost a tenth of the time saved.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path

import torch

__all__ = ["PACKAGED", "cache_dir", "fingerprint", "load_or_compute", "write"]

#: File name of the packaged prototypes (package data of ``agentwatch.agent``).
PACKAGED = "prototypes.safetensors"
_SLICES, _SLICE = 16, 64 * 1024


def fingerprint(model_path: str | Path, intents: Mapping[str, Sequence[str]]) -> str:
    """sha256 over the model directory's files (sampled, see the module docstring) and the intents."""
    digest = hashlib.sha256()
    for file in sorted(p for p in Path(model_path).iterdir() if p.is_file()):
        size = file.stat().st_size
        digest.update(f"{file.name}\0{size}\0".encode())
        with file.open("rb") as f:
            for i in range(_SLICES if size > _SLICES * _SLICE else 1):
                f.seek(i * (size - _SLICE) // max(1, _SLICES - 1) if size > _SLICES * _SLICE else 0)
                digest.update(f.read(_SLICE if size > _SLICES * _SLICE else size))
    digest.update(json.dumps({k: list(v) for k, v in intents.items()}, sort_keys=True).encode())
    return digest.hexdigest()


def cache_dir() -> Path:
    configured = os.environ.get("AGENT_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "agentwatch"


def _read(path: Path, key: str, names: list[str]) -> torch.Tensor | None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
            if meta.get("key") != key or json.loads(meta.get("intents", "[]")) != names:
                return None
            return f.get_tensor("prototypes")
    except (OSError, ValueError, json.JSONDecodeError):
        return None


def write(path: Path, key: str, names: list[str], prototypes: torch.Tensor) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"prototypes": prototypes.contiguous()}, str(path), metadata={"key": key, "intents": json.dumps(names)})


def load_or_compute(model_path: str | Path, intents: Mapping[str, Sequence[str]],
                    compute: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, str]:
    """The prototypes (one row per intent, in ``intents`` order) and where they came from:
    ``"package"``, ``"cache"`` or ``"computed"``."""
    key, names = fingerprint(model_path, intents), list(intents)
    packaged = resources.files("agentwatch.agent").joinpath(PACKAGED)
    with resources.as_file(packaged) as path:
        found = _read(path, key, names) if path.exists() else None
    if found is not None:
        return found, "package"
    cached = cache_dir() / f"prototypes-{key[:32]}.safetensors"
    found = _read(cached, key, names) if cached.exists() else None
    if found is not None:
        return found, "cache"
    prototypes = compute()
    with contextlib.suppress(OSError):  # a read-only file system: compute again next start
        write(cached, key, names, prototypes)
    return prototypes, "computed"
