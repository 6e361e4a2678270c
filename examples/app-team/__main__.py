"""App team "shop": runs its storefront on the platform, reading everything it needs from the platform stack.

Nothing about the cluster is configured here: the kubeconfig, the namespace list and the sealing
certificate come from the platform stack's outputs (docs/outputs.md), checked by PlatformStack.
"""

import sys
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

HERE = Path(__file__).resolve().parent
# In this repository the consumer helper comes from the platform's source tree. In an app team's own
# repository, vendor components/platform_outputs.py and components/platform_consumer.py instead.
for path in (HERE, HERE.parent.parent):
    if str(path) not in sys.path:
        sys.path.append(str(path))

from components.platform_consumer import PlatformStack  # noqa: E402
from sealing import CERT_FINGERPRINT_ANNOTATION, certificate_fingerprint, load_sealed_secret  # noqa: E402

config = pulumi.Config()
NAMESPACE = config.get("namespace") or "shop"
APP = "storefront"
IMAGE = config.get("image") or "nginxinc/nginx-unprivileged:1.27-alpine"
REPLICAS = config.get_int("replicas") or 2
APP_UID = 101  # the image's unprivileged user

platform = PlatformStack(config.require("platformStack"), min_contract="1.0")

# Every object below is created in this Output: if the platform did not create the namespace (with its
# injection label and default-deny policies), nothing is deployed and `pulumi up` says why.
namespace = platform.require_app_namespace(NAMESPACE)

provider = k8s.Provider("platform", kubeconfig=platform.kubeconfig, enable_server_side_apply=True)
in_cluster = pulumi.ResourceOptions(provider=provider)
labels = {"app.kubernetes.io/name": APP, "app.kubernetes.io/part-of": "shop"}

# The value was sealed offline with the platform's public certificate (sealing.py or kubeseal --cert);
# only the in-cluster controller can unseal it, so the file is safe in git and in Pulumi state.
sealed = load_sealed_secret(HERE / "sealed" / "db-password.yaml", NAMESPACE)
sealed_with = (sealed["metadata"].get("annotations") or {}).get(CERT_FINGERPRINT_ANNOTATION)


def warn_if_rotated(cert_pem: str) -> str:
    if sealed_with and sealed_with != certificate_fingerprint(cert_pem):
        # Old keys are kept, so it still unseals; resealing moves it to the current key.
        pulumi.log.warn("sealed/db-password.yaml was sealed with an older platform certificate; reseal it")
    return cert_pem


platform.sealing_certificate_pem.apply(warn_if_rotated)

db_password = k8s.apiextensions.CustomResource(
    "db-password",
    api_version=sealed["apiVersion"],
    kind=sealed["kind"],
    metadata=k8s.meta.v1.ObjectMetaArgs(name=sealed["metadata"]["name"], namespace=namespace, labels=labels),
    spec={
        "encryptedData": sealed["spec"]["encryptedData"],
        "template": {
            "metadata": {"name": sealed["metadata"]["name"], "namespace": NAMESPACE, "labels": labels},
            "type": sealed["spec"].get("template", {}).get("type", "Opaque"),
        },
    },
    opts=in_cluster,
)

service_account = k8s.core.v1.ServiceAccount(
    APP,
    metadata=k8s.meta.v1.ObjectMetaArgs(name=APP, namespace=namespace, labels=labels),
    # The storefront never calls the Kubernetes API: no token to steal from a compromised pod.
    automount_service_account_token=False,
    opts=in_cluster,
)

# Who the pod and its container run as: the image's unprivileged user, under the runtime's syscall filter.
run_as_app: dict[str, Any] = {
    "run_as_non_root": True,
    "run_as_user": APP_UID,
    "run_as_group": APP_UID,
    "seccomp_profile": k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
}

container_security = k8s.core.v1.SecurityContextArgs(
    **run_as_app,
    read_only_root_filesystem=True,  # a compromised process cannot drop tools or rewrite the app
    allow_privilege_escalation=False,  # no setuid escalation (no_new_privs)
    privileged=False,
    capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
)

deployment = k8s.apps.v1.Deployment(
    APP,
    metadata=k8s.meta.v1.ObjectMetaArgs(name=APP, namespace=namespace, labels=labels),
    spec=k8s.apps.v1.DeploymentSpecArgs(
        replicas=REPLICAS,
        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
        template=k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
            spec=k8s.core.v1.PodSpecArgs(
                service_account_name=APP,
                automount_service_account_token=False,
                security_context=k8s.core.v1.PodSecurityContextArgs(**run_as_app, fs_group=APP_UID),
                containers=[
                    k8s.core.v1.ContainerArgs(
                        name=APP,
                        image=IMAGE,
                        ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=8080)],
                        env=[
                            k8s.core.v1.EnvVarArgs(
                                name="DB_PASSWORD",
                                value_from=k8s.core.v1.EnvVarSourceArgs(
                                    secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(
                                        name=sealed["metadata"]["name"],
                                        key="password",
                                    ),
                                ),
                            ),
                        ],
                        # Limits stop one noisy pod from starving its neighbours on the node.
                        resources=k8s.core.v1.ResourceRequirementsArgs(
                            requests={"cpu": "100m", "memory": "128Mi"},
                            limits={"cpu": "500m", "memory": "256Mi"},
                        ),
                        security_context=container_security,
                        readiness_probe=k8s.core.v1.ProbeArgs(
                            http_get=k8s.core.v1.HTTPGetActionArgs(path="/", port="http"),
                        ),
                        liveness_probe=k8s.core.v1.ProbeArgs(
                            http_get=k8s.core.v1.HTTPGetActionArgs(path="/", port="http"),
                            initial_delay_seconds=10,
                        ),
                        # The only writable path: nginx's pid file and temp files.
                        volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],
                    ),
                ],
                volumes=[
                    k8s.core.v1.VolumeArgs(
                        name="tmp",
                        empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi"),
                    )
                ],
            ),
        ),
    ),
    opts=pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(depends_on=[db_password, service_account])),
)

service = k8s.core.v1.Service(
    APP,
    metadata=k8s.meta.v1.ObjectMetaArgs(name=APP, namespace=namespace, labels=labels),
    spec=k8s.core.v1.ServiceSpecArgs(
        type="ClusterIP",  # reachable from outside only through the platform's ingress gateway
        selector=labels,
        # The "http" name and appProtocol tell Istio the protocol (mTLS and L7 policy apply).
        ports=[k8s.core.v1.ServicePortArgs(name="http", port=80, target_port="http", app_protocol="http")],
    ),
    opts=in_cluster,
)

pulumi.export("namespace", namespace)
pulumi.export("serviceName", service.metadata.name)
pulumi.export("platformContract", platform.contract_version)
pulumi.export("publicHostnames", platform.ingress_hostnames)
