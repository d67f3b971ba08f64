import pytest


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "public"
    files = {
        "index.html": "<h1>Home</h1>\n" * 50,
        "about/index.html": "<h1>About</h1>\n" * 50,
        "css/site.css": "body { margin: 0 auto; max-width: 40em; }\n" * 40,
        "css/site.css.map": "{}",
        "js/app.js": "console.log('hi');\n" * 40,
        "_drafts/next-post.html": "draft",
        ".DS_Store": "junk",
        ".git/config": "[core]",
        "img/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'></svg>\n" * 20,
        "index.html~": "backup",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
