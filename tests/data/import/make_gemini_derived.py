"""Writes gemini-cli/derived/: the real session gemini-cli/session-2025-12-13T19-01-049d9bb6.json in
the two other layouts Gemini CLI writes, assembled by the rules of its own code, since no file
written by Gemini CLI itself in these layouts was at hand (Gemini CLI needs Node.js and npm, neither
reachable here). Everything in them comes from the real session; only the layout is rebuilt.

- session-2025-12-13T19-01-049d9bb6.jsonl: as `ChatRecordingService` (packages/core/src/services/
  chatRecordingService.ts, gemini-cli 5411f113) appends it: the header record, each message as it is
  recorded, a gemini message again when its tool calls and then its token counts arrive (same id:
  the later record wins), `{"$set": {"lastUpdated"}}`; plus one message the person rewound
  (`{"$rewindTo": id}`), which a reader must drop.
- checkpoint-derived.json: as `/chat save derived` writes it (`Logger.saveCheckpoint`,
  packages/core/src/core/logger.ts: `JSON.stringify({history, authType}, null, 2)`), the history being
  the Gemini API `Content` list: user text, model parts (thought parts, text, functionCall with the
  call's id) and the user turn of functionResponse parts that answers them.

Run: python tests/data/import/make_gemini_derived.py
"""
import copy
import json
from pathlib import Path

HERE = Path(__file__).parent / "gemini-cli"
SOURCE = HERE / "session-2025-12-13T19-01-049d9bb6.json"


def jsonl(session: dict) -> list[dict]:
    records = [{k: session[k] for k in ("sessionId", "projectHash", "startTime")} |
               {"lastUpdated": session["startTime"], "kind": "main"}]
    for m in session["messages"]:
        if m["type"] != "gemini":
            records.append(m)
            continue
        first = {k: v for k, v in m.items() if k not in ("toolCalls", "tokens")}
        records.append(first)
        if m.get("toolCalls"):
            records.append({k: v for k, v in m.items() if k != "tokens"})
        records.append(m)
    rewound = {"id": "rewound-by-the-person", "timestamp": session["lastUpdated"], "type": "user",
               "content": [{"text": "never mind, ignore this"}]}
    records += [rewound, {"$rewindTo": rewound["id"]}, {"$set": {"lastUpdated": session["lastUpdated"]}}]
    return records


def checkpoint(session: dict) -> dict:
    history: list[dict] = []
    for m in session["messages"]:
        if m["type"] == "user":
            history.append({"role": "user", "parts": [{"text": m["content"] if isinstance(m["content"], str)
                                                       else "".join(p.get("text", "") for p in m["content"])}]})
        elif m["type"] == "gemini":
            parts = [{"text": f"**{t['subject']}** {t['description']}", "thought": True} for t in m.get("thoughts") or []]
            if m.get("content"):
                parts.append({"text": m["content"]})
            calls = m.get("toolCalls") or []
            parts += [{"functionCall": {"id": c["id"], "name": c["name"], "args": c["args"]}} for c in calls]
            history.append({"role": "model", "parts": parts})
            responses = [copy.deepcopy(p) for c in calls for p in (c.get("result") or [])]
            if responses:
                history.append({"role": "user", "parts": responses})
    return {"history": history, "authType": "oauth-personal"}


if __name__ == "__main__":
    session = json.loads(SOURCE.read_text())
    out = HERE / "derived"
    out.mkdir(exist_ok=True)
    (out / (SOURCE.stem + ".jsonl")).write_text("".join(json.dumps(r) + "\n" for r in jsonl(session)))
    (out / "checkpoint-derived.json").write_text(json.dumps(checkpoint(session), indent=2))
    print("wrote", out)
