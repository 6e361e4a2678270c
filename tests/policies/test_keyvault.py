"""keyvault rules through the analyzer: valid passes, each one-field change fails with the rule's name (prod)."""

from __future__ import annotations

import pytest

from tests.policies._one_field import assert_one_field_fails
from tests.policies.cases import KEYVAULT, case_id


@pytest.mark.parametrize("case", KEYVAULT, ids=case_id)
def test_one_field_change_fails(case):
    assert_one_field_fails(*case)
