"""A self-contained HTML report: the same rich tables as the terminal (exported by rich with inline
styles) and the figures as embedded PNGs; no external file or network access needed to view it."""
from __future__ import annotations

import base64
import html
import io
from typing import Any

from rich.console import Console

from analysis.render import render

CAPTIONS = {
    "ordering": "Ordering of frustration onset and the first D1, per model × scenario.",
    "precedence_null": "Observed precedence against its trajectory-swap null distribution.",
    "peri_event": "Mean tone level around the first D1 against step-matched dummy events in runs without D1 "
                  "(bands: 95% CI, clustered by D1 run).",
    "odds_ratios": "Odds ratios with 95% confidence intervals: the primary hazard model, per model, "
                   "sensitivity analyses and the case-time-control check.",
}


def build_html(r: dict[str, Any], pngs: dict[str, bytes], title: str = "Frustration before drastic actions") -> str:
    console = Console(record=True, width=150, file=io.StringIO(), color_system="truecolor")
    render(r, console)
    tables = console.export_html(inline_styles=True,
                                 code_format="<pre class=\"terminal\"><code>{code}</code></pre>")
    figures = "\n".join(
        f"<figure><img alt=\"{html.escape(name)}\" src=\"data:image/png;base64,"
        f"{base64.b64encode(png).decode('ascii')}\"><figcaption>{html.escape(CAPTIONS.get(name, name))}"
        f"</figcaption></figure>" for name, png in pngs.items())
    summary = "".join(f"<li>{html.escape(s)}</li>" for s in r.get("summary", []))
    flags = "".join(f"<li>{html.escape(f['message'])}</li>" for f in r.get("flags", []))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1200px;
       margin: 2em auto; color: #222; line-height: 1.45; }}
pre.terminal {{ background: #fdfdfd; border: 1px solid #ddd; padding: 1em; overflow-x: auto;
               font-family: Menlo, Consolas, monospace; font-size: 12px; }}
figure {{ margin: 1.5em 0; }} img {{ max-width: 100%; }} figcaption {{ color: #555; font-size: 0.9em; }}
.flags {{ background: #fff8e1; border-left: 4px solid #f0ad4e; padding: 0.5em 1em; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<h2>Summary</h2><ul>{summary}</ul>
{f'<div class="flags"><h3>Flags</h3><ul>{flags}</ul></div>' if flags else ''}
<h2>Figures</h2>
{figures or '<p>No figure: nothing estimable.</p>'}
<h2>Tables</h2>
{tables}
<p style="color:#777;font-size:0.85em">Schema {html.escape(str(r.get('schema')))}. Statistical plan and
citations: docs/analysis.md.</p>
</body></html>
"""
