"""The OpenAI, Anthropic and OpenAI-compatible clients against a local HTTP server that speaks their
wire formats: tool calls, thinking, usage and cost, retries (429 then success, 500 forever),
malformed tool arguments, and API keys kept out of everything recorded."""
import json

import pytest

from fake_api import FakeAPI, anthropic_reply, chat_reply, error_body, responses_reply
from testbed.models import load_model
from testbed.models.base import ModelContext, ModelError, ModelSpecError
from testbed.agent.tools import tool_specs

TOOLS = tool_specs(True)
FAST = "retries=3,retry_base=0.01,retry_cap=0.05"
KEY = "sk-test-FAKE-KEY-0123456789abcdef"


def _ctx(seed=5):
    return ModelContext(run_id="r1", seed=seed, scenario="s", protected=["tests"], files=[], give_up_tool=True)


def _msgs():
    return [{"role": "system", "content": "SYSTEM PROMPT"},
            {"role": "user", "content": "fix it", "meta": {"tests": {"failed": 3}}}]


def _model(spec, monkeypatch, api=None, env=None):
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "OPENAI_COMPATIBLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    m = load_model(spec)
    m.start(_ctx())
    return m


# -- OpenAI Responses API --------------------------------------------------------------------------
def test_openai_responses_tool_call_reasoning_summary_usage_and_cost(monkeypatch):
    with FakeAPI() as api:
        api.add(responses_reply("Let me look at the code.", [("call_a", "bash", '{"command": "ls -la"}')],
                                summary="The tests fail on a boundary; I should read the source.",
                                input_tokens=1000, output_tokens=200, cached=400))
        api.add(responses_reply("Done reading.", [("call_b", "run_tests", "{}")]))
        m = _model(f"openai:gpt-5-mini@{FAST}", monkeypatch,
                   env={"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": api.url + "/v1"})
        turn = m.turn(_msgs(), TOOLS)
        assert turn.text == "Let me look at the code."
        assert turn.thinking == "The tests fail on a boundary; I should read the source."
        assert [(c.id, c.name, c.arguments) for c in turn.tool_calls] == [("call_a", "bash", {"command": "ls -la"})]
        assert turn.parse_note is None
        u = turn.usage
        assert (u.input_tokens, u.output_tokens, u.cached_input_tokens, u.reasoning_tokens) == (1000, 200, 400, 16)
        # gpt-5-mini: $0.25 in, $0.025 cached in, $2.00 out per million tokens
        assert u.cost_usd == pytest.approx((600 * 0.25 + 400 * 0.025 + 200 * 2.0) / 1e6)
        assert u.attempts == 1 and u.latency_ms > 0

        req = api.requests[0]
        assert req.path == "/v1/responses" and req.headers["authorization"] == f"Bearer {KEY}"
        body = req.body
        assert body["model"] == "gpt-5-mini" and body["store"] is False and "seed" not in body
        assert body["instructions"] == "SYSTEM PROMPT"
        assert body["input"] == [{"role": "user", "content": "fix it"}]  # meta never sent
        assert body["reasoning"] == {"effort": "medium", "summary": "auto"}
        assert body["include"] == ["reasoning.encrypted_content"]
        assert [t["name"] for t in body["tools"]] == ["bash", "run_tests", "give_up"]
        assert body["tools"][0]["parameters"]["required"] == ["command"]

        # the loop appends the reply and the tool result; the next request replays the reply's items
        history = _msgs() + [{"role": "assistant", "content": turn.text,
                              "tool_calls": [c.model_dump() for c in turn.tool_calls]},
                             {"role": "tool", "tool_call_id": "call_a", "name": "bash", "content": "a.py\nb.py"}]
        turn2 = m.turn(history, TOOLS)
        assert turn2.tool_calls[0].name == "run_tests" and turn2.thinking is None
        items = api.requests[1].body["input"]
        assert items[1]["type"] == "reasoning" and items[1]["encrypted_content"] == "ENCRYPTED-REASONING"
        assert items[2]["type"] == "message" and items[3]["type"] == "function_call"
        assert items[3]["call_id"] == "call_a"
        assert items[4] == {"type": "function_call_output", "call_id": "call_a", "output": "a.py\nb.py"}
        d = m.describe()
        assert d["model"] == "gpt-5-mini" and d["max_output_tokens"] == 16000 and d["seed"] is None
        assert KEY not in json.dumps(d)


