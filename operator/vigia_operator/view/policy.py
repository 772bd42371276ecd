"""The operator's policy on what a ModelDeployment may ask for (pure).

Whoever may create a ModelDeployment must not thereby run any image, read any Secret of
the namespace, make the server unpickle a bundle nobody vouched for, make a pod fetch a
URI outside the policy (every URI the spec names: the bundle and the dataset), or publish
the server on a Gateway or host name the operator's configuration does not grant. Each
check returns a Refusal (a reason from the catalogue and a message naming the field) or
None.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vigia.uris import LOADER_SCHEMES, REMOTE_SCHEMES, scheme_refusal, uri_scheme
from vigia_operator.core import reasons
from vigia_operator.core.config import NAMESPACE_PLACEHOLDER, OperatorSettings
from vigia_operator.view.model import ModelDeploymentView
from vigia_operator.view.retraining import RetrainingSpec
from vigia_operator.view.rollout import HTTPRouteSpec, ParentRef

PVC_SCHEME = "pvc"
# What every URI of a spec may use: what the pods' loaders fetch (``vigia.uris``), plus
# claims the builders mount.
ALLOWED_URI_SCHEMES = (*LOADER_SCHEMES, PVC_SCHEME)
DEFAULT_REGISTRY = "docker.io"
# Where pods mount a pvc:// bundle's claim (read-only for servers, writable for Jobs).
BUNDLE_MOUNT = "/var/run/vigia/bundles"
# Where a Job mounts a pvc:// dataset's claim, read-only (even when it holds the bundle).
DATASET_MOUNT = "/var/run/vigia/datasets"
DATASET_URI_FIELD = "spec.retraining.dataset.uri"
HTTP_ROUTE_FIELD = "spec.rollout.traffic.httpRoute"


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


def check_spec(md: ModelDeploymentView, retraining: RetrainingSpec | None,
               settings: OperatorSettings) -> Refusal | None:
    """Every policy check on one ModelDeployment's spec (Secrets aside: they need reads)."""
    return (check_uri(md, settings) or check_dataset_uri(retraining)
            or check_image(md, settings) or check_route(md, settings))


def uri_refusal(field: str, uri: str) -> Refusal | None:
    """The one policy on a URI a spec names: a scheme the pods may open, and a pvc:// path
    that stays inside its claim."""
    refused = scheme_refusal(uri, ALLOWED_URI_SCHEMES)
    if refused is not None:
        return Refusal(reasons.SCHEME_NOT_ALLOWED, f"{field}: {refused}.")
    if uri_scheme(uri) == PVC_SCHEME:
        try:
            pvc_location(uri)
        except ValueError as error:
            return Refusal(reasons.SCHEME_NOT_ALLOWED, f"{field}: {error}")
    return None


def check_dataset_uri(retraining: RetrainingSpec | None) -> Refusal | None:
    return None if retraining is None else uri_refusal(DATASET_URI_FIELD, retraining.dataset_uri)


def check_uri(md: ModelDeploymentView, settings: OperatorSettings) -> Refusal | None:
    """The URI policy on the bundle, and the digest anchor for remote bundles."""
    refused = uri_refusal("spec.model.uri", md.model.uri)
    if refused is not None:
        return refused
    scheme = uri_scheme(md.model.uri)
    if (scheme in REMOTE_SCHEMES and md.model.digest is None
            and not settings.allow_sidecar_digest):
        return Refusal(reasons.DIGEST_REQUIRED,
                       f"spec.model.digest is required for a {scheme}:// bundle: the digest "
                       "in the resource is the trust anchor (the operator does not trust "
                       "sidecar digests).")
    return None


def check_route(md: ModelDeploymentView, settings: OperatorSettings) -> Refusal | None:
    """The HTTPRoute's Gateways and host names, against the operator's configuration
    (router GatewayAPI only: the route is built for no other)."""
    rollout = md.rollout
    if rollout is None or rollout.router != "GatewayAPI" or rollout.http_route is None:
        return None
    return (_check_parents(md.namespace, rollout.http_route, settings)
            or _check_hostnames(md.namespace, rollout.http_route, settings))


