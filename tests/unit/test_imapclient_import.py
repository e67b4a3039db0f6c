"""imapclient imported for a sync without its importlib.metadata version lookup
(connectors.mail._imap_session.import_imapclient), yet with its true version."""

from __future__ import annotations

import json
import subprocess
import sys

from connectors.mail._imap_session import _installed_version

PROBE = """
import json, sys
from connectors.mail._imap_session import import_imapclient
module = import_imapclient()
loaded = sorted(name for name in ("importlib.metadata", "email.parser") if name in sys.modules)
from imapclient import IMAPClient, version_info
import importlib.metadata
print(json.dumps({"version": module.__version__, "info": list(version_info),
                  "true": importlib.metadata.version("imapclient"), "loaded": loaded,
                  "client": IMAPClient.__name__}))
"""


def test_imapclient_is_imported_whole_with_its_true_version_and_no_metadata_lookup() -> None:
    answer = json.loads(subprocess.run([sys.executable, "-c", PROBE], check=True,
                                       capture_output=True, text=True, timeout=60).stdout)
    assert answer["loaded"] == []
    assert answer["version"] == answer["true"]
    assert answer["info"] == [*map(int, answer["true"].split(".")), "final"]
    assert answer["client"] == "IMAPClient"


def test_a_package_without_a_dist_info_directory_has_no_version_here() -> None:
    assert _installed_version("syncd_no_such_package") is None
    assert _installed_version("json") is None  # the standard library: no dist-info beside it
