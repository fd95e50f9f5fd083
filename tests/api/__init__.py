"""The HTTP API (and the app around it) through Flask's test client."""