def test_openai_429_then_success_honours_retry_after(monkeypatch, capsys):
    with FakeAPI() as api:
        api.add(error_body(429, "rate limited"), 429, headers={"retry-after-ms": "20"})
        api.add(error_body(503, "overloaded"), 503)
        api.add(responses_reply("ok", [("c1", "bash", '{"command": "pwd"}')]))
        m = _model(f"openai:gpt-4.1-mini@{FAST}", monkeypatch,
                   env={"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": api.url + "/v1"})
        turn = m.turn(_msgs(), TOOLS)
        assert turn.tool_calls[0].arguments == {"command": "pwd"}
        assert turn.usage.attempts == 3 and len(api.requests) == 3
        assert "reasoning" not in api.requests[0].body  # not a reasoning model
        err = capsys.readouterr().err
        assert "HTTP 429; retry 1/2" in err and "HTTP 503; retry 2/2" in err


def test_openai_500_forever_gives_a_clear_error_after_the_last_try(monkeypatch):
    with FakeAPI() as api:
        api.add(error_body(500, "internal error"), 500, forever=True)
        m = _model(f"openai:gpt-4.1-mini@{FAST}", monkeypatch,
                   env={"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": api.url + "/v1"})
        with pytest.raises(ModelError) as exc:
            m.turn(_msgs(), TOOLS)
        assert len(api.requests) == 3
        assert "HTTP 500, gave up after 3 tries" in str(exc.value)


def test_openai_auth_error_is_not_retried_and_the_key_is_redacted(monkeypatch):
    with FakeAPI() as api:
        # OpenAI echoes (part of) a wrong key in its error message; this one echoes all of it
        api.add(error_body(401, f"Incorrect API key provided: {KEY}."), 401, forever=True)
        m = _model(f"openai:gpt-4.1-mini@{FAST}", monkeypatch,
                   env={"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": api.url + "/v1"})
        with pytest.raises(ModelError) as exc:
            m.turn(_msgs(), TOOLS)
        assert len(api.requests) == 1
        assert "HTTP 401" in str(exc.value) and KEY not in str(exc.value) and "[redacted]" in str(exc.value)


def test_openai_malformed_tool_arguments(monkeypatch):
    with FakeAPI() as api:
        api.add(responses_reply("trying", [("c1", "bash", '{"command": "ls -la}')]))       # repairable
        api.add(responses_reply("again", [("c2", "bash", '{"command": ls -la, }')]))        # not
        api.add(responses_reply("run", [("c3", "run_tests", "[1, 2")]))
        m = _model(f"openai:gpt-4.1-mini@{FAST}", monkeypatch,
                   env={"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": api.url + "/v1"})
        t1 = m.turn(_msgs(), TOOLS)
        assert t1.tool_calls[0].arguments == {"command": "ls -la"} and t1.parse_note is None
        t2 = m.turn(_msgs(), TOOLS)
        call = t2.tool_calls[0]
        assert call.arguments == {} and call.raw_arguments == '{"command": ls -la, }'
        assert "not valid JSON" in call.arguments_error
        assert t2.parse_note.startswith("tool call 1 (bash): arguments are not valid JSON")
        t3 = m.turn(_msgs(), TOOLS)  # run_tests needs no arguments: still usable
        assert t3.tool_calls[0].name == "run_tests" and t3.parse_note is None


