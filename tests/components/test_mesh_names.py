"""The shared vocabulary: one label domain for the platform's own keys, names that compose as Istio expects."""

from __future__ import annotations

import re
import subprocess

from components.mesh_names import (
    PLATFORM_LABEL_DOMAIN,
    injection_label,
    istiod_service,
    platform_label,
    revision_tag_webhook_name,
    spiffe_principal,
)
from tools.program_runner import ROOT

# Any "platform.<org>.<tld>/<key>" label or annotation key written anywhere in the repository.
_PLATFORM_KEY = re.compile(r"\bplatform\.[a-z0-9-]+\.[a-z]+/[a-z0-9.-]+")


def test_one_label_domain_across_the_repository():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    domains: dict[str, set[str]] = {}
    for path in files:
        try:
            text = (ROOT / path).read_text()
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        for key in _PLATFORM_KEY.findall(text):
            domains.setdefault(key.split("/", 1)[0], set()).add(path)
    assert set(domains) == {PLATFORM_LABEL_DOMAIN}, domains


def test_platform_label():
    assert platform_label("sealing-key-generation") == "platform.contoso.com/sealing-key-generation"


def test_istio_names():
    assert injection_label("stable") == {"istio.io/rev": "stable"}
    # The names the istiod chart and `istioctl tag set` give (istiod templates/service.yaml, revision-tags-mwc.yaml).
    assert istiod_service("1-30-3") == "istiod-1-30-3"
    assert revision_tag_webhook_name("canary") == "istio-revision-tag-canary"
    assert spiffe_principal("cluster.local", "istio-ingress", "istio-ingressgateway") == (
        "cluster.local/ns/istio-ingress/sa/istio-ingressgateway"
    )
