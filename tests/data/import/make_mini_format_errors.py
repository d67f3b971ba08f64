"""Writes tests/data/import/mini-v2-format-errors.traj.json: mini-swe-agent 2.4.6's own trajectory of
a run that ends in RepeatedFormatError.

mini's LitellmModel (tool calling) talks to a local server on 127.0.0.1 that speaks the Chat
Completions wire format and answers every request with text and no tool call, so each reply is a
FormatError and the third ends the run. Generated with: pip install mini-swe-agent==2.4.6 (a throwaway
venv); TESTBED_TESTS=tests python make_mini_format_errors.py /tmp/minigen/mini-v2-format-errors.traj.json,
then copied here."""
import os
import sys
from pathlib import Path

sys.path.insert(0, os.environ.get("TESTBED_TESTS", "tests"))
os.environ["MSWEA_COST_TRACKING"] = "ignore_errors"
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # litellm must not fetch its price list from the internet
from fake_api import FakeAPI, chat_reply  # noqa: E402

from minisweagent.agents.default import DefaultAgent  # noqa: E402
from minisweagent.environments.local import LocalEnvironment  # noqa: E402
from minisweagent.models.litellm_model import LitellmModel  # noqa: E402

out = Path(sys.argv[1])
replies = ["I think the bug is in the parser; I would change the loop bound.",
           "The fix is to use <= instead of <. That should do it.",
           "I cannot run commands right now, but the change above fixes it."]
with FakeAPI() as api:
    for text in replies:
        api.add(chat_reply(text))
    model = LitellmModel(model_name="openai/fake-model", cost_tracking="ignore_errors",
                         model_kwargs={"api_base": api.url + "/v1", "api_key": "not-a-key"})
    agent = DefaultAgent(model, LocalEnvironment(cwd=str(out.parent)),
                         system_template="You are a helpful assistant that runs bash commands.",
                         instance_template="Fix the bug: {{task}}", step_limit=10, output_path=out)
    print(agent.run("the parser drops the last item"))
