"""Optional generative backend: a transformers causal LM that writes the reply.

Greedy decoding with the KV cache, token by token, so time-to-first-token is measured exactly.
Enabled by ``AGENT_GENERATOR_MODEL=<directory>``; without it the agent answers from templates.

Usage::

    gen = Generator.load("/models/tiny-gpt2", name="tiny-gpt2", threads=2)
    out = gen.generate("Customer: hi\\nAgent:", max_new_tokens=32)
    out.text, out.ttft_s, out.input_tokens, out.output_tokens
"""

from __future__ import annotations

import inspect
import os
import time
from dataclasses import dataclass

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from transformers import AutoModelForCausalLM

from agentwatch.agent.model import load_pretrained

__all__ = ["Generation", "Generator"]


@dataclass(frozen=True)
class Generation:
    text: str
    ttft_s: float
    duration_s: float
    input_tokens: int
    output_tokens: int


class Generator:
    """A causal LM loaded from a local directory."""

    def __init__(self, tokenizer, model, name: str, max_context: int) -> None:
        self.tokenizer, self.model, self.name, self.max_context = tokenizer, model, name, max_context
        self.load_seconds = 0.0
        self.eos_ids = {i for i in (tokenizer.eos_token_id, getattr(model.config, "eos_token_id", None))
                        if isinstance(i, int)}
        # transformers 5 renames past_key_values to cache model by model: ask this model's forward().
        params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"

    @classmethod
    def load(cls, path: str, *, name: str, threads: int | None = None) -> Generator:
        start = time.perf_counter()
        tokenizer, model = load_pretrained(path, AutoModelForCausalLM, threads)
        context = int(getattr(model.config, "n_positions", 0) or getattr(model.config, "max_position_embeddings",
                                                                         0) or 1024)
        gen = cls(tokenizer, model, name, context)
        gen.load_seconds = time.perf_counter() - start
        return gen

    def generate(self, prompt: str, max_new_tokens: int) -> Generation:
        """Greedy continuation of ``prompt``; the prompt is left-truncated to fit the context."""
        start = time.perf_counter()
        ids = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
        budget = max(1, self.max_context - max_new_tokens)
        ids = ids[:, -budget:]
        if ids.shape[1] == 0:
            ids = torch.tensor([[next(iter(self.eos_ids), 0)]])
        produced: list[int] = []
        ttft = 0.0
        past = None
        step_input = ids
        with torch.inference_mode():
            for _ in range(max_new_tokens):
                out = self.model(input_ids=step_input, use_cache=True, **{self._cache_arg: past})
                past = getattr(out, self._cache_arg, None)
                token = int(out.logits[0, -1].argmax())
                if not produced:
                    ttft = time.perf_counter() - start
                if token in self.eos_ids:
                    break
                produced.append(token)
                step_input = torch.tensor([[token]])
        if not produced and not ttft:
            ttft = time.perf_counter() - start
        text = self.tokenizer.decode(produced, skip_special_tokens=True).strip()
        return Generation(text, ttft, time.perf_counter() - start, int(ids.shape[1]), len(produced))
