"""metrics-server, built from its Go module (tools/metrics-server/build.sh), as the resource
metrics API (``v1beta1.metrics.k8s.io``) of the e2e cluster: what a CPU-target
HorizontalPodAutoscaler reads (docs/autoscaling.md).

The manifest is built here, not upstream's: a serving certificate made for this install
(the API server verifies it through the APIService's caBundle, no ``insecureSkipTLSVerify``),
the RBAC metrics-server needs and nothing more (no aggregated reader role for users), a
non-root pod with a read-only root file system, and a short resolution for tests. The
kubelet's serving certificate is verified against the cluster CA (the local cluster's real
node has one signed by it, naming its InternalIP) or, on a cluster whose kubelets serve
self-signed certificates (kind), not verified (``KubeletTls.INSECURE``).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any, Final

from vigia_devcluster import pki
from vigia_devcluster.binaries import cache_root, parse_versions
from vigia_devcluster.kubectl import apply, kubectl

from vigia_testbed.kube import KubectlError, wait_for

ROOT: Final = Path(__file__).resolve().parents[3]
BUILD_SCRIPT: Final = ROOT / "tools" / "metrics-server" / "build.sh"
VERSIONS: Final = ROOT / "tools" / "metrics-server" / "versions.env"
BUILD_TIMEOUT_S: Final = 3600  # cold, on two shared cores
IMAGE_NAME: Final = "metrics-server"  # its name in vigia_devcluster.images
NAME: Final = "metrics-server"
NAMESPACE: Final = "kube-system"  # where the API server's authentication ConfigMap lives
API_SERVICE: Final = "v1beta1.metrics.k8s.io"
PORT: Final = 10250
# The shortest metrics-server accepts; the kubelet timeout must stay under 9/10 of it.
METRIC_RESOLUTION: Final = "10s"
KUBELET_REQUEST_TIMEOUT: Final = "5s"
CERT_DIR: Final = "/etc/metrics-server/tls"
SERVICE_ACCOUNT_CA: Final = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
CERT_ANNOTATION: Final = "vigia.dev/serving-certificate"
LABELS: Final = {"app.kubernetes.io/name": NAME}
RBAC: Final = "rbac.authorization.k8s.io"
Obj = dict[str, Any]


class KubeletTls(enum.Enum):
    CLUSTER_CA = "cluster-ca"  # verify the kubelet against the CA pods get with their token
    INSECURE = "insecure"  # kubelets with self-signed serving certificates (kind)


def version() -> str:
    return parse_versions(VERSIONS.read_text())["METRICS_SERVER_VERSION"]


def binary() -> Path:
    """metrics-server from the build cache, built first by build.sh when missing or stale."""
    done = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{BUILD_SCRIPT} failed: {done.stdout[-3000:]}{done.stderr[-3000:]}")
    return cache_root() / f"metrics-server-{version()}" / "bin" / "metrics-server"


# --- the manifest ------------------------------------------------------------------------------

def service_host() -> str:
    return f"{NAME}.{NAMESPACE}.svc"


def serving_certificate() -> tuple[pki.KeyPair, pki.KeyPair]:
    """A CA made for this install and the Service's certificate it signs: (ca, serving)."""
    ca = pki.build_ca(f"vigia-e2e-{NAME}-ca")
    serving = pki.build_cert(ca, service_host(), server=True, client=False,
                             hosts=(service_host(), f"{service_host()}.cluster.local"))
    return ca, serving


def args(kubelet_tls: KubeletTls, *, port: int = PORT, cert_dir: str = CERT_DIR,
         kubelet_ca: str = SERVICE_ACCOUNT_CA) -> list[str]:
    """metrics-server's flags; the paths are the pod's unless a test runs it elsewhere."""
    kubelet = ([f"--kubelet-certificate-authority={kubelet_ca}"]
               if kubelet_tls is KubeletTls.CLUSTER_CA else ["--kubelet-insecure-tls"])
    return [
        f"--secure-port={port}",
        f"--tls-cert-file={cert_dir}/tls.crt",
        f"--tls-private-key-file={cert_dir}/tls.key",
        # The node's IP, which its serving certificate names (not its host name, which
        # nothing in the cluster resolves).
        "--kubelet-preferred-address-types=InternalIP",
        "--kubelet-use-node-status-port",
        *kubelet,
        f"--metric-resolution={METRIC_RESOLUTION}",
        f"--kubelet-request-timeout={KUBELET_REQUEST_TIMEOUT}",
    ]


def manifests(image: str, kubelet_tls: KubeletTls,
              certificate: tuple[pki.KeyPair, pki.KeyPair] | None = None) -> list[Obj]:
    """Every object of the install, in the order to apply them."""
    ca, serving = certificate or serving_certificate()
    return [*rbac(), _secret(serving), _deployment(image, kubelet_tls, serving), _service(),
            _api_service(ca)]


def rbac() -> list[Obj]:
    """Read pods and nodes, get the kubelets' resource metrics (nodes/metrics: the kubelet's
    webhook authorizer asks for it), delegate authentication and authorization of the
    aggregated requests, read the front proxy's CA."""
    subject = [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]
    role = f"vigia-e2e:{NAME}"
    rules = [
        {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]},
    ]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": NAME, "namespace": NAMESPACE}},
        {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": role},
         "rules": rules},
        _binding("ClusterRoleBinding", role, "ClusterRole", role, subject),
        _binding("ClusterRoleBinding", f"{role}:auth-delegator", "ClusterRole",
                 "system:auth-delegator", subject),
        _binding("RoleBinding", f"{role}:auth-reader", "Role",
                 "extension-apiserver-authentication-reader", subject),
    ]


