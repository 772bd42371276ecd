#!/usr/bin/env bash
# Builds the local cluster's binaries into a cache outside the repository:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/vigia/kube-$KUBE_VERSION/bin/
#     vigia-kube (multi-call: kube-apiserver, kube-controller-manager, kube-scheduler,
#                 kubelet, kube-proxy, kubectl, etcd; symlinks by those names), kwok, helm
# Each artefact carries a stamp (versions, Go version, hash of go.mod, go.sum, main.go and
# the ldflags); an up-to-date one is not rebuilt, so a fresh clone on the same machine
# reuses the binaries.
# Env: VIGIA_KUBE_CACHE overrides the cache directory; VIGIA_BUILD_FORCE=1 rebuilds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
cache="${VIGIA_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigia/kube-$KUBE_VERSION}"
bin="$cache/bin"
stamps="$cache/stamps"
mkdir -p "$bin" "$stamps"
# One build at a time per cache (several checkouts share it): a second waits, then finds
# the binaries up to date.
exec 9>"$cache/.build.lock"
flock 9

command -v go >/dev/null || {
  echo "build.sh: Go is not installed (need Go >= 1.24; Debian: apt-get install golang-go)" >&2
  exit 1
}
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:--mod=mod}"
export CGO_ENABLED="${CGO_ENABLED:-0}"
started=$SECONDS
components=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl etcd)

log() { printf '[build %4ds] %s\n' "$((SECONDS - started))" "$*"; }

up_to_date() { # name, wanted stamp
  [[ -z "${VIGIA_BUILD_FORCE:-}" && -x "$bin/$1" && -f "$stamps/$1" ]] \
    && [[ "$(cat "$stamps/$1")" == "$2" ]]
}

# go build -v names each package it compiles; print a running count instead.
progress() {
  local n=0 line
  while IFS= read -r line; do
    n=$((n + 1))
    # Errors and the tail of the build always show; package names only every 100th.
    if [[ "$line" != [a-zA-Z]*/* && "$line" != [a-z]* ]] || [[ "$line" == *:* ]]; then
      printf '%s\n' "$line"
    elif ((n % 100 == 0)); then
      log "  $n packages compiled (now: $line)"
    fi
  done
  log "  $n packages compiled in total"
}

build_kube() {
  local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local ldflags="-s -w" pkg key val
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    for key in gitVersion=$KUBE_VERSION gitMajor=1 gitMinor=$minor gitCommit= \
               gitTreeState=clean buildDate=$KUBE_BUILD_DATE; do
      val="${key#*=}"; key="${key%%=*}"
      ldflags+=" -X $pkg.$key=$val"
    done
  done
  local src_hash stamp
  src_hash="$( (cat "$here/go.mod" "$here/go.sum" "$here/main.go"; echo "$ldflags") \
    | sha256sum | cut -c1-16)"
  stamp="kube=$KUBE_VERSION etcd=$ETCD_VERSION go=$(go env GOVERSION) src=$src_hash"
  if up_to_date vigia-kube "$stamp"; then
    log "vigia-kube $KUBE_VERSION up to date ($bin/vigia-kube)"
  else
    log "building vigia-kube $KUBE_VERSION + etcd $ETCD_VERSION (cold: ~2800 packages, long)"
    rm -f "$bin/vigia-kube.new"
    (cd "$here" && go build -v -trimpath -buildvcs=false -ldflags "$ldflags" \
      -o "$bin/vigia-kube.new" . 2>&1) | progress
    mv -f "$bin/vigia-kube.new" "$bin/vigia-kube"
    printf '%s' "$stamp" >"$stamps/vigia-kube"
    log "built $bin/vigia-kube"
  fi
  local c
  for c in "${components[@]}"; do ln -sfn vigia-kube "$bin/$c"; done
}

go_install() { # name, package@version, ldflags
  local name="$1" pkg="$2" ldflags="$3" stamp="$2 go=$(go env GOVERSION)"
  if up_to_date "$name" "$stamp"; then
    log "$name up to date ($bin/$name)"
    return
  fi
  log "go install $pkg"
  # Outside the module: go install pkg@version uses that module's own go.mod.
  (cd "$cache" && GOBIN="$bin" GOFLAGS= go install -trimpath -ldflags "$ldflags" "$pkg")
  printf '%s' "$stamp" >"$stamps/$name"
  log "installed $bin/$name"
}

# Side by side: kwok's and Helm's module downloads overlap Kubernetes' compile, and the
# three keep both cores busy through each other's link steps (Go's caches allow this).
build_kube & kube=$!
go_install kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" \
  "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" & kwok=$!
go_install helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
  "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" & helm=$!
failed=0
for pid in "$kube" "$kwok" "$helm"; do wait "$pid" || failed=1; done
((failed == 0)) || { log "FAILED: see above"; exit 1; }

# Smoke test: every binary runs. (Not `| head`: with pipefail an early-closed pipe fails.)
for check in "kube-apiserver --version" "kubectl version --client" "etcd --version" \
             "kwok --version" "helm version --short"; do
  out="$("$bin"/$check 2>&1)" || { log "FAILED: $check"; printf '%s\n' "$out"; exit 1; }
  log "  $check: ${out%%$'\n'*}"
done
log "done: binaries in $bin"
