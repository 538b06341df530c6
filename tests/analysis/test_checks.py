"""Each check's metadata (`analysis/checks.py`): what a finding kind's `monthly_usd` is lives beside the kind,
not in lists of kind names kept elsewhere (`measures.PRICED_KINDS` was one, by hand, beside the kinds)."""

from flowscope.analysis import checks, measures
from flowscope.analysis.base import FindingKind


def test_every_kind_has_its_checks_metadata():
    assert set(checks.CHECKS) == set(FindingKind)
    assert all(c.kind is k for k, c in checks.CHECKS.items())


def test_the_priced_and_saving_kinds_are_the_metadatas():
    assert set(measures.PRICED_KINDS) == {str(k) for k, c in checks.CHECKS.items() if c.dollars is not None}
    assert set(measures.SAVING_KINDS) == {str(k) for k, c in checks.CHECKS.items()
                                          if c.dollars is checks.Dollars.SAVING}
    assert checks.dollars("plan_what_if") is checks.Dollars.SAVING
    assert checks.dollars("costly_step") is checks.Dollars.SPEND
    assert checks.dollars("failing_step") is checks.Dollars.COST
    assert checks.dollars("retry_storm") is checks.Dollars.ONCE
    assert checks.dollars("slow_step") is None and checks.dollars("no_such_kind") is None
