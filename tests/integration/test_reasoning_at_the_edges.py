"""The reasoning agents at their limits: a `ChoreographyPlanner` driven by a hostile or confused
model (scripted, or Bedrock Converse through botocore's `Stubber` with response shapes of the
Converse API reference), oversized and over-nested answers, loops, stop reasons, Bedrock errors,
late / duplicated / forged replies, concurrent duplicate deliveries and awkward text.

Each case asserts what a user of AWS and of agent frameworks expects: nothing is lost, a
permanent error names the limit, or a transient error is retried; never an unrelated exception
retried to the dead-letter queue, never a silently accepted bad answer, never unbounded spend.
Defects are strict xfails (`DEFECT: ...`)."""

from __future__ import annotations

import asyncio
import itertools
import threading
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from soorma import Worker
from soorma.ai import (
    BedrockConverseProvider,
    ModelRequest,
    ModelResponse,
    ScriptedProvider,
    TokenUsage,
    ToolCall,
)
from soorma.ai.control_tools import MAX_CONTROL_ARGUMENT_BYTES
from soorma.ai.plan_store import STATE_SK, ChoreographyState, ChoreographyStore
from soorma.bus import BusClient
from soorma.context import PlatformContext
from soorma.memory import MemoryTable
from soorma_common import EventEnvelope, EventTopic
from tests.ai_world import (
    ANSWER,
    DRAFT_TEXT,
    DRAFT_TOOL,
    GOAL,
    RESEARCH,
    RESEARCH_TOOL,
    planner,
    published,
    register,
    send_goal,
    workers,
)
from tests.ai_world import run_plan as run
from tests.integration.test_memory_concurrency import serialize_item_writes

MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
PLANNER = "research-planner"
NORMAL = [
    (RESEARCH_TOOL, {"topic": "tides"}),
    (DRAFT_TOOL, {"notes": "facts about tides"}),
    ("complete", {"result": DRAFT_TEXT}),
]
#: DynamoDB: "nested attributes up to 32 levels deep" (Service, account, and table quotas).
DYNAMODB_MAX_NESTING = 32


# ---- the world ----------------------------------------------------------------------------------


def plan_id_of(bus: Any) -> str:
    [started] = published(bus, "plan.started")
    return str(started.data["plan_id"])


def state_of(bus: Any) -> ChoreographyState:
    state = ChoreographyStore(MemoryTable.from_settings(), "acme").load(plan_id_of(bus))
    assert state is not None
    return state


def outcomes(bus: Any, event_type: str | None = None) -> list[str]:
    return [
        h.outcome
        for h in bus.handlings(PLANNER)
        if event_type is None or h.event_type == event_type
    ]


def fixed(name: str, tool_input: dict[str, Any], tokens: int = 10) -> Any:
    """A script function answering one tool call with a fixed token count (fresh ids)."""
    counter = itertools.count()

    def answer(request: ModelRequest) -> ModelResponse:
        call = ToolCall(tool_use_id=f"tooluse_{next(counter)}", name=name, input=tool_input)
        usage = TokenUsage(input_tokens=tokens - tokens // 5, output_tokens=tokens // 5)
        return ModelResponse(tool_calls=(call,), stop_reason="tool_use", usage=usage, model_id="m")

    return answer


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"n": value}
    return value


# ---- Bedrock Converse shapes (API reference: Converse, Response Syntax) -------------------------


def bedrock_client() -> Any:
    return botocore.session.get_session().create_client("bedrock-runtime", region_name="us-east-1")


def converse(content: list[dict[str, Any]], stop: str = "tool_use") -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 412, "outputTokens": 38, "totalTokens": 450},
        "metrics": {"latencyMs": 812},
    }


def tool_use(name: str, tool_input: Any, use_id: str = "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q") -> Any:
    return {"toolUse": {"toolUseId": use_id, "name": name, "input": tool_input}}


def bedrock_plan(
    soorma_bus: Any, tables: dict[str, str], answers: list[Any], **options: Any
) -> Any:
    """Run a plan whose model is Bedrock, stubbed with `answers` (responses or error tuples)."""
    client = bedrock_client()
    with Stubber(client) as stub:
        for item in answers:
            if isinstance(item, tuple):
                code, message, status = item
                stub.add_client_error(
                    "converse",
                    service_error_code=code,
                    service_message=message,
                    http_status_code=status,
                )
            else:
                stub.add_response("converse", item)
        return run(soorma_bus, tables, BedrockConverseProvider(MODEL, client=client), **options)


