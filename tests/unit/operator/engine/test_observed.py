"""Hand edits read from managedFields: spec fields another manager owns."""

from __future__ import annotations

from vigia_operator.engine.observed import hand_edits, seen

OURS = {"manager": "vigia-operator", "operation": "Apply",
        "fieldsV1": {"f:spec": {"f:replicas": {}, "f:paused": {}}}}
CONTROLLER = {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
              "fieldsV1": {"f:status": {"f:replicas": {}}}}
EDIT = {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:spec": {"f:template": {
    "f:spec": {
        "f:nodeSelector": {".": {}, "f:disk": {}},
        "f:initContainers": {".": {}, 'k:{"name":"fetch"}': {".": {}, "f:image": {}}},
        "f:containers": {'k:{"name":"server"}': {"f:args": {}}},
    }}}}}
SCALE = {"manager": "kubectl", "operation": "Update", "subresource": "scale",
         "fieldsV1": {"f:spec": {"f:replicas": {}}}}


def test_fields_other_managers_own_in_spec() -> None:
    assert hand_edits([OURS, CONTROLLER, EDIT, SCALE]) == (
        "spec.template.spec.containers[server].args",
        "spec.template.spec.initContainers[fetch]",
        "spec.template.spec.nodeSelector",
    )
    assert hand_edits([OURS, CONTROLLER]) == ()


def test_the_index_entry_drops_managed_fields() -> None:
    entry = seen({"kind": "Deployment", "metadata": {"name": "m", "managedFields": [EDIT]},
                  "spec": {}})
    assert "managedFields" not in entry.body["metadata"]
    assert "spec.template.spec.nodeSelector" in entry.hand_edits