def test_openai_incomplete_reply_is_noted(monkeypatch):
    with FakeAPI() as api:
        api.add(responses_reply("I will now", incomplete="max_output_tokens"))
        m = _model(f"openai:gpt-4.1-mini@{FAST},max_tokens=50", monkeypatch,
                   env={"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": api.url + "/v1"})
        turn = m.turn(_msgs(), TOOLS)
        assert not turn.tool_calls and "cut off at the token limit (50)" in turn.parse_note
        assert "text parsing off" in turn.parse_note
        assert api.requests[0].body["max_output_tokens"] == 50


def test_openai_chat_api_option_and_unknown_model_cost(monkeypatch):
    with FakeAPI() as api:
        api.add(chat_reply("checking", [("c1", "bash", '{"command": "git status"}')]))
        m = _model(f"openai:my-finetune@api=chat,temperature=0.3,{FAST}", monkeypatch,
                   env={"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": api.url + "/v1"})
        turn = m.turn(_msgs(), TOOLS)
        assert turn.tool_calls[0].arguments == {"command": "git status"}
        assert turn.usage.cost_usd is None and turn.usage.input_tokens == 100  # unknown price: unknown cost
        body = api.requests[0].body
        assert api.requests[0].path == "/v1/chat/completions"
        assert body["max_completion_tokens"] == 4096 and body["temperature"] == 0.3 and body["seed"] == 5
        assert body["messages"][0] == {"role": "system", "content": "SYSTEM PROMPT"}
        assert m.describe()["price_usd_per_mtok"] is None


def test_openai_spec_errors(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelSpecError, match="set OPENAI_API_KEY"):
        load_model("openai:gpt-4.1")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with pytest.raises(ModelSpecError, match="takes no seed"):
        load_model("openai:gpt-4.1@seed=3")
    with pytest.raises(ModelSpecError, match="unknown model option 'colour'"):
        load_model("openai:gpt-4.1@colour=red")


# -- OpenAI-compatible (Chat Completions) ----------------------------------------------------------
def test_compatible_tool_calls_reasoning_and_text_fallback(monkeypatch):
    with FakeAPI() as api:
        api.add(chat_reply("Looking.", [("c1", "bash", '{"command": "cat a.py"}')],
                           reasoning="the bug is in a.py", cached=60))
        api.add(chat_reply("<think>maybe run the tests</think>I'll run them.\n```bash\npytest -q\n```"))
        api.add(chat_reply("I am not sure what to do."))
        m = _model(f"openai-compatible:{api.url}/v1:qwen2.5-coder:1.5b@{FAST}", monkeypatch)
        t1 = m.turn(_msgs(), TOOLS)
        assert t1.thinking == "the bug is in a.py" and t1.tool_calls[0].arguments == {"command": "cat a.py"}
        assert t1.usage.cached_input_tokens == 60 and t1.usage.cost_usd is None
        assert api.requests[0].headers["authorization"] == "Bearer not-needed"
        assert api.requests[0].body["model"] == "qwen2.5-coder:1.5b" and api.requests[0].body["seed"] == 5

        history = _msgs() + [{"role": "assistant", "content": t1.text,
                              "tool_calls": [c.model_dump() for c in t1.tool_calls]},
                             {"role": "tool", "tool_call_id": "c1", "name": "bash", "content": "x = 1"},
                             {"role": "user", "content": "Budget: 1 of 30 steps used."}]
        t2 = m.turn(history, TOOLS)
        assert t2.thinking == "maybe run the tests" and t2.text.startswith("I'll run them.")
        (call,) = t2.tool_calls
        assert call.arguments == {"command": "pytest -q"} and call.origin["kind"] == "fenced"
        assert t2.parse_note is None
        sent = api.requests[1].body["messages"]
        assert sent[2]["tool_calls"][0]["function"] == {"name": "bash", "arguments": '{"command": "cat a.py"}'}
        assert sent[3] == {"role": "tool", "tool_call_id": "c1", "content": "x = 1"}
        assert sent[4] == {"role": "user", "content": "Budget: 1 of 30 steps used."}

        # a call parsed from text goes back as the text the model wrote, its result as a user message
        history += [{"role": "assistant", "content": t2.text, "tool_calls": [c.model_dump() for c in t2.tool_calls]},
                    {"role": "tool", "tool_call_id": call.id, "name": "bash", "content": "3 failed"},
                    {"role": "user", "content": "The tests still fail."}]
        t3 = m.turn(history, TOOLS)
        assert not t3.tool_calls and t3.parse_note.startswith("no tool call, and no JSON call")
        sent = api.requests[2].body["messages"]
        assert sent[5] == {"role": "assistant", "content": t2.text}
        assert sent[6] == {"role": "user", "content": "[bash output]\n3 failed\n\nThe tests still fail."}


