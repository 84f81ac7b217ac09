"""A BERT sentence encoder read straight from ``model.safetensors`` and ``tokenizer.json``.

Why not ``transformers.AutoModel``: in transformers 5 importing any model class pulls
``torch.distributed.tensor`` (and with it sympy), ``torch._dynamo`` and scipy — about 1.5 s of a
5.7 s cold start on this machine, for a 6-layer encoder whose forward pass is a dozen lines. This
module implements exactly BERT's inference path (absolute positions, post-LayerNorm blocks, exact
GELU, scaled-dot-product attention with the padding mask, no dropout) on the checkpoint's own
weight names, and the tokenizer is the checkpoint's ``tokenizer.json`` run by the ``tokenizers``
library that transformers' fast tokenizer wraps. ``tests/test_agent_model.py`` checks the hidden
states against transformers' ``BertModel`` on the same inputs. Checkpoints that are not plain BERT
(another ``model_type``, relative positions, another activation) are loaded by transformers.

Usage::

    encoder = BertEncoder.load(path, max_length=128)   # None when the checkpoint is not plain BERT
    ids, mask = encoder.tokenize(["where is my order?"])
    hidden = encoder(ids, mask)                        # (batch, tokens, hidden)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional

__all__ = ["BertEncoder", "plain_bert"]

#: Per-layer weight names in the checkpoint (after ``encoder.layer.<i>.``).
_LAYER = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
          "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm")


def plain_bert(config: dict[str, Any]) -> bool:
    """Whether this module computes exactly what transformers' ``BertModel`` does for ``config``."""
    return (config.get("model_type") == "bert" and config.get("hidden_act", "gelu") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and not config.get("is_decoder", False))


class BertEncoder:
    """BERT's embeddings and encoder stack (no pooler: the agent mean-pools), inference only.

    Plain tensors and ``torch.nn.functional`` rather than ``nn.Linear``/``nn.Embedding`` modules:
    modules initialise their weights randomly before the checkpoint overwrites them (0.2 s here;
    building them on the ``meta`` device instead drags in torch's Python decompositions, 1.8 s).
    """

    def __init__(self, config: dict[str, Any], weights: dict[str, torch.Tensor], tokenizer: Any) -> None:
        self.heads = config["num_attention_heads"]
        self.eps = config.get("layer_norm_eps", 1e-12)
        self.pad_id = config.get("pad_token_id", 0) or 0
        self.tokenizer = tokenizer
        self.w = weights
        self.layers = [{part: (weights[f"encoder.layer.{i}.{part}.weight"], weights[f"encoder.layer.{i}.{part}.bias"])
                        for part in _LAYER} for i in range(config["num_hidden_layers"])]

    @classmethod
    def load(cls, path: str | Path, max_length: int = 512) -> BertEncoder | None:
        """Weights and tokenizer from a local checkpoint directory; ``None`` if it is not plain BERT
        or lacks ``model.safetensors``/``tokenizer.json`` (the caller then uses transformers)."""
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        root = Path(path)
        config = json.loads((root / "config.json").read_text())
        if not plain_bert(config) or not (root / "model.safetensors").exists() \
                or not (root / "tokenizer.json").exists():
            return None
        weights = {name.removeprefix("bert."): tensor for name, tensor in load_file(root / "model.safetensors").items()}
        # What transformers' fast tokenizer does for padding=True, truncation=True, max_length=...:
        # pad to the longest text of the batch (tokenizer.json may say "pad to 128"), cut at max_length.
        tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        tokenizer.enable_truncation(max_length)
        pad_id = config.get("pad_token_id", 0) or 0
        tokenizer.enable_padding(pad_id=pad_id, pad_token=tokenizer.id_to_token(pad_id) or "[PAD]")
        return cls(config, weights, tokenizer)

    def tokenize(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and attention mask of ``texts``, padded to the longest."""
        encodings = self.tokenizer.encode_batch(texts)
        return (torch.tensor([e.ids for e in encodings]), torch.tensor([e.attention_mask for e in encodings]))

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Last hidden states, ``(batch, tokens, hidden)``."""
        w, eps, (batch, tokens) = self.w, self.eps, input_ids.shape
        x = (functional.embedding(input_ids, w["embeddings.word_embeddings.weight"])
             + w["embeddings.position_embeddings.weight"][:tokens] + w["embeddings.token_type_embeddings.weight"][0])
        hidden = x.shape[-1]
        x = functional.layer_norm(x, (hidden,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        mask = attention_mask[:, None, None, :].bool()  # keys that are real tokens, for every head and query

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, tokens, self.heads, hidden // self.heads).transpose(1, 2)

        for p in self.layers:
            context = functional.scaled_dot_product_attention(
                heads(functional.linear(x, *p["attention.self.query"])),
                heads(functional.linear(x, *p["attention.self.key"])),
                heads(functional.linear(x, *p["attention.self.value"])), attn_mask=mask)
            attended = functional.linear(context.transpose(1, 2).reshape(batch, tokens, hidden),
                                         *p["attention.output.dense"])
            x = functional.layer_norm(x + attended, (hidden,), *p["attention.output.LayerNorm"], eps)
            up = functional.gelu(functional.linear(x, *p["intermediate.dense"]))
            x = functional.layer_norm(x + functional.linear(up, *p["output.dense"]), (hidden,),
                                      *p["output.LayerNorm"], eps)
        return x
