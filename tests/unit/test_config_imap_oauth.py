"""[sources.X] type = "imap" with auth = "oauth2": token_command or a built-in provider."""

from __future__ import annotations

import pytest

from syncd.config import parse_config
from syncd.errors import ConfigError

ENV = {"HOME": "/home/test"}


def source(**options: object) -> dict:
    return {"sources": {"work": {"type": "imap", "username": "me@example.com", **options}}}


def options(**given: object) -> dict:
    return dict(parse_config(source(**given), environ=ENV).sources["work"].options)


def problems(**given: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(source(**given), environ=ENV)
    assert caught.value.exit_code == 78
    return [str(problem) for problem in caught.value.problems]


def test_a_microsoft_source_is_four_lines_and_gets_host_port_and_implicit_tls():
    found = options(oauth_provider="microsoft", client_id="0000-1111")
    assert found["auth"] == "oauth2"
    assert found["host"] == "outlook.office365.com"
    assert found["tls"] == "implicit"
    assert found["port"] is None  # the connector's default for implicit TLS: 993
    assert found["tenant"] == "common"


def test_a_google_source_gets_imap_gmail_com():
    found = options(oauth_provider="google", client_secrets="/etc/client_secret.json")
    assert found["host"] == "imap.gmail.com"
    assert found["client_secrets"] == "/etc/client_secret.json"


def test_password_stays_the_default_and_a_token_command_implies_oauth2():
    assert options(host="imap.example.org")["auth"] == "password"
    assert options(host="imap.example.org", token_command="oama access me")["auth"] == "oauth2"


def test_an_explicit_host_beats_the_providers():
    found = options(oauth_provider="microsoft", client_id="x", host="imap.example.net")
    assert found["host"] == "imap.example.net"


def test_oauth2_without_a_token_command_or_provider_names_both_keys():
    [problem] = problems(auth="oauth2", host="imap.example.org")
    assert problem.startswith("sources.work.auth:")
    assert "token_command" in problem
    assert "oauth_provider" in problem


def test_each_provider_asks_for_what_it_needs():
    assert any(p.startswith("sources.work.client_id: is required with oauth_provider = "
                            '"microsoft"') for p in problems(oauth_provider="microsoft"))
    assert any(p.startswith("sources.work.client_secrets: is required")
               for p in problems(oauth_provider="google"))


def test_mixed_up_keys_are_refused_with_the_fix():
    found = problems(host="h.example", token_command="x", oauth_provider="google",
                     client_secrets="/s.json", password_command="pass x")
    assert "sources.work.token_command: set token_command or oauth_provider, not both" in found
    assert any(p.startswith("sources.work.password_command: is not used") for p in found)
    found = problems(host="h.example", auth="password", token_command="x")
    assert any(p.startswith('sources.work.token_command: is used only with auth = "oauth2"')
               for p in found)
    found = problems(oauth_provider="google", client_secrets="/s.json", client_id="x")
    assert any(p.startswith('sources.work.client_id: is used only with oauth_provider = '
                            '"microsoft"') for p in found)


def test_oauth2_in_clear_text_to_a_remote_host_is_refused():
    [problem] = problems(host="imap.example.org", tls="none", token_command="x")
    assert problem.startswith("sources.work.tls:")
    assert "access token in clear text" in problem
    assert options(host="127.0.0.1", tls="none", token_command="x")["auth"] == "oauth2"


def test_without_a_provider_the_host_is_still_required():
    assert "sources.work.host: is required" in problems(token_command="x")


def test_a_token_written_into_the_config_is_refused_without_echoing_it():
    found = problems(host="h.example", token_command="x", access_token="ya29.SECRET")
    assert any(p.startswith("sources.work.access_token:") for p in found)
    assert not any("ya29.SECRET" in p for p in found)
