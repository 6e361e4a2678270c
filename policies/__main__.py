"""CrossGuard policy pack `platform-security`: assembles the rules, nothing else.

Run: pulumi preview --policy-pack policies --policy-pack-config policies/config/prod.json
Rules live in rules/<domain>.py; per-environment enforcement in config/<env>.json; docs in ../docs/policies.md.
"""

import gc

from pulumi_policy import EnforcementLevel, PolicyPack

from rules import PACK_DESCRIPTION, PACK_ENFORCEMENT_LEVEL, PACK_NAME, all_policies

# The analyzer rebuilds every resource for every stack policy; with the default thresholds the cyclic
# collector rescans all those live objects again and again, so analysis grew faster than the stack.
# Modules and rules are permanent (freeze), and collections are rarer: time stays linear in size.
gc.freeze()
gc.set_threshold(50_000, 50, 100)

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel(PACK_ENFORCEMENT_LEVEL),
    description=PACK_DESCRIPTION,
    provider="azure",
    tags=["aks", "istio", "keyvault", "network", "sealed-secrets", "kubernetes", "monitoring"],
    policies=all_policies(),
)