def _check_parents(namespace: str, route: HTTPRouteSpec,
                   settings: OperatorSettings) -> Refusal | None:
    for index, ref in enumerate(route.parent_refs):
        if not gateway_allowed(namespace, ref, settings.allowed_gateways):
            gateway = f"{ref.namespace or namespace}/{ref.name}"
            allowed = ", ".join(settings.allowed_gateways) or "(none)"
            return Refusal(reasons.GATEWAY_NOT_ALLOWED,
                           f"{HTTP_ROUTE_FIELD}.parentRefs[{index}]: Gateway {gateway} is not "
                           f"allowed by the operator's configuration (allowed: {allowed}; "
                           f"{NAMESPACE_PLACEHOLDER} is {namespace}).")
    return None


def _check_hostnames(namespace: str, route: HTTPRouteSpec,
                     settings: OperatorSettings) -> Refusal | None:
    for index, hostname in enumerate(route.hostnames):
        if not hostname_allowed(namespace, hostname, settings.allowed_hostnames):
            allowed = ", ".join(settings.allowed_hostnames) or "(none: leave hostnames out)"
            return Refusal(reasons.HOSTNAME_NOT_ALLOWED,
                           f"{HTTP_ROUTE_FIELD}.hostnames[{index}]: {hostname!r} is not "
                           f"allowed by the operator's configuration (allowed: {allowed}; "
                           f"{NAMESPACE_PLACEHOLDER} is {namespace}).")
    return None


def gateway_allowed(namespace: str, ref: ParentRef, patterns: Sequence[str]) -> bool:
    """Whether the Gateway ``ref`` names (its namespace defaults to the route's) matches
    one NAMESPACE/NAME pattern; * matches any, {namespace} is ``namespace``."""
    wanted = (ref.namespace or namespace, ref.name)
    for pattern in patterns:
        pattern_ns, _, pattern_name = pattern.replace(NAMESPACE_PLACEHOLDER, namespace
                                                      ).partition("/")
        if all(p in ("*", value) for p, value in zip((pattern_ns, pattern_name), wanted,
                                                      strict=True)):
            return True
    return False


def hostname_allowed(namespace: str, hostname: str, patterns: Sequence[str]) -> bool:
    """Whether ``hostname`` (itself maybe *.x) matches a pattern: exact, *.SUFFIX (any name
    under SUFFIX), or *; {namespace} is ``namespace``."""
    host = hostname.lower().rstrip(".")
    for pattern in patterns:
        wanted = pattern.replace(NAMESPACE_PLACEHOLDER, namespace).lower().rstrip(".")
        if wanted == "*" or host == wanted:
            return True
        if wanted.startswith("*.") and host.endswith(wanted[1:]) and len(host) > len(wanted) - 1:
            return True
    return False


def secret_allowed(labels: Mapping[str, str] | None, settings: OperatorSettings) -> bool:
    key, value = settings.secret_label_pair
    return (labels or {}).get(key) == value


def secret_refusal(field: str, name: str, settings: OperatorSettings,
                   missing: bool) -> Refusal:
    why = "does not exist" if missing else f"does not carry the label {settings.secret_label}"
    return Refusal(reasons.SECRET_NOT_ALLOWED,
                   f"{field}: Secret {name!r} {why}; the operator only lets ModelDeployments "
                   "reference Secrets labelled for model access.")


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


def server_uri(uri: str, mount: str = BUNDLE_MOUNT) -> str:
    """The URI a pod loads: a pvc:// URI is a file on the claim mounted under ``mount``."""
    if not uri.startswith(f"{PVC_SCHEME}://"):
        return uri
    claim, path = pvc_location(uri)
    return f"file://{mount}/{claim}/{path}"


def store_uri(pod_uri: str) -> str:
    """A URI a pod reported, as the ModelDeployment spells it: a file on a mounted claim
    is pvc://claim/path again (the inverse of ``server_uri``)."""
    prefix = f"file://{BUNDLE_MOUNT}/"
    if not pod_uri.startswith(prefix):
        return pod_uri
    return f"{PVC_SCHEME}://{pod_uri[len(prefix):]}"
