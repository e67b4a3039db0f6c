"""Mail sources: IMAP (with its sessions, fetching and OAuth sign-in), Maildir and mbox.

They share :mod:`connectors.mail._mail`, the one parser of message metadata, and beside it the
parts a pass needs before it has a header to parse (:mod:`~connectors.mail._folders`, folder
roles by name; :mod:`~connectors.mail._pages`; :mod:`~connectors.mail._stamps`), so that a pass
with no new mail never loads the parser.
"""
