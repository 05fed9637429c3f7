{{- define "strait.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "strait.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "strait.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "strait.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "strait.selectorLabels" -}}
app.kubernetes.io/name: {{ include "strait.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "strait.labels" -}}
{{ include "strait.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* strait's configuration: the values' `config`, with the deployment name and the HTTP
listener filled in where it sets none. */}}
{{- define "strait.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- $deployment := default (dict) (get $config "deployment") -}}
{{- $_ := set $deployment "name" (default (include "strait.fullname" .) (get $deployment "name")) -}}
{{- $_ := set $config "deployment" $deployment -}}
{{- $http := default (dict) (get $config "http") -}}
{{- $_ := set $http "listen" (default (printf "0.0.0.0:%v" .Values.service.port) (get $http "listen")) -}}
{{- $_ := set $config "http" $http -}}
{{- toYaml $config -}}
{{- end -}}
