#!/usr/bin/env bash
# Builds the Prometheus Operator (operator, prometheus-config-reloader) from its upstream Go
# module into a cache outside the repository:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/vigia/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION/bin/
# The module is pinned by this directory's go.mod/go.sum (tool directives), not `go install
# pkg@version`, so the checksums are ours. A stamp (version, Go version, hash of go.mod, go.sum,
# ldflags) marks an up-to-date build; a fresh clone on the same machine reuses it.
# The CRDs are the module's own (example/prometheus-operator-crd), printed by `crds-dir`.
# Env: VIGIA_PROMETHEUS_OPERATOR_CACHE overrides the cache directory; VIGIA_BUILD_FORCE=1
# rebuilds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
version="$PROMETHEUS_OPERATOR_VERSION"
module="github.com/prometheus-operator/prometheus-operator"
cache="${VIGIA_PROMETHEUS_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigia/prometheus-operator-$version}"
bin="$cache/bin"
stamps="$cache/stamps"
mkdir -p "$bin" "$stamps"
exec 9>"$cache/.build.lock"
flock 9

command -v go >/dev/null || {
  echo "build.sh: Go is not installed (need Go >= 1.26.7; Debian: apt-get install golang-go)" >&2
  exit 1
}
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:--mod=mod}"
export CGO_ENABLED="${CGO_ENABLED:-0}"
started=$SECONDS
log() { printf '[prometheus-operator %4ds] %s\n' "$((SECONDS - started))" "$*"; }

ldflags="-s -w"
for kv in "Version=${version#v}" "Revision=module-$version" "Branch=release" "BuildUser=vigia"; do
  ldflags+=" -X github.com/prometheus/common/version.$kv"
done
src_hash="$( (cat "$here/go.mod" "$here/go.sum"; echo "$ldflags") | sha256sum | cut -c1-16)"
stamp="prometheus-operator=$version go=$(go env GOVERSION) src=$src_hash"

for name in operator prometheus-config-reloader; do
  if [[ -z "${VIGIA_BUILD_FORCE:-}" && -x "$bin/$name" && -f "$stamps/$name" ]] \
      && [[ "$(cat "$stamps/$name")" == "$stamp" ]]; then
    log "$name $version up to date ($bin/$name)"
    continue
  fi
  log "building $name $version (cold: a few minutes)"
  rm -f "$bin/$name.new"
  (cd "$here" && go build -trimpath -buildvcs=false -ldflags "$ldflags" \
    -o "$bin/$name.new" "$module/cmd/$name")
  mv -f "$bin/$name.new" "$bin/$name"
  printf '%s' "$stamp" >"$stamps/$name"
  log "built $bin/$name"
done

# The CRDs of this exact version, beside the binaries (the e2e tier applies them).
crds="$cache/crds"
if [[ ! -f "$crds/.stamp" || "$(cat "$crds/.stamp")" != "$stamp" ]]; then
  dir="$(cd "$here" && go list -m -f '{{.Dir}}' "$module")"
  rm -rf "$crds" && mkdir -p "$crds"
  cp "$dir"/example/prometheus-operator-crd/monitoring.coreos.com_*.yaml "$crds/"
  printf '%s' "$stamp" >"$crds/.stamp"
  log "CRDs in $crds"
fi

for name in operator prometheus-config-reloader; do
  out="$("$bin/$name" --version 2>&1)" || { log "FAILED: $name --version"; printf '%s\n' "$out"; exit 1; }
  log "  $name --version: ${out%%$'\n'*}"
done
log "done: binaries in $bin"
