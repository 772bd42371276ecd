"""Names of the ModelDeployment resource, of the objects it owns, and the table of child kinds.

The schema itself lives in manifests/crd/ (the one source of truth); these are only the
identifiers the code needs, checked against the CRD by a unit test.
"""

from dataclasses import dataclass
from typing import Final

from vigia.metrics import TRACK_STABLE

GROUP: Final = "vigia.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
KIND: Final = "ModelDeployment"
PLURAL: Final = "modeldeployments"

FIELD_MANAGER: Final = "vigia-operator"
MANAGED_BY: Final = "vigia-operator"

# Labels on every child object; the operator finds a child's owner through LABEL_OWNER.
LABEL_NAME: Final = "app.kubernetes.io/name"
LABEL_INSTANCE: Final = "app.kubernetes.io/instance"
LABEL_COMPONENT: Final = "app.kubernetes.io/component"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_PART_OF: Final = "app.kubernetes.io/part-of"
LABEL_OWNER: Final = f"{GROUP}/model-deployment"
LABEL_TRACK: Final = f"{GROUP}/track"
LABEL_VERSION: Final = f"{GROUP}/version"

ANNOTATION_CONFIG_HASH: Final = f"{GROUP}/config-hash"
ANNOTATION_MODEL_URI: Final = f"{GROUP}/model-uri"

SERVER_APP: Final = "vigia-model-server"
SERVER_COMPONENT: Final = "model-server"  # the app.kubernetes.io/component of its pods
SERVER_PORT: Final = 3000  # BentoML's default
SERVICE_PORT: Final = 80
PORT_NAME: Final = "http"
# The port of the probes' own process (vigia.settings.DEFAULT_PROBE_PORT).
PROBE_PORT_NAME: Final = "probes"
CONTAINER_NAME: Final = "server"
JOB_CONTAINER: Final = "retrain"  # the retraining Job's container: its result is its message


def deployment_name(md_name: str, track: str) -> str:
    return f"{md_name}-{track}"


def autoscaler_name(md_name: str) -> str:
    """The stable track's HorizontalPodAutoscaler: named after the Deployment it scales."""
    return deployment_name(md_name, TRACK_STABLE)


def service_name(md_name: str) -> str:
    return md_name


def configmap_name(md_name: str) -> str:
    return f"{md_name}-server"


def service_account_name(md_name: str) -> str:
    return f"{md_name}-server"


@dataclass(frozen=True)
class ChildKind:
    """A kind of object a ModelDeployment owns: how to address, watch and index it."""

    api_version: str
    kind: str
    plural: str
    wave: int = 0  # applied after every child of a lower wave (what it refers to)
    # What the operator does to it (the RBAC test checks the ClusterRole grants these).
    verbs: tuple[str, ...] = ("get", "list", "watch", "create", "patch")
    # What installs it when a cluster may not serve it (its CRDs); None: always served.
    installed_by: str | None = None

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def index(self) -> str:
        """Id of the kopf index holding the observed objects of this kind, by owner."""
        return f"{self.plural}_index"

    @property
    def resource(self) -> str:
        """As kubectl names it: plural.group/version."""
        return f"{self.plural}.{self.group}/{self.version}" if self.group else (
            f"{self.plural}/{self.version}")


# Router GatewayAPI's route: applied after the Services it points at. Its CRDs may not be
# installed: the operator then does not watch it and refuses the ModelDeployments that need
# it (docs/operator.md, "Child kinds").
HTTPROUTE: Final = ChildKind("gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes", wave=1,
                             installed_by="the Gateway API CRDs")
# spec.serving.autoscaling: scales the stable Deployment, so applied after it. Deleted when
# autoscaling is turned off (an HPA left behind would fight the fixed count).
HPA: Final = ChildKind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
                       wave=2, verbs=("get", "list", "watch", "create", "patch", "delete"))
# Every child kind; children of one wave are applied together, waves in order. The handlers
# (watches, indexes), the API client (URL paths) and the RBAC test all read this table.
CHILD_KINDS: Final = (
    ChildKind("v1", "ServiceAccount", "serviceaccounts"),
    ChildKind("v1", "ConfigMap", "configmaps"),
    ChildKind("v1", "Service", "services"),
    ChildKind("apps/v1", "Deployment", "deployments", wave=1),  # needs its account, config
    HTTPROUTE,  # points at the track Services
    HPA,
    # Created once by the retraining step (never applied: a Job's spec is immutable).
    ChildKind("batch/v1", "Job", "jobs", wave=2, verbs=("get", "list", "watch", "create")),
)
WAVES: Final = {k.kind: k.wave for k in CHILD_KINDS}
# Kinds of child deleted when the spec stops asking for them (the others never are).
REMOVABLE: Final = frozenset(k.kind for k in CHILD_KINDS if "delete" in k.verbs)
MODELS_INDEX: Final = "models_index"
# Kinds the client addresses besides the children.
OTHER_KINDS: Final = (
    ChildKind(API_VERSION, KIND, PLURAL),
    ChildKind("v1", "Event", "events"),
    ChildKind("v1", "Secret", "secrets"),
    ChildKind("coordination.k8s.io/v1", "Lease", "leases"),
    ChildKind("v1", "Pod", "pods"),  # a finished retraining Job's termination message
)
PLURALS: Final = {(k.api_version, k.kind): k.plural for k in (*CHILD_KINDS, *OTHER_KINDS)}
OWNED_SELECTOR: Final = f"{LABEL_MANAGED_BY}={MANAGED_BY}"
