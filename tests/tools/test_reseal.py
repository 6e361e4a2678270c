"""tools/reseal.py: each SealedSecret file goes through `kubeseal --re-encrypt`; a failure keeps the file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tools import reseal

SEALED = "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: db, namespace: shop}\n"


def fake_kubeseal(tmp_path: Path, script: str) -> str:
    path = tmp_path / "kubeseal"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    root = tmp_path / "manifests"
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "db.yaml").write_text(SEALED)
    (root / "shop" / "deploy.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n")
    return root


def test_only_sealed_secrets_are_resealed_through_the_controller(tmp_path, manifests, monkeypatch):
    # The fake records its arguments and answers with the input marked as re-encrypted.
    kubeseal = fake_kubeseal(tmp_path, f'echo "$@" > {tmp_path}/args\nsed "s/name: db/name: db-resealed/"\n')
    monkeypatch.setenv("KUBESEAL", kubeseal)
    assert reseal.main([str(manifests)]) == 0
    assert "name: db-resealed" in (manifests / "shop" / "db.yaml").read_text()
    assert "kind: Deployment" in (manifests / "shop" / "deploy.yaml").read_text()
    args = (tmp_path / "args").read_text().split()
    assert args[:5] == [
        "--re-encrypt",
        "--controller-name",
        "sealed-secrets-controller",
        "--controller-namespace",
        "sealed-secrets",
    ]


def test_a_kubeseal_failure_keeps_the_file_and_fails(tmp_path, manifests, monkeypatch, capsys):
    monkeypatch.setenv("KUBESEAL", fake_kubeseal(tmp_path, 'echo "no endpoints available for service" >&2\nexit 1\n'))
    assert reseal.main([str(manifests)]) == 1
    assert (manifests / "shop" / "db.yaml").read_text() == SEALED
    assert "no endpoints available" in capsys.readouterr().out


def test_a_directory_without_sealed_secrets_is_an_error(tmp_path):
    assert reseal.main([str(tmp_path)]) == 1
