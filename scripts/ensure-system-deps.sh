#!/usr/bin/env bash
# Installs what the real-infrastructure test tiers need from Debian, if it is missing:
# a PostgreSQL server, a Java 17+ runtime and Maven (to fetch Apache Kafka's jars), and Node.js
# with npm (the official AsyncAPI parser validates contracts/asyncapi.yaml), and Chromium
# (the dashboard's headless-browser test).
set -euo pipefail

missing=()
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || missing+=(python3-venv)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v runuser >/dev/null 2>&1 || missing+=(util-linux)
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
# The ops dashboard's browser test drives Debian's Chromium (never a downloaded browser).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

check_versions() {
  # Kafka 4 needs Java 17+; the AsyncAPI parser's dependencies need Node.js 20+.
  local java_major node_major
  java_major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/ *java.specification.version = //p')
  if [ -n "$java_major" ] && [ "${java_major%%.*}" -lt 17 ]; then
    echo "ERROR: Java $java_major found; Apache Kafka 4 needs Java 17 or newer." >&2; exit 1
  fi
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$node_major" -lt 20 ]; then
    echo "WARNING: Node.js $node_major found; the AsyncAPI parser's dependencies want 20+." >&2
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  check_versions
  exit 0
fi
echo "Installing system packages: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ERROR: need root and apt-get to install: ${missing[*]}. Install them and re-run." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's package starts a cluster on 5432; the tests start their own on a free port.
if command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters -h 2>/dev/null | while read -r version name _; do
    pg_ctlcluster "$version" "$name" stop 2>/dev/null || true
  done
fi
check_versions