FULL_ANSWER = [
    converse([tool_use(RESEARCH_TOOL, {"topic": "tides"}, "tooluse_2")]),
    converse([tool_use("complete", {"result": DRAFT_TEXT}, "tooluse_3")]),
]


# ---- what the model calls -----------------------------------------------------------------------


def test_an_unknown_tool_name_is_never_published_and_is_repaired(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider([("drop_table; --", {"topic": "x"}), ("__proto__", {}), *NORMAL])
    bus = run(soorma_bus, soorma_tables, model)

    published_types = {e.type for e in bus.published if e.topic == EventTopic.ACTION_REQUESTS}
    assert published_types == {GOAL, "research.requested", "draft.requested"}
    feedback = model.requests[1].turns[-1].results[0]
    assert feedback.is_error and "'drop_table; --'" in feedback.content
    assert RESEARCH_TOOL in feedback.content  # the model is told what exists
    assert published(bus, ANSWER)[0].data["result"] == DRAFT_TEXT
    assert "failed" not in outcomes(bus)


def test_a_bedrock_tool_name_over_64_characters_is_repaired(soorma_bus, soorma_tables) -> None:
    bus = bedrock_plan(
        soorma_bus,
        soorma_tables,
        [converse([tool_use("research-requested-" + "x" * 70, {"topic": "t"})]), *FULL_ANSWER],
    )

    assert bus.dead_letters() == []
    assert "failed" not in outcomes(bus)  # repaired in the step, not redelivered by SQS
    assert published(bus, ANSWER)[0].data["result"] == DRAFT_TEXT


@pytest.mark.parametrize("tool_input", ['{"topic": "tides"', ["tides"]], ids=["not-json", "list"])
def test_tool_input_that_is_not_a_json_object_is_repaired(
    soorma_bus, soorma_tables, tool_input: Any
) -> None:
    bus = bedrock_plan(
        soorma_bus, soorma_tables, [converse([tool_use(RESEARCH_TOOL, tool_input)]), *FULL_ANSWER]
    )

    assert "failed" not in outcomes(bus) and bus.dead_letters() == []
    assert published(bus, ANSWER)[0].data["result"] == DRAFT_TEXT


def test_a_payload_failing_the_schema_ends_the_plan_naming_the_field(
    soorma_bus, soorma_tables
) -> None:
    model = ScriptedProvider([(RESEARCH_TOOL, {"topic": 42})] * 3)
    bus = run(soorma_bus, soorma_tables, model, max_repairs=2)

    assert published(bus, "research.requested") == []
    state = state_of(bus)
    assert state.status == "failed" and "3 attempts" in (state.reason or "")
    assert "topic" in (state.reason or "")
    [answer] = published(bus, ANSWER)
    assert answer.data["success"] is False and "topic" in answer.data["error"]
    assert bus.dead_letters() == [] and len(model.requests) == 3


def test_hundreds_of_tool_calls_in_one_turn_publish_nothing(soorma_bus, soorma_tables) -> None:
    burst = [(RESEARCH_TOOL, {"topic": f"t{n}"}) for n in range(300)]
    model = ScriptedProvider([burst, burst, burst])
    # Each repair resends the burst (≈ 450,000 tokens): a budget that lets both repairs run
    bus = run(soorma_bus, soorma_tables, model, token_budget=10**7)

    assert published(bus, "research.requested") == []
    state = state_of(bus)
    assert state.status == "failed" and "300 tools were called" in (state.reason or "")
    assert state.actions == 0 and len(model.requests) == 3
    assert published(bus, ANSWER)[0].data["success"] is False


def test_an_empty_bedrock_answer_is_repaired(soorma_bus, soorma_tables) -> None:
    bus = bedrock_plan(soorma_bus, soorma_tables, [converse([], "end_turn"), *FULL_ANSWER])

    assert published(bus, ANSWER)[0].data["result"] == DRAFT_TEXT
    [first, *_] = published(bus, "plan.decision")
    assert first.data["repairs"] == 1 and "failed" not in outcomes(bus)


# ---- stop reasons -------------------------------------------------------------------------------


def test_a_tool_call_cut_off_by_max_tokens_is_not_accepted(soorma_bus, soorma_tables) -> None:
    truncated = converse([tool_use("complete", {"result": DRAFT_TEXT[:25]}, "tooluse_1")])
    truncated["stopReason"] = "max_tokens"
    bus = bedrock_plan(soorma_bus, soorma_tables, [truncated, FULL_ANSWER[1]])

    assert published(bus, ANSWER)[0].data["result"] == DRAFT_TEXT


@pytest.mark.parametrize("stop", ["guardrail_intervened", "content_filtered"])
def test_a_blocked_answer_fails_the_plan_naming_the_stop_reason(
    soorma_bus, soorma_tables, stop: str
) -> None:
    blocked = converse([{"text": "Sorry, the model cannot answer this question."}], stop)
    bus = bedrock_plan(soorma_bus, soorma_tables, [blocked] * 3)

    state = state_of(bus)
    assert state.status == "failed" and bus.dead_letters() == []
    assert stop in (state.reason or "")


# ---- Bedrock errors -----------------------------------------------------------------------------


def test_bedrock_throttling_is_retried_and_nothing_is_lost_or_billed_twice(
    soorma_bus, soorma_tables
) -> None:
    throttled = ("ThrottlingException", "Too many requests, please wait before trying again.", 429)
    bus = bedrock_plan(soorma_bus, soorma_tables, [throttled, *FULL_ANSWER])

    assert outcomes(bus, GOAL) == ["failed", "handled"]  # SQS redelivered it
    assert "ThrottlingException" in (bus.handlings(PLANNER)[0].reason or "")
    assert len(published(bus, "research.requested")) == 1
    assert len(published(bus, "llm.tokens_used")) == 2  # one per decision, none for the throttle
    assert published(bus, ANSWER)[0].data["result"] == DRAFT_TEXT


def test_bedrock_validation_exception_dead_letters_and_a_redrive_recovers(
    soorma_bus, soorma_tables
) -> None:
    client = bedrock_client()
    invalid = "The model returned the following errors: tool_choice is not supported"
    with Stubber(client) as stub:
        stub.add_client_error(
            "converse",
            service_error_code="ValidationException",
            service_message=invalid,
            http_status_code=400,
        )
        bus = run(soorma_bus, soorma_tables, BedrockConverseProvider(MODEL, client=client))
        [letter] = bus.dead_letters(PLANNER)
        assert letter.kind == "permanent-error" and "ValidationException" in (letter.reason or "")
        assert outcomes(bus) == ["dead-lettered"] and published(bus, "research.requested") == []
        for answer in FULL_ANSWER:
            stub.add_response("converse", answer)
        assert bus.redrive(PLANNER) == 1
        bus.run_until_idle()

    assert published(bus, ANSWER)[0].data["result"] == DRAFT_TEXT  # nothing was lost
    assert state_of(bus).status == "completed"


def test_bedrock_access_denied_is_permanent_and_names_the_permission(
    soorma_bus, soorma_tables
) -> None:
    denied = (
        "AccessDeniedException",
        "You don't have access to the model with the specified model ID.",
        403,
    )
    bus = bedrock_plan(soorma_bus, soorma_tables, [denied])

    [letter] = bus.dead_letters(PLANNER)
    assert letter.kind == "permanent-error" and "ModelRequestError" in (letter.reason or "")
    assert "bedrock:InvokeModel" in (letter.reason or "") and MODEL in (letter.reason or "")
    assert "failed" not in outcomes(bus)  # no retry storm against a denied model


# ---- sizes and nesting --------------------------------------------------------------------------


def test_a_result_at_the_limit_reaches_the_requester(soorma_bus, soorma_tables) -> None:
    result = "tide " * (MAX_CONTROL_ARGUMENT_BYTES // 5 - 1)  # just under 64 KB as JSON
    model = ScriptedProvider([("complete", {"result": result})])
    bus = run(soorma_bus, soorma_tables, model)

    assert bus.dead_letters() == []
    assert [a.data["result"] for a in published(bus, ANSWER)] == [result]


def test_a_110_kb_result_is_repaired_naming_the_limit_not_dead_lettered(
    soorma_bus, soorma_tables
) -> None:
    # A plan keeps its result four times in its item (DynamoDB: 400 KB), so a result is
    # bounded well under the reply's own 256 KB: the model is told the limit and shortens it.
    model = ScriptedProvider(
        [("complete", {"result": "tide " * 22_000}), ("complete", {"result": "tides: the Moon"})]
    )
    bus = run(soorma_bus, soorma_tables, model)

    assert bus.dead_letters() == [] and "failed" not in outcomes(bus)
    feedback = model.requests[1].turns[-1].results[0]
    assert feedback.is_error and f"{MAX_CONTROL_ARGUMENT_BYTES}-byte limit" in feedback.content
    assert [a.data["result"] for a in published(bus, ANSWER)] == ["tides: the Moon"]


def test_a_reply_over_the_plan_item_limit_is_a_permanent_error_naming_400_kb(
    soorma_bus, soorma_tables
) -> None:
    researcher = Worker(name="researcher", capabilities=["research"], events_consumed=[RESEARCH])

    @researcher.on_task("research.requested")
    def research(event: EventEnvelope, context: Any) -> dict[str, Any]:
        return {"findings": "f" * 220_000}  # fits an event (256 KB), not the conversation

    model = ScriptedProvider([(RESEARCH_TOOL, {"topic": "tides"}), ("complete", {"result": "x"})])
    bus = run(soorma_bus, soorma_tables, model, researcher)

    [letter] = bus.dead_letters(PLANNER)
    assert letter.kind == "permanent-error" and letter.envelope.type == "research.completed"
    assert "ItemTooLargeError" in (letter.reason or "") and "400 KB" in (letter.reason or "")
    assert "failed" not in outcomes(bus)  # not retried: the model was asked once
    assert len(model.requests) == 2


def _nesting(value: dict[str, Any]) -> int:
    """How deep a DynamoDB attribute value nests maps and lists."""
    children = value.get("M", {}).values() if "M" in value else value.get("L", [])
    return 1 + max(map(_nesting, children), default=0) if ("M" in value or "L" in value) else 0


def test_a_result_nested_deeper_than_dynamodb_allows_is_not_stored(
    soorma_bus, soorma_tables
) -> None:
    model = ScriptedProvider([("complete", {"result": nested(40)}), ("complete", {"result": "ok"})])
    bus = run(soorma_bus, soorma_tables, model)

    key = {"pk": {"S": f"T#acme#PLAN#{plan_id_of(bus)}"}, "sk": {"S": STATE_SK}}
    item = boto3.client("dynamodb").get_item(TableName=soorma_tables["memory"], Key=key)["Item"]
    assert max(_nesting(v) for v in item.values()) <= DYNAMODB_MAX_NESTING


def test_a_tool_input_nested_thousands_deep_is_rejected_not_retried(
    soorma_bus, soorma_tables
) -> None:
    deep = ToolCall(tool_use_id="tooluse_deep", name="complete", input={"result": nested(3000)})
    usage = TokenUsage(input_tokens=100, output_tokens=10)
    answer = ModelResponse(tool_calls=(deep,), stop_reason="tool_use", usage=usage, model_id="m")
    model = ScriptedProvider([answer] * 10)
    bus = run(soorma_bus, soorma_tables, model)

    assert "failed" not in outcomes(bus)
    assert len(model.requests) <= 3  # at most the decision and its repairs
    assert state_of(bus).status == "failed"


# ---- loops and limits ---------------------------------------------------------------------------


def test_a_model_repeating_one_call_forever_stops_at_max_actions_naming_it(
    soorma_bus, soorma_tables
) -> None:
    model = ScriptedProvider(fixed(RESEARCH_TOOL, {"topic": "tides again"}))
    bus = run(soorma_bus, soorma_tables, model, max_actions=4)

    assert len(published(bus, "research.requested")) == 4
    assert len(model.requests) == 5  # the fifth decision was refused
    state = state_of(bus)
    assert state.status == "completed" and "max_actions of 4" in (state.reason or "")
    assert len(state.turns) == 1 + 2 * 4  # the goal, then one call and one result per action
    [notice] = published(bus, "plan.circuit_breaker_tripped")
    assert (notice.data["limit"], notice.data["value"], notice.data["used"]) == (
        "max_actions",
        4,
        4,
    )
    assert "max_actions of 4" in published(bus, ANSWER)[0].data["reason"]


def test_a_wait_for_input_loop_is_bounded_by_the_token_budget(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider(fixed("wait_for_input", {"prompt": "Anything else?"}, tokens=1_000))
    bus = run(soorma_bus, soorma_tables, model, token_budget=3_000)
    for n in range(6):  # an automated user who always answers
        bus.send(
            "plan.input_provided",
            {"plan_id": plan_id_of(bus), "input": f"answer {n}"},
            topic=EventTopic.NOTIFICATION_EVENTS,
            tenant_id="acme",
            user_id="ada",
        )
        bus.run_until_idle()

    state = state_of(bus)
    assert state.tokens <= 3_000 + 1_000  # at most the step that crossed the budget
    assert state.finished and "token_budget" in (state.reason or "")


def test_repairs_cannot_spend_past_the_token_budget(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider(lambda request: "I think I should research first.")
    bus = run(soorma_bus, soorma_tables, model, token_budget=2_000, max_repairs=30)

    state = state_of(bus)
    assert state.status in ("failed", "completed")
    assert "token_budget" in (state.reason or "")
    assert state.tokens <= 2 * 2_000


def test_the_token_budget_admits_a_step_that_lands_exactly_on_it(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider(fixed(RESEARCH_TOOL, {"topic": "tides"}, tokens=500))
    bus = run(soorma_bus, soorma_tables, model, max_actions=100, token_budget=1_000)

    assert len(published(bus, "research.requested")) == 2  # 500 + 500 == 1000: both fit
    [notice] = published(bus, "plan.circuit_breaker_tripped")
    assert (notice.data["limit"], notice.data["value"]) == ("token_budget", 1_000)
    billed = [b.data["total_tokens"] for b in published(bus, "llm.tokens_used")]
    assert billed == [500, 500, 500] and state_of(bus).tokens == 1_500  # the refused one counted


def test_a_budget_blown_by_one_decision_reports_what_was_spent(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider(fixed(RESEARCH_TOOL, {"topic": "tides"}, tokens=10**9))
    bus = run(soorma_bus, soorma_tables, model, token_budget=100_000)

    assert published(bus, "research.requested") == []
    state = state_of(bus)
    assert state.status == "completed" and state.tokens == 10**9
    [notice] = published(bus, "plan.circuit_breaker_tripped")
    assert notice.data["used"] >= notice.data["value"]
    assert "(0 used)" not in (state.reason or "")


def test_a_zero_max_tokens_is_refused_when_the_planner_is_built() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        planner(ScriptedProvider(NORMAL), max_tokens=0)


# ---- late, duplicated, forged and concurrent deliveries -----------------------------------------


def planner_alone(soorma_bus: Any, tables: dict[str, str], model: Any) -> Any:
    """The planner on the bus, the workers only registered: the test writes the replies."""
    agent = planner(model)
    register(tables, [agent, *workers()])
    bus = soorma_bus(agent)
    send_goal(bus)
    bus.run_until_idle()
    return bus


def reply_to(bus: Any, request: EventEnvelope, **attributes: Any) -> EventEnvelope:
    """A reply of the researcher to `request` (attributes may lie about who and whose it is)."""
    values: dict[str, Any] = {
        "source": "soorma.researcher",
        "causation_id": request.id,
        "correlation_id": request.correlation_id,
        "reply_to": PLANNER,
        "tenant_id": "acme",
        "user_id": "ada",
        "plan_id": request.plan_id,
        **attributes,
    }
    data = values.pop("data", {"findings": "the Moon"})
    sent: EventEnvelope = bus.send(
        "research.completed", data, topic=EventTopic.ACTION_RESULTS, **values
    )
    return sent


def test_a_duplicated_and_a_late_reply_are_ignored_without_a_model_call(
    soorma_bus, soorma_tables
) -> None:
    model = ScriptedProvider(NORMAL)
    bus = planner_alone(soorma_bus, soorma_tables, model)
    [request] = published(bus, "research.requested")
    reply_to(bus, request)
    reply_to(bus, request, data={"findings": "a second opinion"})  # same request, new event id
    bus.run_until_idle()

    assert len(model.requests) == 2 and len(published(bus, "draft.requested")) == 1
    assert state_of(bus).memory["research.completed"] == {"findings": "the Moon"}
    [draft] = published(bus, "draft.requested")
    bus.send(
        "draft.completed",
        {"draft_text": DRAFT_TEXT},
        topic=EventTopic.ACTION_RESULTS,
        source="soorma.drafter",
        causation_id=draft.id,
        correlation_id=draft.correlation_id,
        reply_to=PLANNER,
        tenant_id="acme",
        user_id="ada",
        plan_id=draft.plan_id,
    )
    bus.run_until_idle()
    reply_to(bus, request, data={"findings": "too late"})  # after the plan ended
    bus.run_until_idle()

    assert len(model.requests) == 3 and [a.data["result"] for a in published(bus, ANSWER)] == [
        DRAFT_TEXT
    ]
    assert set(outcomes(bus)) == {"handled"} and bus.dead_letters() == []


def test_a_reply_claiming_another_tenant_does_not_move_the_plan(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider(NORMAL)
    bus = planner_alone(soorma_bus, soorma_tables, model)
    [request] = published(bus, "research.requested")
    before = state_of(bus)
    reply_to(bus, request, tenant_id="mallory", data={"findings": "poisoned"})
    bus.run_until_idle()

    after = state_of(bus)
    assert (after.version, after.memory, len(model.requests)) == (before.version, {}, 1)
    reply_to(bus, request)  # the genuine reply still moves it: nothing was used up
    bus.run_until_idle()
    assert state_of(bus).memory == {"research.completed": {"findings": "the Moon"}}
    assert len(published(bus, "draft.requested")) == 1


def test_a_reply_forged_by_the_planner_itself_is_dead_lettered(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider(NORMAL)
    bus = planner_alone(soorma_bus, soorma_tables, model)
    [request] = published(bus, "research.requested")
    reply_to(bus, request, source=f"soorma.{PLANNER}")
    bus.run_until_idle()

    [letter] = bus.dead_letters(PLANNER)
    assert letter.kind == "permanent-error" and "ForgedReplyError" in (letter.reason or "")
    assert len(model.requests) == 1 and state_of(bus).memory == {}


def test_concurrent_duplicate_deliveries_of_one_reply_make_one_decision(
    soorma_tables, monkeypatch
) -> None:
    serialize_item_writes(monkeypatch)  # DynamoDB's conditional writes are atomic; moto's not
    both_decided = threading.Barrier(2, timeout=60)  # a deadlock guard, not a time bound

    def script(request: ModelRequest) -> Any:
        if request.turns[-1].kind == "tool_results":
            both_decided.wait()  # both deliveries loaded the same version before either commits
            return (DRAFT_TOOL, {"notes": f"notes of {threading.current_thread().name}"})
        return (RESEARCH_TOOL, {"topic": "tides"})

    agent = planner(ScriptedProvider(script))
    register(soorma_tables, [agent, *workers()])
    goal = EventEnvelope(
        source="soorma.asker",
        type=GOAL,
        topic=EventTopic.ACTION_REQUESTS,
        data={"question": "Why tides?"},
        tenant_id="acme",
        user_id="ada",
        response_event=ANSWER,
        reply_to="asker",
    )
    context = PlatformContext(agent, goal, BusClient(agent.name, agent.source, handled=goal))
    plan_id = asyncio.run(agent.start_plan(context, "research"))
    store = ChoreographyStore(MemoryTable.from_settings(), "acme")
    [request_id] = store.load(plan_id).pending  # type: ignore[union-attr]
    reply = EventEnvelope(
        source="soorma.researcher",
        type="research.completed",
        topic=EventTopic.ACTION_RESULTS,
        data={"findings": "the Moon"},
        causation_id=request_id,
        reply_to=PLANNER,
        tenant_id="acme",
        user_id="ada",
        plan_id=plan_id,
    )
    outboxes: dict[str, list[tuple[str, str, Any]]] = {}
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            bus = BusClient(agent.name, agent.source, handled=reply)
            handler = agent.find_handler(reply)
            asyncio.run(handler.function(reply, PlatformContext(agent, reply, bus)))
            name = threading.current_thread().name
            outboxes[name] = [(e.id, e.type, e.data) for e in bus.outbox]
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, name=f"container-{n}") for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    first, second = outboxes.values()
    assert first == second  # the loser replays the winner's stored effects: same ids, same data
    assert [t for _, t, _ in first].count("draft.requested") == 1
    state = store.load(plan_id)
    assert state is not None and (state.version, state.actions, len(state.pending)) == (3, 2, 1)


# ---- awkward text -------------------------------------------------------------------------------


def test_a_lone_surrogate_in_the_model_answer_is_not_a_retry_storm(
    soorma_bus, soorma_tables
) -> None:
    model = ScriptedProvider([("complete", {"result": "tides \ud800 moon"})] * 10)
    bus = run(soorma_bus, soorma_tables, model)

    assert "failed" not in outcomes(bus)  # repaired, replaced or failed for good: not retried
    assert len(model.requests) <= 3
    assert state_of(bus).finished


def test_control_characters_and_astral_text_reach_the_requester_intact(
    soorma_bus, soorma_tables
) -> None:
    text = "tides\x00\x01\x1f\x7f\u2028\ufeff moon \U0001f30a \u202eevil"
    model = ScriptedProvider([(RESEARCH_TOOL, {"topic": text}), ("complete", {"result": text})])
    bus = run(soorma_bus, soorma_tables, model)

    assert [r.data["topic"] for r in published(bus, "research.requested")] == [text]
    assert [a.data["result"] for a in published(bus, ANSWER)] == [text]
    assert state_of(bus).result == text and "failed" not in outcomes(bus)
