"""The operator's policy on what a ModelDeployment may ask for (pure).

Whoever may create a ModelDeployment must not thereby run any image, read any Secret of
the namespace, or make the server unpickle a bundle nobody vouched for. Each check
returns a Refusal (a reason from the catalogue and a message naming the field) or None.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from vigia.uris import REMOTE_SCHEMES, uri_scheme
from vigia_operator.core import reasons
from vigia_operator.core.config import OperatorSettings
from vigia_operator.view.model import ModelDeploymentView

PVC_SCHEME = "pvc"
# What spec.model.uri may use: what the loader fetches, plus claims the builder mounts.
ALLOWED_URI_SCHEMES = ("file", "s3", PVC_SCHEME)
DEFAULT_REGISTRY = "docker.io"
# Where pods mount a pvc:// bundle's claim (read-only for servers, writable for Jobs).
BUNDLE_MOUNT = "/var/run/vigia/bundles"


@dataclass(frozen=True)
class Refusal:
    reason: str
    message: str


def normalize_image(reference: str) -> str:
    """An image reference with its registry and, on Docker Hub, the library/ namespace
    spelled out: ``vigia/vigia:1`` is ``docker.io/vigia/vigia:1``."""
    first, sep, rest = reference.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first.lower(), rest
    else:
        registry, path = DEFAULT_REGISTRY, reference
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    return f"{registry}/{path}"


def image_allowed(image: str, prefixes: Sequence[str]) -> bool:
    """Whether ``image`` starts with one of ``prefixes``, at a component boundary (a prefix
    ``docker.io/vigia/vigia`` allows ``vigia/vigia:0.1.0``, not ``vigia/vigia-evil``)."""
    ref = normalize_image(image)
    for prefix in prefixes:
        wanted = normalize_image(prefix.rstrip("/")) + ("/" if prefix.endswith("/") else "")
        if ref == wanted:
            return True
        if ref.startswith(wanted) and (wanted[-1] in "/:@" or ref[len(wanted)] in "/:@"):
            return True
    return False


def check_image(md: ModelDeploymentView, settings: OperatorSettings) -> Refusal | None:
    if image_allowed(md.serving.image, settings.allowed_images):
        return None
    allowed = ", ".join(settings.allowed_images) or "(none)"
    return Refusal(reasons.IMAGE_NOT_ALLOWED,
                   f"spec.serving.image {md.serving.image!r} is not allowed by the operator's "
                   f"configuration (allowed prefixes: {allowed}).")


def check_uri(md: ModelDeploymentView, settings: OperatorSettings) -> Refusal | None:
    """The scheme allow-list, and the digest anchor for remote bundles."""
    scheme = uri_scheme(md.model.uri)
    if scheme not in ALLOWED_URI_SCHEMES:
        allowed = ", ".join(f"{s}://" for s in ALLOWED_URI_SCHEMES)
        return Refusal(reasons.SCHEME_NOT_ALLOWED,
                       f"spec.model.uri: scheme {scheme!r} is not allowed; use {allowed}.")
    if scheme == PVC_SCHEME:
        try:
            pvc_location(md.model.uri)
        except ValueError as error:
            return Refusal(reasons.SCHEME_NOT_ALLOWED, f"spec.model.uri: {error}")
    if (scheme in REMOTE_SCHEMES and md.model.digest is None
            and not settings.allow_sidecar_digest):
        return Refusal(reasons.DIGEST_REQUIRED,
                       f"spec.model.digest is required for a {scheme}:// bundle: the digest "
                       "in the resource is the trust anchor (the operator does not trust "
                       "sidecar digests).")
    return None


def secret_allowed(labels: Mapping[str, str] | None, settings: OperatorSettings) -> bool:
    key, value = settings.secret_label_pair
    return (labels or {}).get(key) == value


SecretProblem = Literal["missing", "unlabelled", "not granted"]


def secret_refusal(field: str, name: str, settings: OperatorSettings,
                   problem: SecretProblem) -> Refusal:
    why = {"missing": "does not exist",
           "unlabelled": f"does not carry the label {settings.secret_label}",
           "not granted": "is not granted to the operator (its namespace gives it get on "
                          "each Secret models may use, by name: manifests/samples/"
                          "secret-grant.yaml)"}[problem]
    return Refusal(reasons.SECRET_NOT_ALLOWED,
                   f"{field}: Secret {name!r} {why}; the operator only lets ModelDeployments "
                   "reference Secrets granted and labelled for model access.")


def pvc_location(uri: str) -> tuple[str, str]:
    """(claim, path inside it) of ``pvc://<claim>/<path>``."""
    rest = uri.split("://", 1)[1]
    claim, _, path = rest.partition("/")
    if not claim or not _dns_subdomain(claim):
        raise ValueError(f"{claim!r} is not a PersistentVolumeClaim name")
    parts = path.split("/")
    if not path or any(part in ("", ".", "..") for part in parts):
        raise ValueError("the path inside the claim must be relative, without '.', '..' "
                         "or empty segments")
    return claim, path


def _dns_subdomain(name: str) -> bool:
    return len(name) <= 253 and re.fullmatch(
        r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", name) is not None


def server_uri(uri: str) -> str:
    """The URI a pod loads: a pvc:// bundle is a file on the claim mounted at BUNDLE_MOUNT."""
    if not uri.startswith(f"{PVC_SCHEME}://"):
        return uri
    claim, path = pvc_location(uri)
    return f"file://{BUNDLE_MOUNT}/{claim}/{path}"


def store_uri(pod_uri: str) -> str:
    """A URI a pod reported, as the ModelDeployment spells it: a file on a mounted claim
    is pvc://claim/path again (the inverse of ``server_uri``)."""
    prefix = f"file://{BUNDLE_MOUNT}/"
    if not pod_uri.startswith(prefix):
        return pod_uri
    return f"{PVC_SCHEME}://{pod_uri[len(prefix):]}"
