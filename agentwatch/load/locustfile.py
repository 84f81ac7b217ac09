"""The one locustfile: support-queue customers against agentwatch agents.

Each persona of :mod:`agentwatch.load.personas` is a Locust user class (weights = the queue's
mix); a ``BrokenClient`` sends malformed requests that must get the right 4xx. Every request
goes to a target picked at random (``--targets``), so the turns of one conversation land on any
instance, as they would behind a Service. The load shape is chosen by name (``--shape``).

Run it the usual way (``agentwatch load`` wraps exactly this, then checks the turns)::

    locust -f "$(agentwatch load --locustfile)" --headless --shape spike -u 20 -t 10m \
        --host http://127.0.0.1:8000 --targets http://127.0.0.1:8000,http://127.0.0.1:8001 \
        --csv out/locust --csv-full-history --ledger out/ledger.json

Options beyond Locust's own (each also from the environment variable in brackets):
``--shape`` [LOAD_SHAPE], ``--targets`` [LOAD_TARGETS], ``--think-time MIN,MAX`` seconds between
turns [LOAD_THINK_TIME], ``--ledger`` [LOAD_LEDGER], the ramp's ``--step-users``,
``--step-seconds``, ``--max-users``, ``--slo-latency``, ``--slo-objective``, ``--slo-error-ratio``,
``--breaches`` and the spike's ``--spike-factor``. ``-u`` is the base user count and ``-t`` the run time of every shape.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import time
import uuid
from typing import Any

from locust import FastHttpUser, LoadTestShape, events, task
from locust.env import Environment

from agentwatch.load import personas as p
from agentwatch.load.ledger import CLOSE, MESSAGE, OK, ConversationRecord, Recorder
from agentwatch.load.shapes import SHAPES, Shape, ShapeOptions, make_shape

log = logging.getLogger("agentwatch.load")

RECORDER = Recorder()
_RETRYABLE = frozenset({0, 429, 500, 502, 503, 504})
_seeds = itertools.count()


class _Config:
    """The parsed command line, read once at start-up (users read it, never the parser)."""

    targets: tuple[str, ...] = ()
    think: tuple[float, float] = (1.0, 3.0)
    ledger: str = ""
    seed: int | None = None
    #: ``-r`` as given (Locust later defaults it to 1 in headless mode; the shapes have better defaults).
    spawn_rate: float | None = None


CONFIG = _Config()


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("agentwatch", "agentwatch load shapes and targets")
    group.add_argument("--shape", choices=list(SHAPES), default="steady", env_var="LOAD_SHAPE",
                       help="load shape (default steady)")
    group.add_argument("--targets", default="", env_var="LOAD_TARGETS",
                       help="comma-separated agent base URLs; each request picks one (default: --host)")
    group.add_argument("--think-time", default="1,3", env_var="LOAD_THINK_TIME",
                       help="MIN,MAX seconds a customer waits between turns (default 1,3)")
    group.add_argument("--ledger", default="", env_var="LOAD_LEDGER",
                       help="write acknowledged turns and answers by class here (JSON) at the end")
    group.add_argument("--seed", type=int, default=None, help="seed the customers' choices")
    group.add_argument("--step-users", type=int, default=10, help="ramp: users added per step")
    group.add_argument("--step-seconds", type=float, default=20.0, help="ramp: seconds per step")
    group.add_argument("--max-users", type=int, default=1000, help="ramp: never more users than this")
    group.add_argument("--warmup-seconds", type=float, default=2.0, help="ramp: unmeasured start of a step")
    group.add_argument("--slo-latency", type=float, default=None, help="ramp: the latency SLO's threshold, seconds")
    group.add_argument("--slo-objective", type=float, default=99.0,
                       help="ramp: percent of messages a step must answer within --slo-latency")
    group.add_argument("--slo-error-ratio", type=float, default=0.001, help="ramp: error ratio a step must hold")
    group.add_argument("--breaches", type=int, default=2, help="ramp: stop after this many failing steps")
    group.add_argument("--spike-factor", type=float, default=5.0, help="spike: users times this during the surge")
    group.add_argument("--spike-start", type=float, default=None, help="spike: seconds before the surge")
    group.add_argument("--spike-seconds", type=float, default=None, help="spike: how long the surge lasts")


def shape_options(options: Any) -> ShapeOptions:
    """Locust's parsed options → the shape's options (``-t`` absent: a day)."""
    return ShapeOptions(
        users=options.num_users or 1, seconds=float(options.run_time or 86400), spawn_rate=CONFIG.spawn_rate,
        step_users=options.step_users, step_seconds=options.step_seconds, max_users=options.max_users,
        warmup_seconds=options.warmup_seconds, spike_factor=options.spike_factor, spike_start=options.spike_start,
        spike_seconds=options.spike_seconds, slo_latency=options.slo_latency, slo_objective=options.slo_objective,
        slo_error_ratio=options.slo_error_ratio, breaches=options.breaches)


@events.init.add_listener
def _configure(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    if options is None:  # used as a library without a command line
        return
    low, _, high = options.think_time.partition(",")
    CONFIG.think = (float(low), float(high or low))
    CONFIG.targets = tuple(u.strip().rstrip("/") for u in options.targets.split(",") if u.strip())
    CONFIG.ledger = options.ledger
    CONFIG.seed = options.seed
    CONFIG.spawn_rate = options.spawn_rate


@events.test_stop.add_listener
def _save_ledger(**_: Any) -> None:
    if CONFIG.ledger:
        RECORDER.save(CONFIG.ledger)


def answer_class(status: int, body: Any, error: BaseException | None) -> str:
    """``ok``, the API's error class, or a transport class (``connection_error``, ``timeout``)."""
    if status == 0:
        text = repr(error).lower()
        return "timeout" if "timeout" in text or "timed out" in text else "connection_error"
    if 200 <= status < 300:
        return OK
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("class") or f"http_{status}")
    return f"http_{status}"


