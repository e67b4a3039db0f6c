"""An address book through the CLI: a CardDAV card whose CATEGORIES value `[tiers.map]` maps
to a tier tracks its person after `syncd sync`; deleting the card upstream untracks them and
keeps them (and their history) in the store; a `syncd split` of a card's addresses stands through
full syncs until a `syncd merge` joins them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from servers.radicale import radicale  # noqa: F401 - fixture

CARD = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ann-1\r\nFN:Ann Lee\r\nN:Lee;Ann;;;\r\n"
        "EMAIL;TYPE=INTERNET:ann@example.com\r\nCATEGORIES:Close friends,Work\r\n"
        "BDAY:1985-04-12\r\nEND:VCARD\r\n")


def syncd(config, *args):
    result = subprocess.run([sys.executable, "-m", "syncd", "-c", str(config), *args],
                            capture_output=True, text=True, timeout=120, env=os.environ.copy(),
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


def write_config(tmp_path, radicale, user):  # noqa: F811
    """A config whose one source is ``user``'s CardDAV books, mapping "Close friends" to a tier."""
    options = radicale.options(user)
    config = tmp_path / "config.toml"
    config.write_text(f"""
[general]
state_dir = "{tmp_path / 'state'}"
[me]
addresses = ["me@example.org"]
[sources.book]
type = "carddav"
url = "{options['url']}"
username = "{user}"
password_command = "{options['password_command']}"
[tiers]
close = "14d"
[tiers.map]
"Close friends" = "close"
""")
    return config


def test_a_carddav_category_mapped_to_a_tier_tracks_and_deleting_the_card_untracks(
        tmp_path, radicale):  # noqa: F811
    user = radicale.new_user()
    book = radicale.make_address_book(user, "contacts")
    radicale.put_card(book, user, "ann.vcf", CARD)
    radicale.put_card(book, user, "bob.vcf", CARD.replace("ann-1", "bob-1").replace(
        "Ann Lee", "Bob Roe").replace("Lee;Ann", "Roe;Bob").replace("ann@", "bob@").replace(
        "Close friends,", ""))
    config = write_config(tmp_path, radicale, user)
    assert "book: " in syncd(config, "sync")
    [ann] = json.loads(syncd(config, "people", "--json"))
    assert ann["name"] == "Ann Lee" and ann["tier"] == "close"
    assert "ann@example.com" in json.dumps(ann)
    radicale.delete(book, user, "ann.vcf")
    syncd(config, "sync")
    assert json.loads(syncd(config, "people", "--json")) == []
    shown = json.loads(syncd(config, "show", "ann@example.com", "--json"))
    assert shown["name"] == "Ann Lee", "untracked, not erased"
    assert shown["tracked"] is False, shown


def book_config(tmp_path, radicale):  # noqa: F811
    """A CardDAV source on a new Radicale user, whose Ann card lists two addresses."""
    user = radicale.new_user()
    book = radicale.make_address_book(user, "contacts")
    radicale.put_card(book, user, "ann.vcf", CARD.replace(
        "EMAIL;TYPE=INTERNET:ann@example.com\r\n",
        "EMAIL;TYPE=INTERNET:ann@example.com\r\nEMAIL;TYPE=INTERNET:ann@work.example\r\n"))
    return write_config(tmp_path, radicale, user)


def test_a_split_of_a_card_s_addresses_survives_full_syncs_until_a_merge(
        tmp_path, radicale):  # noqa: F811
    config = book_config(tmp_path, radicale)
    syncd(config, "sync")
    [ann] = json.loads(syncd(config, "people", "--json"))
    assert ann["addresses"] == ["ann@example.com", "ann@work.example"]
    syncd(config, "split", "ann@example.com", "ann@work.example")
    for _ in range(2):
        syncd(config, "sync", "--full")
        home = json.loads(syncd(config, "show", "ann@example.com", "--json"))
        work = json.loads(syncd(config, "show", "ann@work.example", "--json"))
        assert home["id"] != work["id"], "the split stands"
        assert (home["addresses"], home["tier"]) == (["ann@example.com"], "close")
        assert (work["addresses"], work["tier"]) == (["ann@work.example"], None)
    syncd(config, "merge", "ann@example.com", "ann@work.example")
    syncd(config, "sync", "--full")
    [ann] = json.loads(syncd(config, "people", "--json"))
    assert ann["addresses"] == ["ann@example.com", "ann@work.example"]
    [exported] = json.loads(syncd(config, "export", "--format", "json"))["people"]
    assert exported["birthday"] == "1985-04-12", "the card's BDAY"
