"""Mail sources: IMAP (with its sessions, fetching and OAuth sign-in), Maildir and mbox.

They share :mod:`connectors.mail._mail`, the one parser of message metadata.
"""
