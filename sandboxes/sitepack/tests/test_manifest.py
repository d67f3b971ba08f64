import hashlib

from sitepack import manifest_text


def test_manifest_lines(site):
    text = manifest_text(site, ["index.html", "css/site.css"])
    first, second = text.splitlines()
    assert first == hashlib.sha256((site / "index.html").read_bytes()).hexdigest() + "  index.html"
    assert second.endswith("  css/site.css")
