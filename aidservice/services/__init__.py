"""Use cases: `fn(session, *, ...)`; they call the engine, raise domain errors and never commit."""
