"""A local HTTP server on 127.0.0.1 that speaks the wire formats of OpenAI (Chat Completions and
Responses) and Anthropic (Messages), answering from a script. Tests use it to drive the real SDK
clients through tool calls, thinking, retries and malformed replies without a paid API."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Answer:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    forever: bool = False  # keep answering this (e.g. a 500 that never ends)
    raw: bool = False      # body is already the bytes to send


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: Any


class FakeAPI:
    """`router`, when given, answers first: it sees each request and returns an Answer (or None to
    take the next scripted one). A real CLI agent sends side requests (titles, quota checks) in an
    order of its own, so its generators route by what a request holds rather than by its position."""

    def __init__(self, router: Callable[[Request], Answer | None] | None = None) -> None:
        self.router = router
        self.answers: list[Answer] = []
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with api.lock:
                    api.requests.append(request)
                    routed = api.router(request) if api.router else None
                    if routed is not None:
                        answer = routed
                    elif not api.answers:
                        answer = Answer({"error": {"message": "the fake API has no scripted answer left"}}, 599)
                    elif api.answers[0].forever:
                        answer = api.answers[0]
                    else:
                        answer = api.answers.pop(0)
                data = answer.body if answer.raw else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                headers = {"content-type": "application/json", **{k.lower(): v for k, v in answer.headers.items()}}
                headers["content-length"] = str(len(data))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (model lists, update checks: nothing to offer)
                data = json.dumps({"error": {"message": f"the fake API does not serve GET {self.path}"}}).encode()
                self.send_response(404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, body: Any, status: int = 200, **kw: Any) -> "FakeAPI":
        self.answers.append(Answer(body, status, **kw))
        return self

    def __enter__(self) -> "FakeAPI":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- wire-format builders ---------------------------------------------------------------------------
def chat_reply(content: str | None = None, tool_calls: list[tuple[str, str, str]] = (), reasoning: str | None = None,
               prompt_tokens: int = 100, completion_tokens: int = 20, cached: int = 0,
               finish: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [{"id": i, "type": "function", "function": {"name": n, "arguments": a}}
                                 for i, n, a in tool_calls]
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "fake",
            "choices": [{"index": 0, "message": message,
                         "finish_reason": finish or ("tool_calls" if tool_calls else "stop")}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens,
                      "prompt_tokens_details": {"cached_tokens": cached}}}


def responses_reply(text: str | None = None, calls: list[tuple[str, str, str]] = (), summary: str | None = None,
                    input_tokens: int = 100, output_tokens: int = 40, cached: int = 0, reasoning_tokens: int = 16,
                    incomplete: str | None = None) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if summary is not None:
        output.append({"type": "reasoning", "id": "rs_1", "encrypted_content": "ENCRYPTED-REASONING",
                       "summary": [{"type": "summary_text", "text": summary}]})
    if text is not None:
        output.append({"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                       "content": [{"type": "output_text", "text": text, "annotations": []}]})
    for call_id, name, args in calls:
        output.append({"type": "function_call", "id": f"fc_{call_id}", "call_id": call_id, "name": name,
                       "arguments": args, "status": "completed"})
    return {"id": "resp_1", "object": "response", "created_at": 1700000000, "model": "fake",
            "status": "incomplete" if incomplete else "completed",
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "output": output, "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                      "total_tokens": input_tokens + output_tokens,
                      "input_tokens_details": {"cached_tokens": cached},
                      "output_tokens_details": {"reasoning_tokens": reasoning_tokens}}}


def anthropic_reply(text: str | None = None, tool_uses: list[tuple[str, str, Any]] = (),
                    thinking: str | None = None, input_tokens: int = 50, output_tokens: int = 30,
                    cache_read: int = 0, cache_write: int = 0, stop: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if thinking is not None:
        content.append({"type": "thinking", "thinking": thinking, "signature": "SIG-abc123"})
    if text is not None:
        content.append({"type": "text", "text": text})
    for tid, name, inp in tool_uses:
        content.append({"type": "tool_use", "id": tid, "name": name, "input": inp})
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "fake", "content": content,
            "stop_reason": stop or ("tool_use" if tool_uses else "end_turn"), "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                      "cache_read_input_tokens": cache_read, "cache_creation_input_tokens": cache_write}}


def _sse(events: list[tuple[str, dict[str, Any]]]) -> Answer:
    data = "".join(f"event: {name}\ndata: {json.dumps(payload)}\n\n" for name, payload in events)
    return Answer(data.encode(), raw=True, headers={"content-type": "text/event-stream"})


def responses_sse(reply: dict[str, Any]) -> Answer:
    """A `responses_reply` as the streamed Responses API sends it (what `stream: true` clients read)."""
    shell = {k: v for k, v in reply.items() if k != "output"} | {"output": [], "status": "in_progress"}
    events: list[tuple[str, dict[str, Any]]] = [("response.created", {"type": "response.created", "response": shell})]
    for i, item in enumerate(reply["output"]):
        events.append(("response.output_item.added", {"type": "response.output_item.added", "output_index": i,
                                                      "item": item}))
        if item["type"] == "message":
            for part in item["content"]:
                events.append(("response.output_text.delta", {"type": "response.output_text.delta",
                                                              "item_id": item["id"], "output_index": i,
                                                              "content_index": 0, "delta": part["text"]}))
        events.append(("response.output_item.done", {"type": "response.output_item.done", "output_index": i,
                                                     "item": item}))
    events.append(("response.completed", {"type": "response.completed", "response": reply}))
    return _sse(events)


def anthropic_sse(reply: dict[str, Any]) -> Answer:
    """An `anthropic_reply` as the streamed Messages API sends it."""
    start = {k: v for k, v in reply.items() if k != "content"} | {"content": [], "stop_reason": None}
    start["usage"] = dict(reply["usage"], output_tokens=1)
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    for i, block in enumerate(reply["content"]):
        kind = block["type"]
        empty = {"text": {"type": "text", "text": ""}, "thinking": {"type": "thinking", "thinking": "", "signature": ""},
                 "tool_use": {"type": "tool_use", "id": block.get("id"), "name": block.get("name"), "input": {}}}[kind]
        events.append(("content_block_start", {"type": "content_block_start", "index": i, "content_block": empty}))
        if kind == "text":
            delta = {"type": "text_delta", "text": block["text"]}
        elif kind == "thinking":
            events.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                   "delta": {"type": "thinking_delta", "thinking": block["thinking"]}}))
            delta = {"type": "signature_delta", "signature": block["signature"]}
        else:
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events.append(("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    events.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": reply["stop_reason"], "stop_sequence": None},
                                     "usage": {"output_tokens": reply["usage"]["output_tokens"]}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return _sse(events)


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "server_error" if status >= 500 else "invalid_request_error",
                      "code": None}, "type": "error"}
