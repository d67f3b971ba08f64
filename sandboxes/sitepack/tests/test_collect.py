import pytest

from sitepack import collect


def test_collects_published_files_only(site):
    assert collect(site) == ["about/index.html", "css/site.css", "img/logo.svg", "index.html",
                             "js/app.js"]


def test_missing_site(tmp_path):
    with pytest.raises(NotADirectoryError):
        collect(tmp_path / "nope")
