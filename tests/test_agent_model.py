"""The real all-MiniLM-L6-v2 intent model: held-out accuracy, batching consistency, the intents file."""

from __future__ import annotations

import pytest
import torch
from agent_helpers import shared_model

from agentwatch.agent.intents import IntentCatalogueError, load_intents
from agentwatch.telemetry import catalogue as c

# Written for this test, never added to intents.yaml: the prototypes have not seen them.
HELD_OUT = [
    ("my parcel hasn't shown up, where is it?", "order_status"),
    ("could you tell me when order 99812 will be delivered", "order_status"),
    ("I'd like my money returned for the shoes", "refund"),
    ("please cancel order 12345", "cancellation"),
    ("do you send packages to Germany?", "shipping"),
    ("why did you take money from my card two times", "billing"),
    ("I can't sign in, reset my login", "account"),
    ("does this phone case fit the pixel 8?", "product_question"),
    ("this is awful, I am so annoyed with you people", "complaint"),
    ("can I speak with an actual person", "human_agent"),
    ("hiya", "greeting"),
    ("thanks a lot, goodbye", "goodbye"),
    ("what's a good recipe for pancakes", "other"),
    ("I need to return these boots and get my money back", "refund"),
    ("put me in touch with your support team, a real one", "human_agent"),
    ("how many days does delivery to Spain take", "shipping"),
]


@pytest.mark.model
def test_held_out_utterances_are_classified_correctly():
    model = shared_model()
    result = model.classify([text for text, _ in HELD_OUT])
    wrong = [(text, want, got) for (text, want), (got, _) in zip(HELD_OUT, result.labels, strict=True)
             if got != want]
    assert len(wrong) <= 1, f"misclassified: {wrong}"
    assert all(0.0 <= conf <= 1.0 for _, conf in result.labels)


@pytest.mark.model
def test_a_batch_gives_the_same_answers_as_one_at_a_time():
    model = shared_model()
    texts = [text for text, _ in HELD_OUT[:8]]
    batched = model.classify(texts)
    single = [model.classify([t]) for t in texts]
    assert [label for label, _ in batched.labels] == [s.labels[0][0] for s in single]
    for (_, conf), s in zip(batched.labels, single, strict=True):
        assert conf == pytest.approx(s.labels[0][1], abs=1e-4)
    assert batched.input_tokens == [s.input_tokens[0] for s in single]


@pytest.mark.model
def test_embeddings_are_unit_vectors_and_similar_sentences_are_closer():
    model = shared_model()
    vectors = model.embed(["where is my order", "where's my package", "tell me a joke"])
    assert torch.allclose(vectors.norm(dim=1), torch.ones(3), atol=1e-5)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])
    assert model.intent_names == list(c.INTENTS)


def test_the_packaged_intents_cover_exactly_the_catalogue_intents():
    intents = load_intents()
    assert list(intents) == list(c.INTENTS)
    assert all(len(examples) >= 8 for examples in intents.values())
    held_out = {text.lower() for text, _ in HELD_OUT}
    assert not held_out & {e.lower() for examples in intents.values() for e in examples}


@pytest.mark.parametrize(("text", "message"), [
    ("intents: []\n", "must map intent names"),
    ("intents:\n  refund: [a]\n", "missing"),
    ("intents:\n" + "".join(f"  {i}: [x]\n" for i in c.INTENTS) + "  weather: [x]\n", "not in the catalogue"),
    ("intents:\n" + "".join(f"  {i}: []\n" for i in c.INTENTS), "non-empty list"),
], ids=["a list instead of a mapping", "missing intents", "an intent outside the catalogue",
        "an intent without examples"])
def test_a_bad_intents_file_is_rejected_with_the_file_name(tmp_path, text, message):
    path = tmp_path / "intents.yaml"
    path.write_text(text)
    with pytest.raises(IntentCatalogueError, match=message) as failed:
        load_intents(path)
    assert str(path) in str(failed.value)


@pytest.mark.model
def test_the_native_encoder_computes_what_transformers_bert_computes():
    from transformers import AutoModel, AutoTokenizer

    from agentwatch.agent.encoder import BertEncoder
    from agentwatch.agent.settings import default_model_path

    path = default_model_path()
    texts = [text for text, _ in HELD_OUT] + ["word " * 300]  # the last one is truncated at 128 tokens
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    reference = AutoModel.from_pretrained(path, local_files_only=True).eval()
    native = BertEncoder.load(path, max_length=128)
    assert native is not None
    batch = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    ids, mask = native.tokenize(texts)
    assert torch.equal(ids, batch["input_ids"]) and torch.equal(mask, batch["attention_mask"])
    with torch.inference_mode():
        expected, got = reference(**batch).last_hidden_state, native(ids, mask)
    assert float(((expected - got).abs() * mask[..., None]).max()) < 1e-4


@pytest.mark.model
def test_the_packaged_prototypes_are_those_of_the_default_model_and_intents():
    from agentwatch.agent.prototypes import PACKAGED, fingerprint
    from agentwatch.agent.settings import default_model_path

    model = shared_model()
    assert model.prototypes_source == "package", (
        "intents.yaml or the model changed: run `python -m agentwatch.agent.rewrite_prototypes` "
        f"to rewrite agent/{PACKAGED}")
    fresh = model.compute_prototypes(load_intents())
    assert torch.allclose(model.prototypes, fresh, atol=1e-5)
    assert len(fingerprint(default_model_path(), load_intents())) == 64


@pytest.mark.model
def test_prototypes_of_other_intents_are_computed_once_then_read_from_the_cache(tmp_path, monkeypatch):
    from agentwatch.agent.model import IntentModel
    from agentwatch.agent.settings import default_model_path

    monkeypatch.setenv("AGENT_CACHE_DIR", str(tmp_path))
    intents = {name: [f"{name} please", f"about {name}"] for name in c.INTENTS}
    first = IntentModel.load(default_model_path(), name="m", threads=1, intents=intents)
    second = IntentModel.load(default_model_path(), name="m", threads=1, intents=intents)
    assert (first.prototypes_source, second.prototypes_source) == ("computed", "cache")
    assert torch.equal(first.prototypes, second.prototypes)
    assert len(list(tmp_path.glob("prototypes-*.safetensors"))) == 1
