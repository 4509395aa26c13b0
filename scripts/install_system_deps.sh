#!/usr/bin/env bash
# Debian packages the odbc connector needs: the unixODBC driver manager, psqlODBC and the
# MariaDB Connector/ODBC. Installed only when missing, and only where we may (root or sudo);
# elsewhere the odbc tests say what is missing and skip (or fail under CI=true).
set -euo pipefail
need=()
dpkg -s unixodbc >/dev/null 2>&1 || need+=(unixodbc)
dpkg -s odbc-postgresql >/dev/null 2>&1 || need+=(odbc-postgresql)
dpkg -s odbc-mariadb >/dev/null 2>&1 || need+=(odbc-mariadb)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo -n"; else
  echo "system-deps: not root and no sudo; missing: ${need[*]}" >&2; exit 0; fi
echo "system-deps: installing ${need[*]}"
$sudo apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
