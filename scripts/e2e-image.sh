#!/usr/bin/env bash
# Builds the Docker images the end-to-end suite (tests/, crate twofold-e2e) runs in.
#
#   scripts/e2e-image.sh          base and slapd images if missing, release build and .deb
#                                 (scripts/build-packages.sh deb), then the test image
#   scripts/e2e-image.sh base     only the base image
#   scripts/e2e-image.sh slapd    only the directory server image (twofold-slapd:bookworm)
#   TWOFOLD_E2E_SKIP_BUILD=1 scripts/e2e-image.sh    package the release binaries already built
#
# The base image comes from debootstrap and `docker import`: no registry is needed.
# The test image installs the project's own .deb on top of it and is tagged with a hash
# of its build context (the .deb, the Dockerfile, the helper scripts in tests/image), so it
# is cached and rebuilt only when the package changes. The tests run twofold-e2e:latest,
# which this script points at the image it built or found (its tag is printed on stdout).
set -euo pipefail

cd "$(dirname "$0")/.."
BASE_IMAGE=twofold-base:bookworm
SLAPD_IMAGE=twofold-slapd:bookworm
TEST_REPO=twofold-e2e
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

# The directory server of the directory tests: Debian's slapd and ldap-utils installed in a
# chroot of a copy of the base image's files (the debootstrap tree), then `docker import`.
# Built once and kept, like the base image. slapd is preseeded to serve dc=example,dc=org
# with cn=admin,dc=example,dc=org (password "admin"); the tests load twofold's schema and
# ACL example from packaging/ldap themselves, so the shipped files are what is tested.
build_slapd() {
    if docker image inspect "$SLAPD_IMAGE" >/dev/null 2>&1; then
        log "$SLAPD_IMAGE exists"
        return
    fi
    local rootfs cid started
    started=$SECONDS
    rootfs=$(mktemp -d /tmp/twofold-slapd-rootfs.XXXXXX)
    # shellcheck disable=SC2064
    trap "$SUDO umount '$rootfs/proc' 2>/dev/null; $SUDO rm -rf '$rootfs'" EXIT
    cid=$(docker create "$BASE_IMAGE" true)
    docker export "$cid" | $SUDO tar -C "$rootfs" -x
    docker rm "$cid" >/dev/null
    $SUDO cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
    $SUDO mount -t proc proc "$rootfs/proc"
    log "installing slapd and ldap-utils into a copy of $BASE_IMAGE"
    printf '%s\n' \
        'slapd slapd/domain string example.org' \
        'slapd shared/organization string Example' \
        'slapd slapd/password1 password admin' \
        'slapd slapd/password2 password admin' \
        'slapd slapd/no_configuration boolean false' |
        $SUDO chroot "$rootfs" debconf-set-selections
    # policy-rc.d: the package's scripts must not start a slapd in the chroot (on the host).
    $SUDO chroot "$rootfs" sh -ec 'printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd ldap-utils
        apt-get clean; rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d' >/tmp/twofold-slapd.log 2>&1 ||
        { tail -n 30 /tmp/twofold-slapd.log >&2; die "installing slapd failed (log: /tmp/twofold-slapd.log)"; }
    $SUDO umount "$rootfs/proc"
    $SUDO truncate -s 0 "$rootfs/etc/resolv.conf"
    $SUDO tar -C "$rootfs" -c . | docker import - "$SLAPD_IMAGE" >/dev/null
    $SUDO rm -rf "$rootfs"
    trap - EXIT
    log "built $SLAPD_IMAGE in $((SECONDS - started)) s"
}

# Builds the release binaries and the packages with the packaging's own script (both, as
# scripts/test.sh does, so a second run finds them up to date); prints the .deb's path.
build_deb() {
    local args=() deb
    [ "${TWOFOLD_E2E_SKIP_BUILD:-0}" = 1 ] && args+=(--no-build)
    [ -x scripts/build-packages.sh ] || die "scripts/build-packages.sh is missing: it builds the .deb the image installs"
    deb=$(scripts/build-packages.sh "${args[@]}" | grep '\.deb$' | tail -n 1)
    [ -f "$deb" ] || die "scripts/build-packages.sh did not produce a .deb (got '$deb')"
    printf '%s\n' "$deb"
}

# The image: the package, rsyslog that works in a container, ssh host keys, and a client
# key pair for root (the harness puts its public half in every user's authorized_keys).
write_dockerfile() {
    cat >"$1/Dockerfile" <<EOF
FROM $BASE_IMAGE
COPY twofold.deb /tmp/twofold.deb
RUN dpkg -i /tmp/twofold.deb && rm /tmp/twofold.deb
# No kernel log in a container; authpriv goes to /var/log/auth.log (Debian's default rule).
RUN sed -i 's/^module(load="imklog")/#&/' /etc/rsyslog.conf \\
 && grep -q '^auth,authpriv\.\*' /etc/rsyslog.conf \\
 && touch /var/log/auth.log \\
 && ssh-keygen -A -q \\
 && mkdir -p /run/sshd /root/.ssh \\
 && ssh-keygen -q -t ed25519 -N '' -C twofold-e2e -f /root/.ssh/id_ed25519 \\
 && rm -f /etc/sudoers.d/README /etc/motd
COPY askpass start-services /usr/local/bin/
COPY twofold-e2e-ssh.conf /etc/ssh/ssh_config.d/
RUN chmod 0755 /usr/local/bin/askpass /usr/local/bin/start-services \\
 && chmod 0644 /etc/ssh/ssh_config.d/twofold-e2e-ssh.conf
EOF
}

# Builds the test image from the .deb $1 unless an image of the same inputs exists.
build_test_image() {
    local deb=$1 ctx hash tag
    ctx=$(mktemp -d /tmp/twofold-e2e-ctx.XXXXXX)
    cp "$deb" "$ctx/twofold.deb"
    cp tests/image/askpass tests/image/start-services tests/image/twofold-e2e-ssh.conf "$ctx/"
    write_dockerfile "$ctx"
    hash=$(cd "$ctx" && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
    tag="$TEST_REPO:$hash"
    if docker image inspect "$tag" >/dev/null 2>&1; then
        log "$tag is up to date"
    else
        log "building $tag from $(basename "$deb")"
        docker build -t "$tag" --label "twofold.deb=$(basename "$deb")" "$ctx" >"$ctx/build.log" 2>&1 ||
            { cat "$ctx/build.log" >&2; die "docker build failed"; }
    fi
    docker tag "$tag" "$TEST_REPO:latest"
    # Images of earlier packages: a few MB each, and nothing runs them but a test still
    # running (docker then refuses to remove it, which is fine).
    # (grep exits 1 when there is none, which under pipefail must not fail the script.)
    docker images "$TEST_REPO" --format '{{.Tag}}' | { grep -vx -e latest -e "$hash" || true; } |
        while read -r old; do docker rmi "$TEST_REPO:$old" >/dev/null 2>&1 || true; done
    rm -rf "$ctx"
    printf '%s\n' "$tag"
}

case "${1:-all}" in
base) build_base ;;
slapd)
    build_base
    build_slapd
    ;;
all)
    build_base
    build_slapd
    deb=$(build_deb)
    build_test_image "$deb"
    ;;
*) die "usage: $0 [all|base|slapd]" ;;
esac
