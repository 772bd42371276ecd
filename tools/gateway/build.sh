#!/usr/bin/env bash
# Builds Traefik (traefik), a Gateway API implementation that honours weighted HTTPRoute
# backendRefs, from its upstream Go module into a cache outside the repository:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/vigia/traefik-$TRAEFIK_VERSION/bin/
# The module is pinned by this directory's go.mod/go.sum (a tool directive), not `go install
# pkg@version`, so the checksums are ours; go.mod copies Traefik's own replace/exclude
# directives (a dependency's replaces do not apply to the main module), and nothing is patched.
# Version choice: v3.6.12, the newest v3 whose dependencies the Go module proxy all serves.
# v3.7.x does not build from the proxy: its replace of github.com/abbot/go-http-auth names a
# containous fork pseudo-version the proxy does not serve, and lego v5's DNS providers need SDK
# versions it refuses (akamai edgegrid v13.4.0, nrdcg/oci-go-sdk v1065, huaweicloud v0.1.213,
# sacloud-sdk-go v0.1.0, ucloud v0.22.116, yandex-cloud dns v0.0.94).
# The web dashboard is not built (webui/static holds only upstream's placeholder): tests use
# the entrypoints and the API.
# A stamp (version, Go version, hash of go.mod, go.sum, ldflags) marks an up-to-date build; a
# fresh clone on the same machine reuses it.
# Env: VIGIA_TRAEFIK_CACHE overrides the cache directory; VIGIA_BUILD_FORCE=1 rebuilds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
cache="${VIGIA_TRAEFIK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigia/traefik-$TRAEFIK_VERSION}"
bin="$cache/bin"
stamps="$cache/stamps"
mkdir -p "$bin" "$stamps"
# One build at a time per cache (several checkouts share it): a second waits, then finds
# the binary up to date.
exec 9>"$cache/.build.lock"
flock 9

command -v go >/dev/null || {
  echo "build.sh: Go is not installed (need Go >= 1.25; Debian: apt-get install golang-go)" >&2
  exit 1
}
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:--mod=mod}"
export CGO_ENABLED="${CGO_ENABLED:-0}"
started=$SECONDS
log() { printf '[traefik %4ds] %s\n' "$((SECONDS - started))" "$*"; }

ldflags="-s -w"
for kv in "Version=$TRAEFIK_VERSION" "Codename=$TRAEFIK_CODENAME" \
          "BuildDate=${TRAEFIK_BUILD_DATE:-module}"; do
  ldflags+=" -X github.com/traefik/traefik/v3/pkg/version.$kv"
done
src_hash="$( (cat "$here/go.mod" "$here/go.sum"; echo "$ldflags") | sha256sum | cut -c1-16)"
stamp="traefik=$TRAEFIK_VERSION go=$(go env GOVERSION) src=$src_hash"
name=traefik

if [[ -z "${VIGIA_BUILD_FORCE:-}" && -x "$bin/$name" && -f "$stamps/$name" ]] \
    && [[ "$(cat "$stamps/$name")" == "$stamp" ]]; then
  log "$name $TRAEFIK_VERSION up to date ($bin/$name)"
else
  log "building $name $TRAEFIK_VERSION (cold: several minutes)"
  rm -f "$bin/$name.new"
  (cd "$here" && go build -trimpath -buildvcs=false -ldflags "$ldflags" \
    -o "$bin/$name.new" "github.com/traefik/traefik/v3/cmd/$name")
  mv -f "$bin/$name.new" "$bin/$name"
  printf '%s' "$stamp" >"$stamps/$name"
  log "built $bin/$name"
fi

out="$("$bin/$name" version 2>&1)" || { log "FAILED: $name version"; printf '%s\n' "$out"; exit 1; }
log "  $name version: $(printf '%s' "$out" | tr -s ' \n' ' ')"
log "done: binary in $bin"
