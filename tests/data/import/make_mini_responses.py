"""Writes tests/data/import/mini-v2-responses.traj.json: mini-swe-agent 2.4.6's own trajectory in its
Responses-API layout (observations are `function_call_output` items with no role).

mini's LitellmResponseModel talks to a local server on 127.0.0.1 that speaks the OpenAI Responses
wire format: two tool calls (`ls`, then mini's submit command), so the run ends `Submitted`.
Generated with: pip install mini-swe-agent==2.4.6 (a throwaway venv);
TESTBED_TESTS=tests python make_mini_responses.py /tmp/minigen/mini-v2-responses.traj.json, then
copied here."""
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.environ.get("TESTBED_TESTS", "tests"))
os.environ["MSWEA_COST_TRACKING"] = "ignore_errors"
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # litellm must not fetch its price list from the internet
from fake_api import FakeAPI, responses_reply  # noqa: E402

from minisweagent.agents.default import DefaultAgent  # noqa: E402
from minisweagent.environments.local import LocalEnvironment  # noqa: E402
from minisweagent.models.litellm_response_model import LitellmResponseModel  # noqa: E402

out = Path(sys.argv[1])
with FakeAPI() as api:
    api.add(responses_reply("Let me look at the files first.", calls=[("call_1", "bash", json.dumps({"command": "ls"}))]))
    api.add(responses_reply("Done; submitting.", calls=[
        ("call_2", "bash", json.dumps({"command": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"}))]))
    model = LitellmResponseModel(model_name="openai/fake-model", cost_tracking="ignore_errors",
                                 model_kwargs={"api_base": api.url + "/v1", "api_key": "not-a-key"})
    agent = DefaultAgent(model, LocalEnvironment(cwd=str(out.parent)),
                         system_template="You are a helpful assistant that runs bash commands.",
                         instance_template="Fix the bug: {{task}}", step_limit=10, output_path=out)
    print(agent.run("the parser drops the last item"))
