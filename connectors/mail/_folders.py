"""The role a mail folder's name implies (Sent, Junk, Trash, Drafts, Archive, INBOX).

For stores that mark no folder by attribute: local Maildir and mbox trees, and IMAP servers
without RFC 6154 SPECIAL-USE (PROTOCOL-NOTES rule 7). Apart from the header parser
(:mod:`connectors.mail._mail`) so that listing folders never loads it: an IMAP pass with no
new mail reads names, never headers. Pure: no I/O.
"""

from __future__ import annotations

import unicodedata

from syncd.model import Role


def _names(names: str) -> frozenset[str]:
    """Return the ``|``-separated ``names`` NFC-normalised and case-folded."""
    return frozenset(unicodedata.normalize("NFC", name).casefold() for name in names.split("|"))


# Names mail clients and servers give the special folders (RFC 6154 attributes are the better
# source where a server offers them; local stores have only names). Localised names seen in
# Thunderbird, Outlook, Apple Mail and Gmail's IMAP view ("[Gmail]/Sent Mail").
_ROLE_NAMES: tuple[tuple[Role, frozenset[str]], ...] = (
    (Role.INBOX, _names("INBOX|Posteingang|Boîte de réception|Bandeja de entrada")),
    (
        Role.SENT,
        _names(
            "Sent|Sent Items|Sent Messages|Sent Mail|Sent-Mail|Gesendet|Gesendete Objekte"
            "|Gesendete Elemente|Gesendete Nachrichten|Envoyés|Éléments envoyés"
            "|Messages envoyés|Enviados|Elementos enviados|Inviati|Posta inviata|Verzonden"
            "|Verzonden items|Skickat|Skickade objekt|Sendt|Sendte elementer|Lähetetyt"
            "|Wysłane|Odeslané|Отправленные|已发送|送信済みメール|送信済み"
        ),
    ),
    (
        Role.JUNK,
        _names(
            "Junk|Spam|Junk E-mail|Junk Email|Junk Mail|Bulk Mail|Bulk|Junk-E-Mail"
            "|Unerwünscht|Courrier indésirable|Indésirables|Correo no deseado"
            "|Posta indesiderata|Ongewenste e-mail|Skräppost|Спам|垃圾邮件|迷惑メール"
        ),
    ),
    (
        Role.TRASH,
        _names(
            "Trash|Deleted Items|Deleted Messages|Deleted|Bin|Papierkorb|Gelöschte Elemente"
            "|Gelöschte Objekte|Corbeille|Éléments supprimés|Papelera|Elementos eliminados"
            "|Cestino|Posta eliminata|Prullenbak|Verwijderde items|Papperskorgen"
            "|Borttagna objekt|Kosz|Корзина|已删除|ゴミ箱"
        ),
    ),
    (
        Role.DRAFTS,
        # Outboxes hold mail not sent yet: no contact has happened.
        _names(
            "Drafts|Draft|Outbox|Unsent Messages|Postausgang|Entwürfe|Brouillons|Borradores"
            "|Bozze|Concepten|Utkast|Kladder|Szkice|Черновики|草稿|下書き"
        ),
    ),
    (Role.ARCHIVE, _names("Archive|Archives|All Mail|Archiv|Archivo|Archivio")),
)


def role_for_folder_name(name: str, delimiter: str | None = "/") -> Role:
    """Return the role a folder name implies, from its last path component, case-insensitive.

    ``delimiter`` separates the levels of ``name``: an IMAP server gives it for each folder in
    its LIST answer (RFC 3501 §6.3.8; ``"."`` in ``INBOX.Sent`` on Cyrus and Courier, ``"/"``
    in ``[Gmail]/Sent Mail``), None for a flat name. With ``"/"`` (local stores) a ``\\``
    (Windows paths) separates too. ``"[Gmail]/Sent Mail"``, ``"INBOX.Sent"`` with ``"."`` and
    ``"Gesendet"`` are SENT, ``"Junk E-mail"`` is JUNK, and so on; a name that matches nothing
    is OTHER.
    """
    if delimiter == "/":
        last = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    elif delimiter:
        last = name.rstrip(delimiter).rsplit(delimiter, 1)[-1]
    else:
        last = name
    key = unicodedata.normalize("NFC", last).strip().casefold()
    for role, names in _ROLE_NAMES:
        if key in names:
            return role
    return Role.OTHER
