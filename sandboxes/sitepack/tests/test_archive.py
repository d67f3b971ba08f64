import hashlib
import zipfile

import pytest

from sitepack import MANIFEST_NAME, archive_name, build_archive, collect


def test_archive_holds_the_site_and_its_manifest(site, tmp_path):
    dest = build_archive(site, tmp_path / "site.zip")
    with zipfile.ZipFile(dest) as zf:
        names = zf.namelist()
        assert sorted(names) == sorted(collect(site) + [MANIFEST_NAME])
        assert zf.read("about/index.html") == (site / "about/index.html").read_bytes()
        manifest = zf.read(MANIFEST_NAME).decode()
    for line in manifest.splitlines():
        digest, rel = line.split("  ", 1)
        assert hashlib.sha256((site / rel).read_bytes()).hexdigest() == digest


def test_entries_are_compressed_files_without_directory_entries(site, tmp_path):
    dest = build_archive(site, tmp_path / "site.zip")
    with zipfile.ZipFile(dest) as zf:
        infos = zf.infolist()
    assert not [i.filename for i in infos if i.filename.endswith("/")]
    assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)
    assert sum(i.compress_size for i in infos) < sum(i.file_size for i in infos) / 3


def test_an_existing_archive_is_replaced(site, tmp_path):
    dest = tmp_path / "site.zip"
    dest.write_bytes(b"stale")
    build_archive(site, dest)
    assert zipfile.is_zipfile(dest)


def test_empty_site_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError):
        build_archive(tmp_path / "empty", tmp_path / "site.zip")


def test_archive_name():
    assert archive_name("example.org", "1.2") == "example.org-1.2.zip"
    with pytest.raises(ValueError):
        archive_name("a/b", "1")
