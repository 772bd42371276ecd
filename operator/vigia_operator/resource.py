"""Names of the ModelDeployment resource and of the objects the operator owns.

The schema itself lives in manifests/crd/ (the one source of truth); these are only the
identifiers the code needs, checked against the CRD by a unit test.
"""

from typing import Final

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
SERVER_PORT: Final = 3000  # BentoML's default
SERVICE_PORT: Final = 80
PORT_NAME: Final = "http"
CONTAINER_NAME: Final = "server"


def deployment_name(md_name: str, track: str) -> str:
    return f"{md_name}-{track}"


def service_name(md_name: str) -> str:
    return md_name


def configmap_name(md_name: str) -> str:
    return f"{md_name}-server"


def service_account_name(md_name: str) -> str:
    return f"{md_name}-server"
