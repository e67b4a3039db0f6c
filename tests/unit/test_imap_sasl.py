"""The bytes of SASL XOAUTH2 and OAUTHBEARER (RFC 7628), checked against the specs' examples."""

from __future__ import annotations

import base64

from connectors.mail._imap_session import SaslResponder, sasl_initial_response


def test_xoauth2_matches_the_example_of_googles_protocol_page():
    # https://developers.google.com/gmail/imap/xoauth2-protocol: the base64 shown there.
    sent = sasl_initial_response("XOAUTH2", "someuser@example.com",
                                 "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")
    assert base64.b64encode(sent).decode() == (
        "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNr"
        "QmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==")


def test_oauthbearer_is_gs2_header_then_key_value_pairs_each_ended_by_ctrl_a():
    # RFC 7628 §3.1: gs2-header kvsep *kvpair kvsep; kvpair = key "=" value kvsep; §4.1 sends
    # host and port of the connection too.
    sent = sasl_initial_response("OAUTHBEARER", "user@example.com",
                                 "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
                                 "server.example.com", 143)
    assert sent == (b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
                    b"auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01")
    assert sasl_initial_response("OAUTHBEARER", "u@x", "T") == b"n,a=u@x,\x01auth=Bearer T\x01\x01"


def test_oauthbearer_escapes_comma_and_equals_in_the_authorization_identity():
    # RFC 5801 §4: saslname escapes "=" as "=3D" and "," as "=2C".
    assert sasl_initial_response("OAUTHBEARER", "a=b,c@x", "T").startswith(b"n,a=a=3Db=2Cc@x,")


def test_an_error_challenge_is_answered_without_the_token():
    for mechanism, answer in (("OAUTHBEARER", b"\x01"), ("XOAUTH2", b"")):
        respond = SaslResponder(mechanism, "me@example.com", "TOKEN-123")
        assert b"TOKEN-123" in respond(b"")
        error = b'{"status":"invalid_token","schemes":"bearer","scope":"mail"}'
        assert respond(error) == answer  # RFC 7628 §3.2.3 / Google: never the token again
        assert respond.challenges == [b"", error]
        assert "TOKEN-123" not in repr(respond)
