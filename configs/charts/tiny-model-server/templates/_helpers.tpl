{{/* Labels of every object; the selector uses the last two. */}}
{{- define "tiny-model-server.labels" -}}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{ include "tiny-model-server.selectorLabels" . }}
{{- end }}

{{- define "tiny-model-server.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
