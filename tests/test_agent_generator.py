"""The optional generative backend, with a tiny GPT-2 built from a config here (no downloads)."""

from __future__ import annotations

import pytest
import torch
from agent_helpers import run, running_agent
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

from agentwatch.agent.generator import Generator
from agentwatch.agent.settings import default_model_path
from agentwatch.telemetry import catalogue as c


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> str:
    """A 2-layer GPT-2 with random weights and the MiniLM WordPiece tokenizer, saved like any model."""
    path = tmp_path_factory.mktemp("tiny-gpt2")
    tokenizer = AutoTokenizer.from_pretrained(default_model_path(), local_files_only=True)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=128, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id)
    GPT2LMHeadModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def test_the_generator_loads_from_a_directory_and_measures_first_token_and_counts(tiny_lm):
    gen = Generator.load(tiny_lm, name="tiny-gpt2", threads=1)
    out = gen.generate("Customer: where is my order?\nAgent:", max_new_tokens=6)
    assert 0 < out.ttft_s <= out.duration_s
    assert out.input_tokens > 5 and 0 <= out.output_tokens <= 6
    long_prompt = "word " * 500  # longer than the 128-position context: left-truncated, not an error
    assert gen.generate(long_prompt, max_new_tokens=4).input_tokens == 128 - 4


@pytest.mark.live
@pytest.mark.model
def test_the_agent_replies_through_the_generator_with_ttft_and_token_telemetry(redis_server, tiny_lm):
    async def scenario():
        async with running_agent(redis_server.url, generator_model=tiny_lm, generator_name="tiny-gpt2",
                                 generator_max_tokens=5) as agent:
            response = await agent.say("gen-1", "where is order 12345?")
            human = await agent.say("gen-2", "I want to talk to a human")
            return agent, response, human

    agent, response, human = run(scenario())
    assert response.status_code == 200 and response.json()["intent"] == "order_status"
    assert "member of our support team" in human.json()["reply"], "hand-offs stay templated"
    assert agent.value(c.MODEL_LOADED, model="tiny-gpt2") == 1
    assert agent.value(c.GENERATION_TTFT.count, model="tiny-gpt2") == 1
    assert agent.value(c.GENERATION_TOKENS, model="tiny-gpt2", token_type="input") > 10
    output = agent.value(c.GENERATION_TOKENS, model="tiny-gpt2", token_type="output")
    assert 0 <= output <= 5
    assert agent.value(c.INFERENCE_DURATION.count, model="tiny-gpt2", operation="generate") == 1
    generate = [s for s in agent.finished_spans() if s.name == "inference"
                and s.attributes.get("gen_ai.request.model") == "tiny-gpt2"]
    assert len(generate) == 1 and generate[0].attributes["gen_ai.usage.output_tokens"] == output
    assert generate[0].kind.name == "INTERNAL"
