#!/usr/bin/env bash
# Builds the Docker images the end-to-end suite (tests/, crate twofold-e2e) runs in.
#
#   scripts/e2e-image.sh          base image if missing, release build, .deb, test image
#   scripts/e2e-image.sh base     only the base image
#   TWOFOLD_E2E_SKIP_BUILD=1 scripts/e2e-image.sh    reuse the binaries/.deb already built
#
# The base image comes from debootstrap and `docker import`: no registry is needed.
# The test image installs the project's own .deb on top of it and is tagged with a hash
# of that .deb (and of this script), so it is cached and rebuilt only when the package
# changes. The tag the tests use is printed and also given as twofold-e2e:latest.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BASE_IMAGE=twofold-base:bookworm
TEST_REPO=twofold-e2e
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

log() { printf 'e2e-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v docker >/dev/null || die "docker is not installed; the end-to-end suite needs a Docker engine"
docker info >/dev/null 2>&1 || die "cannot talk to the Docker engine (is dockerd running, may this user use it?)"

debian_mirror() {
    local uri=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
            /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' \
            /etc/apt/sources.list)
    fi
    [ -n "$uri" ] || uri=http://deb.debian.org/debian
    printf '%s\n' "$uri"
}

build_base() {
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        log "$BASE_IMAGE exists"
        return
    fi
    if ! command -v debootstrap >/dev/null; then
        log "installing debootstrap"
        $SUDO apt-get update -qq
        $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    local mirror rootfs started
    mirror=$(debian_mirror)
    rootfs=$(mktemp -d /tmp/twofold-rootfs.XXXXXX)
    # shellcheck disable=SC2064
    trap "$SUDO rm -rf '$rootfs'" EXIT
    started=$SECONDS
    log "debootstrap bookworm from $mirror into $rootfs"
    $SUDO debootstrap --variant=minbase \
        --include=openssh-server,openssh-client,sudo,rsyslog,oathtool,libpam-modules,libpam-runtime,procps,python3 \
        bookworm "$rootfs" "$mirror" >/tmp/twofold-debootstrap.log 2>&1 \
        || { tail -n 30 /tmp/twofold-debootstrap.log >&2; die "debootstrap failed (log: /tmp/twofold-debootstrap.log)"; }
    # Nothing in the image needs the package lists or the downloaded .debs.
    $SUDO rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    $SUDO tar -C "$rootfs" -c . | docker import - "$BASE_IMAGE" >/dev/null
    $SUDO rm -rf "$rootfs"
    trap - EXIT
    log "built $BASE_IMAGE in $((SECONDS - started)) s"
}

build_packages() {
    if [ "${TWOFOLD_E2E_SKIP_BUILD:-0}" = 1 ]; then
        log "TWOFOLD_E2E_SKIP_BUILD=1: using the artefacts already in $TARGET_DIR"
        return
    fi
    log "cargo build --release --workspace"
    cargo build --release --workspace --quiet
    if has_deb_metadata; then
        if ! command -v cargo-deb >/dev/null; then
            log "installing cargo-deb"
            cargo install --locked cargo-deb
        fi
        log "cargo deb -p twofold --no-build"
        rm -f "$TARGET_DIR"/debian/twofold_*_amd64.deb
        cargo deb -p twofold --no-build --quiet >/dev/null
    fi
}

has_deb_metadata() {
    grep -q '^\[package\.metadata\.deb\]' enroll_cli/Cargo.toml 2>/dev/null
}

# Fills the build context $1 and prints which way the project is installed.
stage_context() {
    local ctx=$1 deb
    deb=$(find "$TARGET_DIR/debian" -maxdepth 1 -name 'twofold_*_amd64.deb' 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$deb" ]; then
        cp "$deb" "$ctx/twofold.deb"
        echo deb
    elif has_deb_metadata; then
        die "enroll_cli/Cargo.toml has [package.metadata.deb] but no $TARGET_DIR/debian/twofold_*_amd64.deb was built"
    else
        # Until the packaging lands: the bare binaries, where the package will put them.
        log "warning: no .deb packaging yet; installing the bare binaries instead"
        [ -f "$TARGET_DIR/release/libpam_twofold.so" ] || die "missing $TARGET_DIR/release/libpam_twofold.so"
        [ -f "$TARGET_DIR/release/twofold" ] || die "missing $TARGET_DIR/release/twofold"
        cp "$TARGET_DIR/release/libpam_twofold.so" "$ctx/pam_twofold.so"
        cp "$TARGET_DIR/release/twofold" "$ctx/twofold"
        echo bare
    fi
}

write_dockerfile() {
    local ctx=$1 mode=$2 install
    if [ "$mode" = deb ]; then
        install='COPY twofold.deb /tmp/twofold.deb
RUN dpkg -i /tmp/twofold.deb && rm /tmp/twofold.deb'
    else
        install='COPY pam_twofold.so /lib/x86_64-linux-gnu/security/pam_twofold.so
COPY twofold /usr/bin/twofold'
    fi
    cp tests/image/askpass tests/image/twofold-e2e-ssh.conf tests/image/start-services "$ctx/"
    cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
$install
# rsyslog in a container: no kernel log; authpriv goes to /var/log/auth.log (Debian default).
RUN sed -i 's/^module(load="imklog")/#&/' /etc/rsyslog.conf \\
 && grep -q '^auth,authpriv\.\*' /etc/rsyslog.conf \\
 && touch /var/log/auth.log \\
 && ssh-keygen -A -q \\
 && mkdir -p /run/sshd /root/.ssh \\
 && ssh-keygen -q -t ed25519 -N '' -C twofold-e2e -f /root/.ssh/id_ed25519 \\
 && rm -f /etc/sudoers.d/README /etc/motd /etc/update-motd.d/*
COPY askpass start-services /usr/local/bin/
COPY twofold-e2e-ssh.conf /etc/ssh/ssh_config.d/
RUN chmod 0755 /usr/local/bin/askpass /usr/local/bin/start-services \\
 && chmod 0644 /etc/ssh/ssh_config.d/twofold-e2e-ssh.conf \\
 && /usr/bin/twofold --help >/dev/null 2>&1 || true
EOF
}

build_test_image() {
    local ctx mode hash tag
    ctx=$(mktemp -d /tmp/twofold-e2e-ctx.XXXXXX)
    mode=$(stage_context "$ctx")
    write_dockerfile "$ctx" "$mode"
    hash=$(cd "$ctx" && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
    tag="$TEST_REPO:$hash"
    if docker image inspect "$tag" >/dev/null 2>&1; then
        log "$tag is up to date ($mode)"
    else
        log "building $tag ($mode)"
        docker build -q -t "$tag" --label "twofold.install=$mode" "$ctx" >/dev/null
    fi
    docker tag "$tag" "$TEST_REPO:latest"
    rm -rf "$ctx"
    echo "$tag"
}

case "${1:-all}" in
base) build_base ;;
all)
    build_base
    build_packages
    build_test_image
    ;;
image)
    build_test_image
    ;;
*) die "usage: $0 [all|base|image]" ;;
esac
