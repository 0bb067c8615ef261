#!/usr/bin/env bash
# Installs what bench/serve_torchserve.py needs and `make setup` does not (benchmark peers,
# never needed by torchless): Java 17 from Debian, torchserve + torch-model-archiver from
# PyPI into .venv (they do not pull or upgrade torch).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "run 'make setup' first" >&2; exit 1; }
if ! command -v java >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -q && $SUDO apt-get install -y -q openjdk-17-jre-headless
fi
.venv/bin/pip install -q torchserve==0.12.0 torch-model-archiver==0.12.0
echo "torchserve: ok"