def test_compatible_spec_parsing(monkeypatch):
    m = load_model("openai-compatible:http://127.0.0.1:11434/v1:qwen2.5-coder:1.5b@price_in=1,price_out=2")
    assert (m.base_url, m.model) == ("http://127.0.0.1:11434/v1", "qwen2.5-coder:1.5b")
    assert m.price.cost(1_000_000, 1_000_000) == pytest.approx(3.0)
    m = load_model("openai-compatible:http://localhost:8000:served-model")
    assert (m.base_url, m.model) == ("http://localhost:8000", "served-model")
    for bad in ("openai-compatible:http://localhost:8000", "openai-compatible:qwen", "openai-compatible:"):
        with pytest.raises(ModelSpecError, match="BASE_URL:MODEL"):
            load_model(bad)


def test_compatible_500_forever_and_connection_refused(monkeypatch):
    with FakeAPI() as api:
        api.add(error_body(502, "bad gateway"), 502, forever=True)
        m = _model(f"openai-compatible:{api.url}/v1:m@{FAST}", monkeypatch)
        with pytest.raises(ModelError, match="HTTP 502, gave up after 3 tries"):
            m.turn(_msgs(), TOOLS)
        port = api.server.server_address[1]
    m = _model(f"openai-compatible:http://127.0.0.1:{port}/v1:m@{FAST}", monkeypatch)
    with pytest.raises(ModelError, match="connection error, gave up after 3 tries"):
        m.turn(_msgs(), TOOLS)


def test_compatible_garbled_body_is_a_clear_error(monkeypatch):
    with FakeAPI() as api:
        api.add(b'{"choices": [', raw=True)
        m = _model(f"openai-compatible:{api.url}/v1:m@{FAST}", monkeypatch)
        with pytest.raises(ModelError, match=r"openai-compatible:.*m@"):
            m.turn(_msgs(), TOOLS)


