"""Determinations: each student's level and awards for a school year, evaluated from facts, stored immutably.

The area's modules, from the bottom up:

- `facts_assembly`: the facts a determination is made from (roster, schools, agency records), per student;
- `evaluation_dates`: which evaluation dates the service accepts; `evaluation`: stateless evaluation (API);
- `records`: value types, stored JSON and hashes; `store`: reading current determinations, the change-log
  locks (their order is explained there), writing and auditing;
- `students`: re-determining a set of students (per student, or columnar from VECTOR_MIN on);
- the columnar path: `runs` (a run's context, scope and counts), `matches` (agency records reaching the
  students), `columnar` (facts frame and evaluation), `writer` (bulk writing), `diff` (dry runs),
  `chunks` (one chunk, and `redetermine_set` for large feed batches), `region` (a resumable region run);
- `whatif_compare`: a draft rule set against the running one on the same date and facts (who gains and
  loses, by program and region); `whatif`: the last comparison's summary, kept for the rules page.
"""
