"""docs-helper: a small retrieval agent, instrumented only through ``agentwatch.telemetry``.

It answers product questions from a handful of documentation passages: a keyword intent classifier,
a TF-IDF retriever behind agentwatch's bounded batching queue, and a pricing tool. It is not the
reference agent: other routes, intents and error classes, no Redis, no torch. Its closed label
values come from its own spec (``agentwatch.yaml`` next to this file), the same file its rules,
dashboards and manifests are generated from (``agentwatch generate --spec agentwatch.yaml``).

    python retrieval_agent.py --port 8081
    curl -s localhost:8081/v1/ask -H 'content-type: application/json' -d '{"question": "how do I reset my password?"}'

Environment: ``DOCS_HELPER_FAULT_RATIO`` (share of questions answered 500 ``injected_fault``),
``DOCS_HELPER_TOOL_FAILURE_RATIO`` (share of pricing questions whose tool fails: 502 ``tool_failed``),
``DOCS_HELPER_LOAD_SECONDS`` (simulated index load, default 0.5), plus the telemetry library's
(``OTEL_EXPORTER_OTLP_ENDPOINT``, ``AGENTWATCH_CAPTURE_CONTENT`` ...).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, Field

from agentwatch.telemetry import (
    AppError,
    Batcher,
    ClosedSets,
    Readiness,
    Telemetry,
    TelemetrySettings,
    catalogue,
    configure_logging,
    install_error_handling,
)

SPEC = Path(os.environ.get("DOCS_HELPER_SPEC", Path(__file__).with_name("agentwatch.yaml")))
MODEL = "tfidf-docs"

PASSAGES = {
    "reset-password": ("Reset your password", "Open account settings, choose security, then reset password. "
                       "A reset link is emailed to you and expires after one hour."),
    "two-factor": ("Two-factor authentication", "Enable two-factor authentication in account security "
                   "settings with an authenticator app or a hardware key."),
    "delete-account": ("Delete your account", "Account owners can delete the account from account settings; "
                       "deleted data is kept for thirty days, then erased."),
    "install-cli": ("Install the command-line tool", "Install the CLI with pip install docs-helper-cli, then "
                    "run docs-helper login to connect it to your workspace."),
    "create-project": ("Create a project", "Create a project from the dashboard with the new project button "
                       "and invite teammates by email."),
    "export-data": ("Export your data", "Export projects as JSON or CSV from the project menu; large exports "
                    "are emailed as a download link."),
    "api-tokens": ("API tokens", "Create API tokens under developer settings; a token inherits your role and "
                   "can be revoked at any time."),
    "sync-error": ("Sync errors", "A sync error usually means an expired token or a network timeout; "
                   "reconnect the integration and retry the sync."),
    "slow-dashboard": ("Slow dashboards", "Dashboards load slowly when a project holds many large files; "
                       "archive old files or split the project."),
    "login-loop": ("Login loop", "If login keeps returning to the sign-in page, clear cookies for the site "
                   "and disable extensions that block third-party cookies."),
    "webhook-fail": ("Webhook failures", "Failed webhooks are retried five times with backoff; check that "
                     "your endpoint answers 2xx within ten seconds."),
    "plans": ("Plans and pricing", "The team plan costs 12 dollars per seat per month; the enterprise plan "
              "adds single sign-on and audit logs."),
    "invoices": ("Invoices and billing", "Invoices are issued monthly and can be downloaded from billing "
                 "settings; change the billing email there too."),
    "refund-policy": ("Refunds", "Annual plans can be refunded within thirty days of purchase; monthly plans "
                      "are not refunded but can be cancelled any time."),
}

#: Intent → keywords; the first intent with the most hits wins, none: ``other``.
INTENT_KEYWORDS = {
    "how_to": {"how", "install", "create", "export", "enable", "setup", "set", "use", "invite"},
    "troubleshooting": {"error", "fail", "failing", "failed", "slow", "broken", "loop", "timeout", "retry"},
    "pricing": {"price", "pricing", "cost", "costs", "plan", "plans", "seat", "seats", "pay", "dollars"},
    "account": {"account", "password", "login", "delete", "token", "tokens", "invoice", "billing", "refund"},
}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def classify(question: str) -> tuple[str, float]:
    """Keyword intent and a confidence in (0, 1]: the winner's share of all keyword hits."""
    tokens = set(words(question))
    hits = {intent: len(tokens & keywords) for intent, keywords in INTENT_KEYWORDS.items()}
    best = max(hits, key=lambda k: hits[k])
    total = sum(hits.values())
    return (best, hits[best] / total) if total else ("other", 0.1)


