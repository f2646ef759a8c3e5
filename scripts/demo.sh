#!/usr/bin/env bash
# Try twofold by hand: sshd with a second factor, in a container, on 127.0.0.1:2222 only.
#
#   scripts/demo.sh               build the packages and image, start sshd, create the user
#                                 `demo`, enroll it (scan the QR code with an authenticator
#                                 app), print the ssh command, then follow the auth log until
#                                 Ctrl-C, which stops and removes the container
#   scripts/demo.sh start --detach    the same, but return once it runs (enrolls without asking
#                                 for a code to confirm); stop it later with:
#   scripts/demo.sh stop
#
# TWOFOLD_DEMO_PORT changes the port (default 2222). The login is "public key, then a code",
# with the packaged example files /usr/share/doc/twofold/examples/{sshd_config,pam.d-sshd};
# the key pair is made for the demo and kept in $TWOFOLD_DEMO_DIR (default
# ${XDG_RUNTIME_DIR:-/tmp}/twofold-demo).
set -euo pipefail

cd "$(dirname "$0")/.."
NAME=twofold-demo
PORT=${TWOFOLD_DEMO_PORT:-2222}
DIR=${TWOFOLD_DEMO_DIR:-${XDG_RUNTIME_DIR:-/tmp}/twofold-demo}
KEY=$DIR/id_ed25519

log() { printf 'demo: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }

# Quiet when there is nothing to stop: `scripts/demo.sh stop` in another terminal and the
# foreground script's exit may both get here.
stop() {
    if docker container inspect "$NAME" >/dev/null 2>&1 &&
        docker rm --force "$NAME" >/dev/null 2>&1; then
        log "stopped and removed the container $NAME"
    fi
}

detach=0
case "${1:-start}" in
stop) stop; exit 0 ;;
start) [ "${2:-}" = --detach ] && detach=1 ;;
-h | --help) usage; exit 0 ;;
*) usage >&2; exit 2 ;;
esac

command -v docker >/dev/null || die "docker is not installed"
image=$(scripts/e2e-image.sh | tail -n 1)
stop # a container left from an earlier run

# The default bridge network, because a published port needs one; published on the
# loopback address only, so nothing outside this machine can reach the demo's sshd.
log "starting $image as $NAME on 127.0.0.1:$PORT"
docker run --detach --name "$NAME" --hostname "$NAME" --label twofold-demo \
    --publish "127.0.0.1:$PORT:22" "$image" sleep infinity >/dev/null
trap 'stop' EXIT

docker exec -i "$NAME" bash -s >/dev/null <<'EOF'
set -euo pipefail
useradd --create-home --shell /bin/bash demo
install -d -m 700 -o demo -g demo /home/demo/.ssh
ssh-keygen -q -t ed25519 -N '' -C demo@twofold-demo -f /root/demo_key
install -m 600 -o demo -g demo /root/demo_key.pub /home/demo/.ssh/authorized_keys
cp /usr/share/doc/twofold/examples/sshd_config /etc/ssh/sshd_config.d/twofold.conf
cp /usr/share/doc/twofold/examples/pam.d-sshd /etc/pam.d/sshd
start-services sshd
EOF
mkdir -p "$DIR"
chmod 700 "$DIR"
rm -f "$KEY"
docker cp "$NAME:/root/demo_key" "$KEY" >/dev/null
chmod 600 "$KEY"

if [ "$detach" = 0 ] && [ -t 0 ] && [ -t 1 ]; then
    log "enrolling user demo: scan the QR code, then type the code your app shows"
    until docker exec -it -u demo -w /home/demo "$NAME" twofold enroll --device phone; do
        log "enrollment did not complete; trying again (Ctrl-C stops the demo)"
    done
else
    log "enrolling user demo without confirmation (no terminal, or --detach)"
    docker exec -u demo -w /home/demo "$NAME" twofold enroll --device phone --no-confirm
fi

cat <<EOF

  twofold demo is running. Log in with the demo key, then the code from your app:

    ssh -i $KEY -p $PORT -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no demo@127.0.0.1

EOF

if [ "$detach" = 1 ]; then
    trap - EXIT
    echo "  Stop it with: scripts/demo.sh stop"
    exit 0
fi

echo "  Following pam_twofold's decisions in /var/log/auth.log. Ctrl-C stops the demo."
echo
trap 'echo; stop; exit 0' INT TERM
# Ends by itself when `scripts/demo.sh stop` removes the container from another terminal.
docker exec "$NAME" tail -n 0 -F /var/log/auth.log 2>/dev/null | grep --line-buffered 'pam_twofold\|Accepted' || true
