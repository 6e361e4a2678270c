"""CrossGuard policy pack `platform-security`: assembles the rules, nothing else.

Run: pulumi preview --policy-pack policies --policy-pack-config policies/config/prod.json
Rules live in rules/<domain>.py; per-environment enforcement in config/<env>.json; docs in ../docs/policies.md.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from rules import PACK_DESCRIPTION, PACK_NAME, all_policies

# Mandatory unless a config file relaxes a rule: a forgotten config must fail closed.
PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    description=PACK_DESCRIPTION,
    provider="azure",
    tags=["aks", "istio", "keyvault", "sealed-secrets", "kubernetes"],
    policies=all_policies(),
)
