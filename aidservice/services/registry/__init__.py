"""The agencies' registers: feed batches, their records, matching to students, the outcomes each agency may read back."""
