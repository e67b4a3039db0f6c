"""Google's APIs: Gmail, Google Calendar and Google Contacts (People API).

They share :mod:`connectors.google._auth`: the user's OAuth client, one token per account,
refreshes, backoff and one service object per thread. IMAP's Google sign-in
(:mod:`connectors.google._imap_oauth`) uses the same sign-in and refresh, with its own scope.
"""
