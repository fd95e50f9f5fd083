"""The what-if job kind's label (its page's texts are in the catalogue, aidservice/translations)."""

from __future__ import annotations

from aidservice.i18n_marker import N_

WHATIF_KINDS = {"whatif": N_("规则模拟")}  # the job kind's label
