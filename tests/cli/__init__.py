"""The `flask --app wsgi aid ...` commands."""
