#!/usr/bin/env bash
# Installs the Debian 12 packages segd builds with, when any is missing.
# As root it runs apt-get itself; otherwise it prints the exact command.
set -euo pipefail

packages=(cmake make g++ libroaring-dev libsimdjson-dev libtbb-dev
          libbenchmark-dev libgtest-dev libboost1.81-dev curl)
# `install_deps.sh bench` adds gnuplot, which draws the benchmark chart, and
# wrk, which loads the server (bench/http_bench.sh).
[ "${1:-}" = bench ] && packages+=(gnuplot-nox wrk)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "segd needs these Debian packages: ${missing[*]}" >&2
  echo "Run as root:  $line" >&2
  exit 1
fi
echo "Installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
