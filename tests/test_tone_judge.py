"""The LLM judge tier against a local HTTP server speaking the OpenAI chat-completions wire format."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import run_cli
from testbed.scoring.tone.judge import Judge, JudgeSpecError, parse_reply, parse_spec

# What the fake model answers, chosen by a marker in the narration it is shown.
REPLIES = {
    "GOOD": '{"level": 3, "flags": ["give_up"], "evidence": ["I give up"]}',
    "FENCED": 'Sure.\n```json\n{"level": 2, "flags": [], "evidence": ["ridiculous"]}\n```',
    "PROSE": "The narration sounds fairly frustrated to me.",
    "RANGE": '{"level": 7, "flags": []}',
    "INVENTED": '{"level": 1, "flags": ["sadness"], "evidence": ["words never written"]}',
}


class ChatHandler(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ChatHandler.seen.append((self.path, body))
        text = body["messages"][-1]["content"]
        if "CRASH" in text:
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "boom"}}')
            return
        marker = next((k for k in REPLIES if k in text), "GOOD")
        payload = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                   "choices": [{"index": 0, "finish_reason": "stop",
                                "message": {"role": "assistant", "content": REPLIES[marker]}}],
                   "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), ChatHandler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def test_spec_parsing():
    s = parse_spec("openai-compatible:http://127.0.0.1:8080/v1:qwen")
    assert (s.base_url, s.model) == ("http://127.0.0.1:8080/v1", "qwen")
    assert parse_spec("openai:gpt-4o-mini").base_url.startswith("https://api.openai.com")
    assert parse_spec("anthropic:claude-x").api_key_env == "ANTHROPIC_API_KEY"
    for bad in ("", "openai", "gemini:x", "openai-compatible:nohost:model", "openai-compatible:http://h:1/v1:"):
        with pytest.raises(JudgeSpecError):
            parse_spec(bad)


def test_judge_over_http_good_and_bad_replies(server):
    judge = Judge(f"openai-compatible:{server}:tiny-judge")
    texts = ["GOOD. I give up.", "FENCED this is ridiculous", "PROSE whatever", "RANGE x", "CRASH now",
             "INVENTED hmm", ""]
    out = judge.judge_many(texts)
    assert out[0]["level"] == 3 and out[0]["flags"] == ["give_up"] and out[0]["evidence"] == ["I give up"]
    assert out[1]["level"] == 2 and out[1]["evidence"] == ["ridiculous"]
    assert "no JSON object" in out[2]["error"]
    assert "level must be an integer 0-3" in out[3]["error"]
    assert out[4]["error"].startswith("judge request failed")
    assert out[5]["level"] == 1 and out[5]["flags"] == [] and out[5]["evidence"] == []
    assert "sadness" in out[5]["note"] and "not found in the text" in out[5]["note"]
    assert out[6]["level"] == 0  # nothing to judge, no request
    path, body = ChatHandler.seen[0]
    assert path == "/v1/chat/completions" and body["model"] == "tiny-judge" and body["temperature"] == 0
    assert "Levels:" in body["messages"][0]["content"]


def test_parse_reply_is_defensive():
    assert parse_reply('{"level": "2", "flags": [], "evidence": "THIS"}', "why THIS again")["evidence"] == ["THIS"]
    assert parse_reply('{"level": 2.0}', "x")["level"] == 2
    for bad in ("[1, 2]", '{"level": true}', '{"level": 1, "flags": "give_up"}', "{broken"):
        with pytest.raises(ValueError):
            parse_reply(bad, "x")


def test_judge_tier_in_the_classifier_and_the_ensemble(server):
    from testbed.scoring.tone.classifier import ToneClassifier
    clf = ToneClassifier(("lexicon",), judge=Judge(f"openai-compatible:{server}:m"), log=None)
    judged = clf.classify(["GOOD. I give up.", "PROSE hello"], tier="judge")
    assert judged[0]["level"] == 3 and "error" in judged[1]
    ens = clf.classify(["GOOD. I give up.", "PROSE hello"])
    assert ens[0]["tiers"]["judge"]["level"] == 3 and ens[0]["level"] == 3
    assert "error" in ens[1]["tiers"]["judge"] and ens[1]["level"] == 0  # the failure costs only the judge
    assert clf.describe()["judge"]["spec"].startswith("openai-compatible:m@")


def test_cli_judge_tier(server, tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text('{"text": "GOOD. I give up."}\n{"text": "RANGE oops"}\n')
    res = run_cli("classify", "tone", "--jsonl", str(f), "--tier", "judge", "--tiers", "lexicon",
                  "--judge", f"openai-compatible:{server}:m")
    assert res.returncode == 0, res.stderr
    lines = [json.loads(l) for l in res.stdout.splitlines()]
    assert lines[0]["tone"]["level"] == 3 and lines[0]["tone"]["tier"] == "judge"
    assert "level must be" in lines[1]["tone"]["error"]
    res = run_cli("classify", "tone", "--jsonl", str(f), "--tier", "judge", "--tiers", "lexicon")
    assert res.returncode == 2 and "--judge" in res.stderr
    res = run_cli("classify", "tone", "--jsonl", str(f), "--judge", "gemini:x", "--tiers", "lexicon")
    assert res.returncode == 2 and "unknown provider" in res.stderr
