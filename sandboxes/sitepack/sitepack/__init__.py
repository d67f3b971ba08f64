from sitepack.archive import archive_name, build_archive
from sitepack.collect import collect
from sitepack.manifest import MANIFEST_NAME, manifest_text

__all__ = ["MANIFEST_NAME", "archive_name", "build_archive", "collect", "manifest_text"]
