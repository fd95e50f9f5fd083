"""Hostile and malformed input (issue 15): every probe an attacker or a clumsy client would send is refused
fast with a clear problem+json naming the field, changes nothing, and leaves the service healthy.

One module per area: numbers and JSON, spreadsheets, agency feeds, dates, serving (rate limits, SQLite
concurrency, request ids); `test_hostile_json.py` sends generated hostile JSON to every JSON route.
"""
