"""Re-encrypt SealedSecret manifests to the controller's newest sealing key (``make reseal DIR=...``).

Each file holding a ``SealedSecret`` is piped through ``kubeseal --re-encrypt``: the controller decrypts
and re-encrypts inside the cluster, so the plaintext never reaches this machine. It needs cluster access
(an Entra ID kubeconfig, e.g. ``az aks get-credentials`` + kubelogin) as someone allowed to proxy to the
controller service: the chart's service-proxier role is deliberately not bound to every user.
A file is rewritten only when kubeseal succeeds; one SealedSecret a file (kubeseal reads one object).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import yaml

CONTROLLER_NAME = "sealed-secrets-controller"  # stack output sealedSecretsControllerName
CONTROLLER_NAMESPACE = "sealed-secrets"  # stack output sealedSecretsNamespace


def sealed_secret_files(root: Path) -> list[Path]:
    """The YAML files under ``root`` whose single document is a SealedSecret, sorted."""
    found = []
    for path in sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")]):
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError:
            continue
        if len(docs) == 1 and isinstance(docs[0], dict) and docs[0].get("kind") == "SealedSecret":
            found.append(path)
    return found


def reseal(path: Path, kubeseal: str, name: str, namespace: str) -> str | None:
    """Re-encrypt one file in place; the error text if kubeseal failed (the file is then untouched)."""
    result = subprocess.run(
        [kubeseal, "--re-encrypt", "--controller-name", name, "--controller-namespace", namespace, "-o", "yaml"],
        input=path.read_text(),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not result.stdout.strip():
        return result.stderr.strip() or f"kubeseal exited {result.returncode} with no output"
    path.write_text(result.stdout)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="where the app team's SealedSecret manifests are")
    parser.add_argument("--controller-name", default=CONTROLLER_NAME)
    parser.add_argument("--controller-namespace", default=CONTROLLER_NAMESPACE)
    args = parser.parse_args(argv)
    kubeseal = os.environ.get("KUBESEAL", "kubeseal")
    files = sealed_secret_files(args.directory)
    if not files:
        print(f"no SealedSecret manifests under {args.directory}", file=sys.stderr)
        return 1
    failed = 0
    for path in files:
        error = reseal(path, kubeseal, args.controller_name, args.controller_namespace)
        print(f"{'FAILED' if error else 'resealed'} {path}{': ' + error if error else ''}")
        failed += bool(error)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
