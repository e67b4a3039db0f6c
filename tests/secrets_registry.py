"""Every password and token the tests hand to syncd, for the end-of-session secret sweep.

A test module that uses a secret registers it where it defines it::

    PASSWORD = secret("Qz7-syncd-test-pw-4Kx")

``tests/test_zz_secret_sweep.py`` (collected last, see conftest.py) then greps every log,
error message and database file the session produced for each registered value. Keep the
values long and unusual (at least 8 characters), so a hit is a leak and never a coincidence.
"""

from __future__ import annotations

_KNOWN: set[str] = set()

#: Texts pytest captured for each test phase (stdout, stderr, log records, the error shown on
#: failure), filled by conftest.py's report hook: (test id and section, text).
CAPTURED: list[tuple[str, str]] = []


def secret(value: str) -> str:
    """Register ``value`` as a secret no output of syncd may contain; return it."""
    if len(value) < 8:
        raise ValueError(f"a registered secret needs 8 characters or more, not {len(value)}")
    _KNOWN.add(value)
    return value


def known_secrets() -> frozenset[str]:
    """Every secret registered so far."""
    return frozenset(_KNOWN)


def record_output(label: str, text: str) -> str:
    """Keep ``text`` (the output of a syncd command a test ran) for the sweep; return it."""
    CAPTURED.append((label, text))
    return text
