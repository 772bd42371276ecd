#!/usr/bin/env bash
# Builds Prometheus (prometheus, promtool) from its upstream Go module into a cache outside the
# repository:  ${XDG_CACHE_HOME:-$HOME/.cache}/vigia/prometheus-$PROMETHEUS_VERSION/bin/
# The module is pinned by this directory's go.mod/go.sum (tool directives), not `go install
# pkg@version`, so the checksums are ours. A stamp (version, Go version, hash of go.mod, go.sum,
# ldflags) marks an up-to-date build; a fresh clone on the same machine reuses it.
# The web UI's assets are not embedded (no `builtinassets` tag): tests use the HTTP API only.
# Service discovery: only Kubernetes (pods in a cluster) and the built-in file/static ones
# (upstream's remove_all_sd/enable_*_sd tags), which leaves out the cloud SDKs.
# Env: VIGIA_PROMETHEUS_CACHE overrides the cache directory; VIGIA_BUILD_FORCE=1 rebuilds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
cache="${VIGIA_PROMETHEUS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigia/prometheus-$PROMETHEUS_VERSION}"
bin="$cache/bin"
stamps="$cache/stamps"
mkdir -p "$bin" "$stamps"
# One build at a time per cache (several checkouts share it): a second waits, then finds
# the binaries up to date.
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
log() { printf '[prometheus %4ds] %s\n' "$((SECONDS - started))" "$*"; }

ldflags="-s -w"
for kv in "Version=${PROMETHEUS_VERSION#v}" "Revision=module-$PROMETHEUS_MODULE_VERSION" \
          "Branch=release" "BuildUser=vigia" "BuildDate=${PROMETHEUS_BUILD_DATE:-}"; do
  ldflags+=" -X github.com/prometheus/common/version.$kv"
done
tags="netgo,remove_all_sd,enable_kubernetes_sd"
src_hash="$( (cat "$here/go.mod" "$here/go.sum"; echo "$ldflags $tags") | sha256sum | cut -c1-16)"
stamp="prometheus=$PROMETHEUS_VERSION go=$(go env GOVERSION) src=$src_hash"

for name in prometheus promtool; do
  if [[ -z "${VIGIA_BUILD_FORCE:-}" && -x "$bin/$name" && -f "$stamps/$name" ]] \
      && [[ "$(cat "$stamps/$name")" == "$stamp" ]]; then
    log "$name $PROMETHEUS_VERSION up to date ($bin/$name)"
    continue
  fi
  log "building $name $PROMETHEUS_VERSION (cold: several minutes)"
  rm -f "$bin/$name.new"
  (cd "$here" && go build -trimpath -buildvcs=false -tags "$tags" -ldflags "$ldflags" \
    -o "$bin/$name.new" "github.com/prometheus/prometheus/cmd/$name")
  mv -f "$bin/$name.new" "$bin/$name"
  printf '%s' "$stamp" >"$stamps/$name"
  log "built $bin/$name"
done

for name in prometheus promtool; do
  out="$("$bin/$name" --version 2>&1)" || { log "FAILED: $name --version"; printf '%s\n' "$out"; exit 1; }
  log "  $name --version: ${out%%$'\n'*}"
done
log "done: binaries in $bin"
