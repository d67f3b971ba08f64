"""Writes tests/data/import/mini-v2-time-exceeded.traj.json: mini-swe-agent 2.4.6's own trajectory of a run
that ends in TimeExceeded. Generated with: pip install mini-swe-agent==2.4.6 (a throwaway venv);
python make_mini_time_exceeded.py /tmp/minigen/mini-v2-time-exceeded.traj.json, then copied here.
The agent is mini's DefaultAgent with its DeterministicModel and LocalEnvironment; the second
action sleeps past the wall-time limit, so the next query raises TimeExceeded."""
import sys
from pathlib import Path

from minisweagent.agents.default import DefaultAgent
from minisweagent.environments.local import LocalEnvironment
from minisweagent.models.test_models import DeterministicModel


def reply(thought: str, command: str) -> dict:
    return {"role": "assistant", "content": f"THOUGHT: {thought}\n\n```mswea_bash_command\n{command}\n```",
            "extra": {"actions": [{"command": command}]}}


out = Path(sys.argv[1])
model = DeterministicModel(outputs=[reply("Look at the files first.", "ls"),
                                    reply("Wait for the slow build.", "sleep 3"),
                                    reply("Check again.", "ls")])
agent = DefaultAgent(model, LocalEnvironment(cwd=str(out.parent)),
                     system_template="You are a helpful assistant.", instance_template="Fix the bug: {{task}}",
                     wall_time_limit_seconds=2, step_limit=10, output_path=out)
print(agent.run("the build is slow"))
