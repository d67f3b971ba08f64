"""`testbed replay`: a run's timeline in the terminal, interactive or static.

    source.py   reads events.jsonl incrementally (follow mode), stops at a bad line
    scores.py   per-step scores: scores.jsonl, scored on the fly, or none (and says which)
    timeline.py one row per step with its tests, truth, tone and actions; navigation targets
    diffs.py    per-step diffs from the shadow git, on demand
    render.py   the header, the timeline strip, the step view (rich renderables)
    static.py   the whole timeline printed once (--static, or no TTY)
    keys.py     key decoding from raw terminal bytes
    app.py      the interactive replay: state, key bindings, the terminal loop
"""