def _binding(kind: str, name: str, role_kind: str, role: str, subjects: list[Obj]) -> Obj:
    metadata = {"name": name, **({"namespace": NAMESPACE} if kind == "RoleBinding" else {})}
    return {"apiVersion": f"{RBAC}/v1", "kind": kind, "metadata": metadata,
            "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role},
            "subjects": subjects}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _secret(serving: pki.KeyPair) -> Obj:
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": f"{NAME}-tls", "namespace": NAMESPACE},
            "data": {"tls.crt": _b64(serving.cert_pem()), "tls.key": _b64(serving.key_pem())}}


def _deployment(image: str, kubelet_tls: KubeletTls, serving: pki.KeyPair) -> Obj:
    probe = {"scheme": "HTTPS", "port": "https"}
    container = {
        "name": NAME, "image": image, "imagePullPolicy": "IfNotPresent",
        "args": args(kubelet_tls),
        "ports": [{"name": "https", "containerPort": PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/readyz", **probe}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/livez", **probe}, "periodSeconds": 10},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                      "limits": {"memory": "256Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "readOnlyRootFilesystem": True},
        "volumeMounts": [{"name": "tls", "mountPath": CERT_DIR, "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }
    pod = {
        "serviceAccountName": NAME,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": [{"name": "tls", "secret": {"secretName": f"{NAME}-tls"}},
                    {"name": "tmp", "emptyDir": {}}],
    }
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": LABELS},
            "spec": {"replicas": 1, "selector": {"matchLabels": LABELS},
                     "template": {"metadata": {"labels": LABELS, "annotations": {
                         # A new certificate (a second install) starts a new pod.
                         CERT_ANNOTATION: _fingerprint(serving)}}, "spec": pod}}}


def _fingerprint(pair: pki.KeyPair) -> str:
    return hashlib.sha256(pair.cert_pem()).hexdigest()[:16]


def _service() -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": LABELS},
            "spec": {"selector": LABELS, "ports": [{"name": "https", "port": 443,
                                                    "targetPort": "https",
                                                    "appProtocol": "https"}]}}


def _api_service(ca: pki.KeyPair) -> Obj:
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": API_SERVICE, "labels": LABELS},
            "spec": {"group": "metrics.k8s.io", "version": "v1beta1",
                     "service": {"name": NAME, "namespace": NAMESPACE, "port": 443},
                     "caBundle": _b64(ca.cert_pem()),
                     "groupPriorityMinimum": 100, "versionPriority": 100}}


# --- on a cluster ------------------------------------------------------------------------------

def served(kubeconfig: Path) -> bool:
    """The cluster's APIService for the resource metrics API is Available."""
    try:
        return require_available(kubeconfig)
    except (KubectlError, RuntimeError):
        return False


def require_available(kubeconfig: Path) -> bool:
    """True when Available; else RuntimeError with the condition's reason and message (what
    a wait that times out then reports, e.g. FailedDiscoveryCheck: the API server did not
    reach the Service)."""
    service = json.loads(kubectl(kubeconfig, "get", "apiservice", API_SERVICE, "-o", "json"))
    conditions = (service.get("status") or {}).get("conditions") or []
    available = [c for c in conditions if c["type"] == "Available"]
    if available and available[0]["status"] == "True":
        return True
    said = available[0] if available else {}
    raise RuntimeError(f"{API_SERVICE} not Available: {said.get('reason')}: "
                       f"{said.get('message')}")


def node_metrics(kubeconfig: Path) -> list[Obj]:
    answer = json.loads(kubectl(kubeconfig, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"))
    return list(answer.get("items") or [])


def install(kubeconfig: Path, image: str, kubelet_tls: KubeletTls, timeout: float = 300) -> None:
    """Apply the manifest (the image already on the nodes), then wait until the API is
    Available and a node's usage is served (two scrapes: usage is a rate)."""
    apply(kubeconfig, *manifests(image, kubelet_tls))
    try:
        kubectl(kubeconfig, "-n", NAMESPACE, "rollout", "status", f"deployment/{NAME}",
                f"--timeout={timeout:.0f}s", timeout=timeout + 20)
        wait_for(lambda: require_available(kubeconfig), timeout,
                 f"APIService {API_SERVICE} Available")
        wait_for(lambda: node_metrics(kubeconfig), timeout,
                 "a node's usage from metrics-server", interval=2)
    except (AssertionError, KubectlError) as error:
        raise AssertionError(f"{error}\nmetrics-server's log ends:\n{_log_tail(kubeconfig)}"
                             ) from error


def _log_tail(kubeconfig: Path) -> str:
    try:
        return kubectl(kubeconfig, "-n", NAMESPACE, "logs", f"deployment/{NAME}", "--tail=30")
    except KubectlError as error:
        return f"(no log: {error})"


def provide_on_local_cluster(kubeconfig: Path, cluster: str) -> None:
    """On the local cluster ``cluster`` (its real node): metrics-server built (cached), its
    image built (cached) and imported, then installed, the kubelet verified against the
    cluster CA. Only a run that asks for the metrics API pays for any of it."""
    import vigia_devcluster  # needs the local cluster's tools (root)
    from vigia_devcluster.images import references

    if served(kubeconfig):
        return
    binary()
    vigia_devcluster.load_images(cluster, [IMAGE_NAME])
    install(kubeconfig, references()[IMAGE_NAME], KubeletTls.CLUSTER_CA)