class _Client(FastHttpUser):
    """Request plumbing shared by the customers and the broken client."""

    abstract = True
    network_timeout = 10.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        seed = None if CONFIG.seed is None else CONFIG.seed * 100_003 + next(_seeds)
        self.rng = random.Random(seed)

    def wait_time(self) -> float:  # between conversations: the next customer in this seat
        return self.rng.uniform(*CONFIG.think)

    def think(self) -> None:
        time.sleep(self.rng.uniform(*CONFIG.think))  # gevent-patched: yields to the other users

    def target(self) -> str:
        return self.rng.choice(CONFIG.targets) if CONFIG.targets else (self.host or "").rstrip("/")

    def call(self, method: str, path: str, body: object, name: str, expect: int = 200,
             expect_class: str = OK) -> tuple[int, Any, str, str]:
        """One request; returns ``(status, JSON body or None, answer class, target)``."""
        host = self.target()
        kwargs: dict[str, Any] = {}
        if isinstance(body, bytes):
            kwargs = {"data": body, "headers": {"Content-Type": "application/json"}}
        elif body is not None:
            kwargs = {"json": body}
        started = time.perf_counter()
        with self.client.request(method, host + path, name=name, catch_response=True, **kwargs) as response:
            status = response.status_code or 0
            try:
                payload = json.loads(response.text) if response.text else None
            except (ValueError, TypeError):
                payload = None
            got = answer_class(status, payload, getattr(response, "error", None))
            ok = status == expect and got == expect_class
            if ok:
                response.success()
            else:
                response.failure(got if got != OK else f"unexpected {status}")
            seconds = response.request_meta.get("response_time", (time.perf_counter() - started) * 1000) / 1000
        RECORDER.answer(name, OK if ok else got)
        if name == MESSAGE:
            RECORDER.message(time.time(), seconds, ok)
        self._retry_after = _retry_after(response.headers) if status == 429 else None
        return status, payload, OK if ok else got, host


def _retry_after(headers: Any) -> float | None:
    try:
        return min(5.0, float(headers.get("retry-after")))
    except (TypeError, ValueError, AttributeError):
        return None


class Customer(_Client):
    """Plays its ``persona`` over and over, a new conversation each time."""

    abstract = True
    persona: p.Persona

    @task
    def converse(self) -> None:
        persona = self.persona
        cid = f"{persona.name}-{uuid.uuid4().hex[:16]}"
        record = RECORDER.conversation(cid, persona.name)
        for i, text in enumerate(persona.script(self.rng)):
            if i:
                self.think()
            reply = self.say(cid, text, record)
            if reply is None:
                record.gave_up = True
                return
            if reply.get("escalated"):
                record.escalated = True
                break  # a human has it now
        if persona.closes(self.rng):
            self.think()
            closed_as = "resolved" if record.escalated else persona.close
            status, body, _, _ = self.call("POST", f"/v1/conversations/{cid}/close", {"outcome": closed_as}, CLOSE)
            if status == 200:
                record.closed_as, record.recorded_outcome = closed_as, body.get("outcome")

    def say(self, cid: str, text: str, record: ConversationRecord) -> dict[str, Any] | None:
        """Send one message; a customer retries a failed one once, then gives up."""
        for attempt in range(2):
            status, body, _, host = self.call("POST", f"/v1/conversations/{cid}/messages", {"text": text}, MESSAGE)
            if status == 200 and isinstance(body, dict):
                record.acked.append(int(body["turn"]))
                if host not in record.hosts:
                    record.hosts.append(host)
                return body
            if status not in _RETRYABLE or attempt:
                return None
            time.sleep(self._retry_after or self.rng.uniform(*CONFIG.think))
        return None


class BrokenClient(_Client):
    """A buggy integration: every request is malformed and must get the documented 4xx."""

    weight = 1

    @task
    def probe(self) -> None:
        probe = self.rng.choice(p.PROBES)
        path = probe.path.format(cid=uuid.uuid4().hex[:12])
        self.call(probe.method, path, probe.body, probe.name, expect=probe.status, expect_class=probe.error_class)


def _persona_user(persona: p.Persona) -> type[Customer]:
    body = {"persona": persona, "weight": persona.weight, "__module__": __name__,
            "__doc__": f"Customer persona {persona.name!r}."}
    return type(p.user_class_name(persona), (Customer,), body)


#: One Locust user class per persona, by class name (``OrderStatus``, ``Complaint``, ...).
CUSTOMERS: dict[str, type[Customer]] = {}
for _persona in p.PERSONAS:
    _user = _persona_user(_persona)
    CUSTOMERS[_user.__name__] = _user
    globals()[_user.__name__] = _user  # Locust finds user classes among the module's names
del _persona, _user


class NamedShape(LoadTestShape):
    """Delegates to the shape named by ``--shape`` (:mod:`agentwatch.load.shapes`)."""

    use_common_options = True

    def __init__(self) -> None:
        super().__init__()
        self.shape: Shape | None = None

    def tick(self) -> tuple[int, float] | None:
        if self.shape is None:
            assert self.runner is not None
            options = self.runner.environment.parsed_options
            self.shape = make_shape(options.shape, shape_options(options))
            log.info("load shape %s: %s", options.shape, self.shape.options)
        return self.shape.tick(self.get_run_time(), time.time(), RECORDER)
