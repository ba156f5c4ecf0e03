#!/bin/bash
# As the official redis image: the server runs as redis in /data, with protected mode off (the official image
# builds it so), since other containers reach it over the network without a password.
set -euo pipefail
if [[ "${1:-}" == redis-server ]]; then
  shift
  chown -R redis:redis /data
  exec setpriv --reuid=redis --regid=redis --init-groups redis-server --protected-mode no "$@"
fi
exec "$@"
