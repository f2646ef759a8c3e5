#!/usr/bin/env bash
# The performance benchmark of issue 6: pam_twofold side by side with google-authenticator-libpam
# and pam_oath, through real libpam. See BENCHMARKS.md for the method and the figures.
#
#   bench/run.sh                 everything (about 10 minutes on 2 cores)
#   bench/run.sh --quick         fewer logins, for a smoke check (about 2 minutes)
#   bench/run.sh --no-docker     skip scenario 6 (sshd in the Docker suite's image)
#   bench/run.sh --module PATH   measure this pam_twofold.so instead of building one
#   bench/run.sh -- ARGS         extra arguments for the driver (twofold-bench --help)
#
# Needs root (a private mount namespace; files owned by other uids). Installs what it needs
# from Debian. Builds with CARGO_TARGET_DIR (default: target/). Writes bench/out/report.md
# (and bench/out/callgrind/*.out, one profile per case, for callgrind_annotate).
# Figures are printed, never asserted: nothing here fails because something got slower.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
DOCKER=1
MODULE=""
EXTRA=()
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1; shift ;;
    --no-docker) DOCKER=0; shift ;;
    --module) MODULE=$(realpath "$2"); shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) sed -n '2,15p' "$0" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench/run.sh: run as root" >&2; exit 2; }

PKGS="libpam-google-authenticator libpam-oath valgrind pamtester libpam-wrapper libnss-wrapper oathtool"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "bench: installing$missing" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

TARGET=${CARGO_TARGET_DIR:-$PWD/target}
export CARGO_TARGET_DIR=$TARGET
if [ -z "$MODULE" ]; then
    echo "bench: building pam_twofold (release)" >&2
    cargo build --release -p pam_twofold >&2
    MODULE=$TARGET/release/libpam_twofold.so
fi
echo "bench: building the driver" >&2
cargo build --release --manifest-path bench/Cargo.toml >&2
DRIVER=$TARGET/release/twofold-bench

OUT=bench/out
mkdir -p "$OUT/callgrind"
rm -f "$OUT"/callgrind/*.out
REPORT=$OUT/report.md
ARGS=(--module "$MODULE" --out "$OUT")
SSHD_LOGINS=40
if [ "$QUICK" = 1 ]; then
    ARGS+=(--logins 15 --callgrind 1 --recovery-logins 4 --flood-secs 5 --scale-users 1000 --scale-logins 4)
    SSHD_LOGINS=8
fi
ARGS+=("${EXTRA[@]}")

{
    echo "# twofold benchmark report"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- core pam_module 2>/dev/null || echo ' (core/pam_module with uncommitted changes)')"
    echo "- machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "- load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- peers: $(dpkg-query -W -f='${Package} ${Version}, ' libpam-google-authenticator libpam-oath libpam0g pamtester valgrind | sed 's/, $//')"
    echo "- module: $MODULE ($(stat -c %s "$MODULE") bytes), $(rustc --version)"
    echo "- command: bench/run.sh $*"
    echo
    echo '```'
    lscpu | head -n 15
    echo '```'
} >"$REPORT"

"$DRIVER" "${ARGS[@]}" | tee -a "$REPORT"

{
    echo
    echo "## 6. sshd end to end (Docker suite image)"
    echo
} | tee -a "$REPORT"
if [ "$DOCKER" = 1 ]; then
    bench/sshd.sh --module "$MODULE" --logins "$SSHD_LOGINS" | tee -a "$REPORT" || true
else
    echo "Scenario 6 was NOT run (--no-docker)." | tee -a "$REPORT"
fi
echo
echo "- load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$REPORT"
echo "bench: report in $REPORT" >&2
