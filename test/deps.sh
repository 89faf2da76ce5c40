#!/usr/bin/env bash
# Install the Debian packages that phleet's build, tests, benchmarks and demo
# need.  Idempotent: asks apt only when something is missing.
set -euo pipefail

pkgs=(
    make gcc libssl-dev openssl
    postgresql-15 postgresql-contrib postgresql-server-dev-15 postgresql-15-cron
    libipc-run-perl pgbouncer python3-psycopg
    clang-14 libclang-rt-14-dev
)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "phleet: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
fi
echo "phleet: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
