#!/usr/bin/env bash
# The directory backend's figures (issue 18): one slapd and three hosts on an --internal
# Docker network, the login load of bench/src/bin/dirload.rs from the three hosts at once,
# slapd's operation counters, and sshd end to end with the directory and the file backend
# side by side. Prints Markdown; figures are printed, never asserted.
#
#   bench/directory.sh [--users N] [--secs S] [--threads T] [--ssh-logins N] [--nosync] [--plain]
#
# Needs root, Docker, and the images of scripts/e2e-image.sh (twofold-e2e:latest or
# TWOFOLD_E2E_IMAGE, and twofold-slapd:bookworm).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
export CARGO_TARGET_DIR=$TARGET
cargo build --release --manifest-path bench/Cargo.toml --bin dirload --bin directory >&2
exec "$TARGET/release/directory" "$@"
