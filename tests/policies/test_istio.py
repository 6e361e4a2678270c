"""istio rules through the analyzer beyond their one-field cases (test_one_field.py): ingress hosts and selectors."""

from __future__ import annotations

import pytest

from tests.policies.analyzer import (
    UNKNOWN,
    analyze,
    names,
    report,
    set_path,
    valid_gateway,
    violations,
)
from tests.resource_types import Istio

# --------------------------------------------------------------------------- ingress hosts owned by namespaces

INGRESS_HOSTS_RULE = "istio-ingress-gateway-namespace-hosts"


@pytest.mark.parametrize(
    "selector",
    [
        {"istio": "egressgateway"},  # the egress gateway's servers name external hosts, unscoped
        {"app": "other-gateway"},
        "ingressgateway",  # odd shapes select nothing
        None,
        [],
    ],
)
def test_bare_hosts_pass_on_a_gateway_that_is_not_the_ingress(selector):
    gateway = set_path(set_path(valid_gateway(), "spec.selector", selector), "spec.servers.0.hosts", ["a.example.com"])
    assert INGRESS_HOSTS_RULE not in names(analyze(Istio.GATEWAY, gateway))


@pytest.mark.parametrize("hosts", [[42], [None], [["shop/a.example.com"]], [{"shop": "a.example.com"}], ["shop/"]])
def test_odd_ingress_hosts_are_violations_not_crashes(hosts):
    diags = analyze(Istio.GATEWAY, set_path(valid_gateway(), "spec.servers.1.hosts", hosts))
    assert INGRESS_HOSTS_RULE in names(violations(diags)), report(diags)
    assert not any("could not evaluate" in d.message for d in diags), report(diags)


@pytest.mark.parametrize("servers", ["x", [None, 3, "server"], [{"hosts": "shop/a.example.com"}], [{}]])
def test_odd_servers_do_not_crash(servers):
    diags = analyze(Istio.GATEWAY, set_path(valid_gateway(), "spec.servers", servers))
    assert not any(d.policy == INGRESS_HOSTS_RULE and "could not evaluate" in d.message for d in diags), report(diags)


def test_an_unknown_selector_cannot_be_checked_yet():
    diags = [
        d
        for d in analyze(Istio.GATEWAY, set_path(valid_gateway(), "spec.selector", UNKNOWN))
        if d.policy == INGRESS_HOSTS_RULE
    ]
    assert [(d.level, d.cannot_check) for d in diags] == [("advisory", True)], report(diags)


def test_the_ingress_selector_is_configurable():
    gateway = set_path(valid_gateway(), "spec.selector", {"app": "edge"})
    gateway = set_path(gateway, "spec.servers.0.hosts", ["a.example.com"])
    config = {"all": "mandatory", INGRESS_HOSTS_RULE: {"ingressGatewaySelector": {"app": "edge"}}}
    assert INGRESS_HOSTS_RULE in names(violations(analyze(Istio.GATEWAY, gateway, config)))
