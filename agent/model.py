"""all-MiniLM-L6-v2 on torch: mean-pooled sentence embeddings and nearest-prototype intents.

Usage::

    model = IntentModel.load(settings.model_path, name="all-MiniLM-L6-v2", threads=2)
    [(intent, confidence)], tokens = model.classify(["where is my parcel?"])
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is a local directory; never ask the hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch

from agentwatch.agent.encoder import BertEncoder
from agentwatch.agent.intents import load_intents

__all__ = ["Classification", "IntentModel", "load_pretrained", "quiet_transformers"]

#: Tokens per input; longer messages are truncated (the intent is in the first sentences).
MAX_TOKENS = 128


def quiet_transformers() -> None:
    """No progress bars or advisory warnings on stderr: the agent logs JSON lines only."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_pretrained(path: str, auto_model: type, threads: int | None = None) -> tuple[Any, Any]:
    """Tokenizer and model (``auto_model``: AutoModel, AutoModelForCausalLM) from local files only,
    in eval mode; the one loader both the intent model and the generator use."""
    from transformers import AutoTokenizer

    quiet_transformers()
    if threads:
        torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = auto_model.from_pretrained(path, local_files_only=True)
    model.eval()
    return tokenizer, model


@dataclass(frozen=True)
class Classification:
    """Per-input (intent, confidence) and the batch's real (unpadded) token counts."""

    labels: list[tuple[str, float]]
    input_tokens: list[int]


class IntentModel:
    """A sentence encoder plus one prototype vector per intent (mean of its examples' embeddings)."""

    def __init__(self, tokenizer: Any, encoder: Any, intents: Mapping[str, Sequence[str]], name: str,
                 prototypes: torch.Tensor | None = None) -> None:
        """``tokenizer`` ``None``: ``encoder`` is a :class:`BertEncoder` with its own tokenizer;
        otherwise a transformers tokenizer and model. ``prototypes``: precomputed, else embedded now."""
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.name = name
        self.intent_names = list(intents)
        self.load_seconds = 0.0
        #: Where the prototypes came from: "package", "cache" or "computed".
        self.prototypes_source = "computed"
        self.prototypes = self.compute_prototypes(intents) if prototypes is None else prototypes

    def compute_prototypes(self, intents: Mapping[str, Sequence[str]]) -> torch.Tensor:
        """One unit vector per intent: the normalised mean of its examples' embeddings."""
        protos = [self.embed(list(examples)).mean(dim=0) for examples in intents.values()]
        return torch.nn.functional.normalize(torch.stack(protos), dim=1)

    @classmethod
    def load(cls, path: str, *, name: str, threads: int | None = None,
             intents: Mapping[str, Sequence[str]] | None = None, cached: bool = True) -> IntentModel:
        """Read tokenizer and weights from ``path`` (local files only); prototypes from the package or
        cache when they match the model and intents (:mod:`agentwatch.agent.prototypes`), else computed."""
        from agentwatch.agent.prototypes import load_or_compute

        start = time.perf_counter()
        if threads:
            torch.set_num_threads(threads)
        intents = intents or load_intents()
        native = BertEncoder.load(path, max_length=MAX_TOKENS)
        if native is not None:
            model = cls(None, native, intents, name, prototypes=torch.empty(0))
        else:
            from transformers import AutoModel

            model = cls(*load_pretrained(path, AutoModel, threads), intents, name, prototypes=torch.empty(0))
        if cached:
            model.prototypes, model.prototypes_source = load_or_compute(
                path, intents, lambda: model.compute_prototypes(intents))
        else:
            model.prototypes, model.prototypes_source = model.compute_prototypes(intents), "computed"
        model.load_seconds = time.perf_counter() - start
        return model

    def _encode(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.inference_mode():
            if self.tokenizer is None:
                ids, attention = self.encoder.tokenize(texts)
                hidden = self.encoder(ids, attention)
            else:
                batch = self.tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS,
                                       return_tensors="pt")
                attention = batch["attention_mask"]
                hidden = self.encoder(**batch).last_hidden_state
        mask = attention.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=1), attention.sum(dim=1)

    def embed(self, texts: list[str]) -> torch.Tensor:
        """L2-normalised mean-pooled embeddings, one row per text, in ONE forward pass."""
        return self._encode(texts)[0]

    def classify(self, texts: list[str]) -> Classification:
        """Nearest prototype per text; confidence = cosine similarity, clamped to [0, 1]."""
        vectors, tokens = self._encode(texts)
        scores = vectors @ self.prototypes.T
        best, index = scores.max(dim=1)
        labels = [(self.intent_names[int(i)], min(1.0, max(0.0, float(s)))) for s, i in zip(best, index, strict=True)]
        return Classification(labels, [int(t) for t in tokens])
