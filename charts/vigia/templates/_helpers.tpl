{{/* Names and labels shared by every template. */}}

{{- define "vigia.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every object's name: the release, then the chart unless the release says it. */}}
{{- define "vigia.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "vigia.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "vigia.operatorName" -}}
{{- printf "%s-operator" (include "vigia.fullname" .) -}}
{{- end -}}

{{- define "vigia.labels" -}}
app.kubernetes.io/name: {{ include "vigia.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector of a component's pods; call with (dict "ctx" $ "component" "operator"). */}}
{{- define "vigia.selector" -}}
app.kubernetes.io/name: {{ include "vigia.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "vigia.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "vigia.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "vigia.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secret holding the store URL, when there is one: "name key" or empty. */}}
{{- define "vigia.storeSecretName" -}}
{{- if .Values.store.existingSecret.name -}}
{{- .Values.store.existingSecret.name -}}
{{- else if .Values.store.postgresql.enabled -}}
{{- printf "%s-store" (include "vigia.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "vigia.storeSecretKey" -}}
{{- if .Values.store.existingSecret.name -}}
{{- .Values.store.existingSecret.key -}}
{{- else -}}
url
{{- end -}}
{{- end -}}

{{- define "vigia.postgresqlEnabled" -}}
{{- if and .Values.store.postgresql.enabled (not .Values.store.existingSecret.name) -}}true{{- end -}}
{{- end -}}

{{/* The restricted pod-security container context every container of the chart uses. */}}
{{- define "vigia.containerSecurityContext" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities: {drop: [ALL]}
seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{- define "vigia.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{/* The operator's rules, from the chart-local copy of manifests/rbac/cluster_role.yaml. */}}
{{- define "vigia.operatorRules" -}}
{{- $role := .Files.Get "files/rbac/cluster_role.yaml" | fromYaml -}}
{{- if not $role.rules -}}
{{- fail "files/rbac/cluster_role.yaml is missing: run python3 tools/helm/chart_sync.py" -}}
{{- end -}}
{{- toYaml $role.rules -}}
{{- end -}}