# -- Anthropic --------------------------------------------------------------------------------------
def test_anthropic_tool_use_thinking_cache_and_cost(monkeypatch):
    with FakeAPI() as api:
        api.add(anthropic_reply("Let me check.", [("toolu_1", "bash", {"command": "ls"})],
                                thinking="Hmm, the boundary again. This is frustrating.",
                                input_tokens=100, output_tokens=300, cache_read=2000, cache_write=500))
        api.add(anthropic_reply("Tests now.", [("toolu_2", "run_tests", {})]))
        m = _model(f"anthropic:claude-haiku-4-5@{FAST}", monkeypatch,
                   env={"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url})
        turn = m.turn(_msgs(), TOOLS)
        assert turn.text == "Let me check." and turn.thinking.endswith("This is frustrating.")
        assert turn.tool_calls[0].model_dump() == {"id": "toolu_1", "name": "bash", "arguments": {"command": "ls"}}
        u = turn.usage
        assert (u.input_tokens, u.cached_input_tokens, u.cache_write_tokens, u.output_tokens) == (2600, 2000, 500, 300)
        # claude-haiku-4-5: $1 in, $0.10 cache read, $1.25 cache write, $5 out per million
        assert u.cost_usd == pytest.approx((100 * 1 + 2000 * 0.1 + 500 * 1.25 + 300 * 5) / 1e6)
        req = api.requests[0]
        assert req.path == "/v1/messages"
        assert KEY in (req.headers.get("x-api-key"), req.headers.get("authorization", "").removeprefix("Bearer "))
        body = req.body
        assert body["system"] == "SYSTEM PROMPT" and body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
        assert body["max_tokens"] == 16000 and "temperature" not in body
        assert body["tools"][0] == {"name": "bash", "description": TOOLS[0]["description"],
                                    "input_schema": TOOLS[0]["parameters"]}
        assert body["messages"] == [{"role": "user", "content": [
            {"type": "text", "text": "fix it", "cache_control": {"type": "ephemeral"}}]}]

        history = _msgs() + [{"role": "assistant", "content": turn.text,
                              "tool_calls": [c.model_dump() for c in turn.tool_calls]},
                             {"role": "tool", "tool_call_id": "toolu_1", "name": "bash", "content": "a.py"},
                             {"role": "user", "content": "Budget: 1 of 30 steps used."}]
        m.turn(history, TOOLS)
        msgs = api.requests[1].body["messages"]
        assistant = msgs[1]["content"]
        assert assistant[0] == {"type": "thinking", "thinking": turn.thinking, "signature": "SIG-abc123"}
        assert assistant[2]["type"] == "tool_use" and assistant[2]["id"] == "toolu_1"
        assert msgs[2]["role"] == "user" and msgs[2]["content"][0] == {
            "type": "tool_result", "tool_use_id": "toolu_1", "content": "a.py"}
        assert msgs[2]["content"][1] == {"type": "text", "text": "Budget: 1 of 30 steps used.",
                                         "cache_control": {"type": "ephemeral"}}
        assert "cache_control" not in msgs[0]["content"][0]  # one moving breakpoint


def test_anthropic_overloaded_then_success_and_500_forever(monkeypatch):
    with FakeAPI() as api:
        api.add(error_body(529, "Overloaded"), 529)
        api.add(anthropic_reply("fine", [("t1", "bash", {"command": "pwd"})]))
        api.add(error_body(500, "internal"), 500, forever=True)
        m = _model(f"anthropic:claude-3-5-haiku@{FAST}", monkeypatch,
                   env={"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url})
        turn = m.turn(_msgs(), TOOLS)
        assert turn.usage.attempts == 2 and turn.tool_calls[0].arguments == {"command": "pwd"}
        assert "thinking" not in api.requests[0].body  # claude-3-5-haiku has no extended thinking
        with pytest.raises(ModelError, match="HTTP 500, gave up after 3 tries"):
            m.turn(_msgs(), TOOLS)


def test_anthropic_malformed_tool_input(monkeypatch):
    with FakeAPI() as api:
        api.add(anthropic_reply("try", [("t1", "bash", '{"command": "ls", ')]))
        m = _model(f"anthropic:claude-haiku-4-5@thinking=0,{FAST}", monkeypatch,
                   env={"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url})
        turn = m.turn(_msgs(), TOOLS)
        call = turn.tool_calls[0]
        assert call.arguments == {} and "not valid JSON" in call.arguments_error
        assert "tool call 1 (bash)" in turn.parse_note


def test_anthropic_spec_checks(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    with pytest.raises(ModelSpecError, match="temperature 1"):
        load_model("anthropic:claude-haiku-4-5@temperature=0.2")
    assert load_model("anthropic:claude-haiku-4-5@thinking=0,temperature=0.2").describe()["thinking"] is None
    assert load_model("anthropic:claude-sonnet-4-6").describe()["thinking"] is None  # the model's default
    assert load_model("anthropic:claude-opus-4-6@thinking=adaptive").describe()["thinking"] == {"type": "adaptive"}
    assert load_model("anthropic:claude-sonnet-4-20250514").describe()["thinking"]["budget_tokens"] == 4096
    with pytest.raises(ModelSpecError, match="at least 1024"):
        load_model("anthropic:claude-haiku-4-5@thinking=500")
    with pytest.raises(ModelSpecError, match="takes no seed"):
        load_model("anthropic:claude-haiku-4-5@seed=1")


# -- Gemini -----------------------------------------------------------------------------------------
def test_gemini_uses_the_openai_compatible_endpoint_and_keeps_thoughts(monkeypatch):
    with FakeAPI() as api:
        api.add(chat_reply("<thought>the interval end is exclusive</thought>Reading the code.",
                           [("c1", "bash", '{"command": "cat intervals/daterange.py"}')],
                           prompt_tokens=1000, completion_tokens=100))
        m = _model(f"gemini:gemini-2.5-flash@{FAST}", monkeypatch,
                   env={"GEMINI_API_KEY": KEY, "GEMINI_BASE_URL": api.url + "/v1beta/openai/"})
        turn = m.turn(_msgs(), TOOLS)
        assert turn.thinking == "the interval end is exclusive" and turn.text == "Reading the code."
        assert turn.usage.cost_usd == pytest.approx((1000 * 0.30 + 100 * 2.50) / 1e6)
        req = api.requests[0]
        assert req.path == "/v1beta/openai/chat/completions" and req.headers["authorization"] == f"Bearer {KEY}"
        assert req.body["extra_body"] == {"google": {"thinking_config": {"include_thoughts": True}}}
        assert "seed" not in req.body


def test_a_malformed_call_next_to_a_good_one_is_kept_for_its_error_result(monkeypatch):
    with FakeAPI() as api:
        api.add(responses_reply("two calls", [("c1", "bash", '{"command": }'), ("c2", "run_tests", "{}")]))
        api.add(responses_reply("ok"))
        m = _model(f"openai:gpt-4.1-mini@{FAST}", monkeypatch,
                   env={"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": api.url + "/v1"})
        turn = m.turn(_msgs(), TOOLS)
        assert [c.name for c in turn.tool_calls] == ["bash", "run_tests"] and turn.parse_note is None
        assert turn.tool_calls[0].arguments_error
        history = _msgs() + [{"role": "assistant", "content": turn.text,
                              "tool_calls": [c.model_dump() for c in turn.tool_calls]},
                             {"role": "tool", "tool_call_id": "c1", "name": "bash", "content": "error: ..."},
                             {"role": "tool", "tool_call_id": "c2", "name": "run_tests", "content": "3 failed"}]
        m.turn(history, TOOLS)
        items = api.requests[1].body["input"]
        calls = {i["call_id"] for i in items if i.get("type") == "function_call"}
        outputs = {i["call_id"] for i in items if i.get("type") == "function_call_output"}
        assert calls == outputs == {"c1", "c2"}


def test_a_context_overflow_cuts_harder_and_asks_again(monkeypatch):
    history = _msgs()
    for i in range(8):
        history += [{"role": "assistant", "content": f"step {i}", "tool_calls": [
                        {"id": f"c{i}", "name": "bash", "arguments": {"command": "cat a.py"}}]},
                    {"role": "tool", "tool_call_id": f"c{i}", "name": "bash", "content": "x = 1\n" * 150}]
    with FakeAPI() as api:
        api.add(error_body(400, "This model's maximum context length is 3000 tokens. However, you requested "
                                "3400 tokens."), 400)
        api.add(chat_reply("ok", [("c9", "bash", '{"command": "ls"}')]))
        m = _model(f"openai-compatible:{api.url}/v1:m@context=3000,max_tokens=100,{FAST}", monkeypatch)
        turn = m.turn(history, TOOLS)
        first, second = (len(r.body["messages"]) for r in api.requests)
        assert second < first and turn.usage.messages_left_out == first - second
        assert turn.tool_calls[0].arguments == {"command": "ls"}
    with FakeAPI() as api:  # a 400 about something else is not retried
        api.add(error_body(400, "unknown parameter: seed"), 400, forever=True)
        m = _model(f"openai-compatible:{api.url}/v1:m@{FAST}", monkeypatch)
        with pytest.raises(ModelError, match="HTTP 400"):
            m.turn(history, TOOLS)
        assert len(api.requests) == 1
