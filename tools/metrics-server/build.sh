#!/usr/bin/env bash
# Builds metrics-server (the resource metrics API, metrics.k8s.io, that a CPU-target
# HorizontalPodAutoscaler reads) from its upstream Go module into a cache outside the
# repository:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/vigia/metrics-server-$METRICS_SERVER_VERSION/bin/
# The module is pinned by this directory's go.mod/go.sum (tool directive), not `go install
# pkg@version`, so the checksums are ours. A stamp (version, Go version, hash of go.mod, go.sum,
# ldflags) marks an up-to-date build; a fresh clone on the same machine reuses it.
# The manifest is ours (tools/testbed/vigia_testbed/metrics_server.py), not the module's.
# Env: VIGIA_METRICS_SERVER_CACHE overrides the cache directory; VIGIA_BUILD_FORCE=1 rebuilds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
version="$METRICS_SERVER_VERSION"
module="sigs.k8s.io/metrics-server"
cache="${VIGIA_METRICS_SERVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigia/metrics-server-$version}"
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
log() { printf '[metrics-server %4ds] %s\n' "$((SECONDS - started))" "$*"; }

# As upstream's Makefile stamps it (the version lives in client-go's version package).
ldflags="-s -w"
for kv in "gitVersion=$version" "gitCommit=module-$version" "buildDate=1970-01-01T00:00:00Z"; do
  ldflags+=" -X k8s.io/client-go/pkg/version.$kv"
done
src_hash="$( (cat "$here/go.mod" "$here/go.sum"; echo "$ldflags") | sha256sum | cut -c1-16)"
stamp="metrics-server=$version go=$(go env GOVERSION) src=$src_hash"

name=metrics-server
if [[ -z "${VIGIA_BUILD_FORCE:-}" && -x "$bin/$name" && -f "$stamps/$name" ]] \
    && [[ "$(cat "$stamps/$name")" == "$stamp" ]]; then
  log "$name $version up to date ($bin/$name)"
else
  log "building $name $version (cold: a few minutes)"
  rm -f "$bin/$name.new"
  (cd "$here" && go build -trimpath -buildvcs=false -ldflags "$ldflags" \
    -o "$bin/$name.new" "$module/cmd/$name")
  mv -f "$bin/$name.new" "$bin/$name"
  printf '%s' "$stamp" >"$stamps/$name"
  log "built $bin/$name"
fi

out="$("$bin/$name" --version 2>&1)" || { log "FAILED: $name --version"; printf '%s\n' "$out"; exit 1; }
log "  $name --version: ${out%%$'\n'*}"
log "done: binaries in $bin"
