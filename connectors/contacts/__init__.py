"""Address-book sources: CardDAV.

They share :mod:`connectors.contacts._vcard`, the one vCard reader (``vobject``).
"""
