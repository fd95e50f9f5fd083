"""The demo generator: a synthetic Jiangsu province for demos, tests and benchmarks.

- `province`: schools in the 13 cities, students in every stage, guardians and agency registers, as plain
  payloads for the services (pure Python, deterministic for a seed; no Flask, no database);
- `facts`: one row of catalogue facts per synthetic student, vectorised with polars (batch files, benchmarks);
- `load`: what `flask --app wsgi aid demo-data` does with a province: every row through the same services
  as real data, or in bulk (COPY roster, columnar re-determination) from 50,000 students.

This package module imports nothing, so `province` and `facts` stay importable without Flask or SQLAlchemy.
"""
