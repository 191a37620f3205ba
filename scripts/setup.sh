#!/usr/bin/env bash
# Installs what building and testing kstoken needs on a fresh Debian/Ubuntu machine; idempotent.
set -euo pipefail

need_apt=()
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
command -v make >/dev/null 2>&1 || need_apt+=(make)
if command -v pkg-config >/dev/null 2>&1; then
  pkg-config --exists openssl 2>/dev/null || need_apt+=(libssl-dev)
  pkg-config --exists zlib 2>/dev/null || need_apt+=(zlib1g-dev)
else
  need_apt+=(libssl-dev zlib1g-dev)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}"
fi
command -v cargo >/dev/null 2>&1 || { echo "setup: cargo (Rust toolchain) is required" >&2; exit 1; }
rustup component list --installed 2>/dev/null | grep '^clippy' >/dev/null || rustup component add clippy rustfmt
