"""Calendar sources: CalDAV and .ics files.

They share :mod:`connectors.calendars._calendar`, the one reader of events and occurrences.
"""