class Index:
    """TF-IDF vectors of the passages; ``search`` answers a batch of questions at once."""

    def __init__(self, passages: dict[str, tuple[str, str]]) -> None:
        docs = {pid: Counter(words(title + " " + body)) for pid, (title, body) in passages.items()}
        df = Counter(word for counts in docs.values() for word in counts)
        self.idf = {word: math.log(len(docs) / n) + 1 for word, n in df.items()}
        self.vectors = {pid: self._unit(counts) for pid, counts in docs.items()}

    def _unit(self, counts: Counter[str]) -> dict[str, float]:
        vec = {w: n * self.idf.get(w, 0.0) for w, n in counts.items() if w in self.idf}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {w: v / norm for w, v in vec.items()}

    def search(self, questions: list[str], k: int = 3) -> list[list[tuple[str, float]]]:
        out = []
        for question in questions:
            q = self._unit(Counter(words(question)))
            scores = [(pid, sum(q.get(w, 0.0) * v for w, v in vec.items())) for pid, vec in self.vectors.items()]
            out.append([(pid, round(s, 4)) for pid, s in sorted(scores, key=lambda x: -x[1])[:k] if s > 0])
        return out


class Question(BaseModel):
    question: str = Field(min_length=1, max_length=2000)


def price_tool(question: str, failure_ratio: float) -> str:
    """The 'tool' the agent calls for pricing questions: seats times the team plan's price."""
    if random.random() < failure_ratio:
        raise AppError("tool_failed", "the pricing tool did not answer")
    seats = next((int(w) for w in words(question) if w.isdigit()), 1)
    return f"{seats} seat(s) on the team plan cost {seats * 12} dollars per month."


def create_app() -> FastAPI:
    fault_ratio = float(os.environ.get("DOCS_HELPER_FAULT_RATIO", "0"))
    tool_failure_ratio = float(os.environ.get("DOCS_HELPER_TOOL_FAILURE_RATIO", "0"))
    load_seconds = float(os.environ.get("DOCS_HELPER_LOAD_SECONDS", "0.5"))

    tel = Telemetry(TelemetrySettings.from_env(service_name="docs-helper"))
    tel.declare(ClosedSets.from_spec(SPEC))  # intents, error classes, models: the spec's application:
    readiness = Readiness(tel)
    holder: dict[str, Index] = {}
    batcher: Batcher[str, list[tuple[str, float]]] = Batcher(
        lambda questions: holder["index"].search(questions), telemetry=tel, model=MODEL, operation="embed",
        max_batch=8, max_wait_s=0.005, capacity=32)
    readiness.expect(MODEL)

    async def load() -> None:
        try:
            async with readiness.loading(MODEL):
                await asyncio.sleep(load_seconds)  # stands in for reading a real index from disk
                holder["index"] = await asyncio.to_thread(Index, PASSAGES)
                await batcher.run_once(["warm up the retriever"])
        except Exception:
            return  # readiness.loading recorded the failure: /healthz and /readyz answer 503
        readiness.started()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        task = asyncio.create_task(load())
        yield
        task.cancel()
        await batcher.stop()
        tel.shutdown()

    app = FastAPI(title="docs-helper", lifespan=lifespan)

    @app.post("/v1/ask")
    async def ask(body: Question) -> dict:
        if not readiness.is_started:
            raise AppError("model_not_loaded", "the retriever is still loading; retry shortly")
        if random.random() < fault_ratio:
            raise AppError("injected_fault", "injected fault (DOCS_HELPER_FAULT_RATIO)")
        intent, confidence = classify(body.question)
        tel.metrics.inc(catalogue.INTENTS_TOTAL, intent=intent)
        tel.metrics.observe(catalogue.INTENT_CONFIDENCE, confidence)
        hits = await batcher.call(body.question, timeout_s=2.0)
        if not hits:
            raise AppError("no_match", "no passage matches the question; try other words")
        answer = PASSAGES[hits[0][0]][1]
        if intent == "pricing":
            with tel.span("tool.price_calculator"):
                answer = price_tool(body.question, tool_failure_ratio)
        return {"intent": intent, "confidence": round(confidence, 3), "answer": answer,
                "passages": [{"id": pid, "title": PASSAGES[pid][0], "score": score} for pid, score in hits]}

    @app.get("/v1/passages/{passage_id}")
    async def passage(passage_id: str) -> dict:
        if passage_id not in PASSAGES:
            raise AppError("no_match", "no such passage")
        title, text = PASSAGES[passage_id]
        return {"id": passage_id, "title": title, "text": text}

    readiness.add_check("retriever", lambda: batcher.running, error_class="model_not_loaded",
                        reason="the retrieval worker is not running")
    readiness.install(app)
    install_error_handling(app, tel, max_body_bytes=16384)
    tel.instrument_app(app)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    configure_logging("INFO")
    uvicorn.run(create_app(), host=args.host, port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
