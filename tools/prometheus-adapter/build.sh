#!/usr/bin/env bash
# Builds prometheus-adapter (Prometheus data as the custom metrics API, custom.metrics.k8s.io,
# that a requests-per-second target reads) from its upstream Go module into a cache outside the
# repository:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/vigia/prometheus-adapter-$PROMETHEUS_ADAPTER_VERSION/bin/
# The module is pinned by this directory's go.mod/go.sum (tool directive), not `go install
# pkg@version`, so the checksums are ours. A stamp (version, Go version, hash of go.mod, go.sum,
# ldflags) marks an up-to-date build; a fresh clone on the same machine reuses it.
# The module proxy lists no version of it (`go list -m -versions` answers 403) but serves v0.12.0
# by name, as go.mod pins it.
# Env: VIGIA_PROMETHEUS_ADAPTER_CACHE overrides the cache directory; VIGIA_BUILD_FORCE=1 rebuilds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
version="$PROMETHEUS_ADAPTER_VERSION"
module="sigs.k8s.io/prometheus-adapter"
cache="${VIGIA_PROMETHEUS_ADAPTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigia/prometheus-adapter-$version}"
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
log() { printf '[prometheus-adapter %4ds] %s\n' "$((SECONDS - started))" "$*"; }

# Upstream's Makefile stamps no version; the binary reports none.
ldflags="-s -w"
src_hash="$( (cat "$here/go.mod" "$here/go.sum"; echo "$ldflags") | sha256sum | cut -c1-16)"
stamp="prometheus-adapter=$version go=$(go env GOVERSION) src=$src_hash"

name=adapter
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

# It has no --version; its help (exit status 2, pflag's) names its Prometheus flag when it runs.
out="$("$bin/$name" --help 2>&1 || true)"
[[ "$out" == *--prometheus-url* ]] || { log "FAILED: $name --help"; printf '%s\n' "$out"; exit 1; }
log "  $name --help: lists --prometheus-url"
log "done: binaries in $bin"
