{{/* Annotations of the objects the test hooks need: created before the Jobs, and removed
     once the tests pass (a failed test leaves them for inspection; the next run replaces them). */}}
{{- define "vigia.testHook" -}}
helm.sh/hook: test
helm.sh/hook-weight: {{ . | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end -}}

{{- define "vigia.testName" -}}
{{- printf "%s-test" (include "vigia.fullname" .) -}}
{{- end -}}

{{/* Where the sample ModelDeployment goes: a namespace the operator watches. */}}
{{- define "vigia.testNamespace" -}}
{{- if .Values.operator.watchNamespaces -}}
{{- first .Values.operator.watchNamespaces -}}
{{- else -}}
{{- .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/* The pod of a test Job; call with (dict "ctx" $ "script" "x.py" "env" (list ...) "account" bool). */}}
{{- define "vigia.testPod" -}}
{{- $ := .ctx -}}
metadata:
  labels:
    {{- include "vigia.labels" $ | nindent 4 }}
    app.kubernetes.io/component: helm-test
spec:
  restartPolicy: Never
  {{- if .account }}
  serviceAccountName: {{ include "vigia.testName" $ }}
  {{- else }}
  automountServiceAccountToken: false
  {{- end }}
  securityContext:
    {{- include "vigia.podSecurityContext" $ | nindent 4 }}
  {{- with $.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: test
      image: {{ include "vigia.image" $ | quote }}
      imagePullPolicy: {{ $.Values.image.pullPolicy }}
      command: [python3, {{ printf "/scripts/%s" .script | quote }}]
      env:
        - {name: PYTHONUNBUFFERED, value: "1"}
        - {name: PYTHONDONTWRITEBYTECODE, value: "1"}
        - {name: HOME, value: /tmp}
        - {name: VIGIA_TEST_TIMEOUT_SECONDS, value: {{ $.Values.tests.timeoutSeconds | toString | quote }}}
        {{- toYaml .env | nindent 8 }}
      resources:
        requests: {cpu: 50m, memory: 64Mi}
        limits: {memory: 256Mi}
      securityContext:
        {{- include "vigia.containerSecurityContext" $ | nindent 8 }}
      volumeMounts:
        - {name: scripts, mountPath: /scripts, readOnly: true}
        - {name: tmp, mountPath: /tmp}
  volumes:
    - name: scripts
      configMap:
        name: {{ include "vigia.testName" $ }}
    - name: tmp
      emptyDir: {sizeLimit: 16Mi}
{{- end -}}
