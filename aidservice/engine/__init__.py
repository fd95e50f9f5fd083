"""The pure rules engine: load and validate rules, compile, evaluate, explain; batch-evaluate a file.

No Flask, no SQLAlchemy, no marshmallow (a test asserts it); no I/O beyond reading rule files and, in
`batch`, reading and writing the files a batch evaluation is given.

Modules, lowest first: `result`, `numbers`, `yamlsrc`; `expr`, `model`, `coverage`, `facts`; the loader
(`loader_checks`, `loader_declarations`, `loader_logic`, `loader`); the three evaluation paths (`interp` the
reference, `compiler` per record, `columnar_values`/`columnar_compiler`/`columnar` on whole tables);
`ruletests` and `ruleset`, the entry point; `batch_read`, `batch_validate`, `batch_write` and `batch` over
the columnar path. `columnar` and `batch*` need polars (and pyarrow): nothing here imports them on
`import aidservice.engine`.
"""

from __future__ import annotations

from .coverage import OutsideCoverage
from .facts import FactsError
from .loader import RulesError
from .result import LEVELS, Award, Reason, Result, TraceEntry
from .ruleset import RuleSet, load_rules, rules_from_files
from .yamlsrc import RuleIssue

__all__ = [
    "LEVELS",
    "Award",
    "FactsError",
    "OutsideCoverage",
    "Reason",
    "Result",
    "RuleIssue",
    "RuleSet",
    "RulesError",
    "TraceEntry",
    "load_rules",
    "rules_from_files",
]
