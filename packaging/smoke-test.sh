#!/usr/bin/env bash
# Installs the .deb in a throwaway Debian 12 container and checks what the packaging
# promises: nothing is enabled at installation, the pam-auth-update profile and the example
# PAM stacks behave as their comments say, local config edits survive a reinstall, and
# removal takes the module out of common-auth and warns about hand-written PAM lines.
#
#   packaging/smoke-test.sh [DEB] [IMAGE]
#
# DEB defaults to target/debian/twofold_*_amd64.deb (scripts/build-packages.sh deb),
# IMAGE to twofold-base:bookworm (scripts/e2e-image.sh base). Runs with --network none.
# sudo stands in for any PAM service: `echo PASSWORD | sudo -S` drives the auth stack
# without a terminal.
set -euo pipefail
cd "$(dirname "$0")/.."

deb=${1:-$(find target/debian -maxdepth 1 -name 'twofold_*_amd64.deb' 2>/dev/null | sort -V | tail -n 1)}
image=${2:-twofold-base:bookworm}
[ -f "$deb" ] || { echo "no .deb; run scripts/build-packages.sh deb" >&2; exit 1; }
deb=$(realpath "$deb")
docker image inspect "$image" >/dev/null 2>&1 ||
    { echo "no image $image; run scripts/e2e-image.sh base" >&2; exit 1; }

# The script goes in as an argument, not on stdin, so nothing in it can eat its own lines.
script=$(cat <<'EOF'
set -u
export DEBIAN_FRONTEND=noninteractive
failures=0
check() { # description, command...
    local what=$1
    shift
    if "$@"; then echo "ok    $what"; else echo "FAIL  $what"; failures=$((failures + 1)); fi
}
# sudo_as_alice: does `sudo true` succeed for alice with her password on stdin?
sudo_as_alice() { su alice -c 'echo pw | sudo -S -k -p "" true' >/dev/null 2>&1; }
fails() { ! "$@"; }
quiet() { "$@" >/dev/null 2>&1 </dev/null; }
auth_lines() { grep -v '^#' /etc/pam.d/common-auth | grep -c pam_twofold; }

echo "127.0.1.1 smoke" >>/etc/hosts
cp /etc/pam.d/common-auth /tmp/common-auth.before
check "dpkg -i" quiet dpkg -i /tmp/twofold.deb
check "module in libpam's directory" test -f /lib/x86_64-linux-gnu/security/pam_twofold.so
check "dpkg computed md5sums" test -s /var/lib/dpkg/info/twofold.md5sums
check "config is a conffile" grep -qx /etc/twofold/twofold.toml /var/lib/dpkg/info/twofold.conffiles
check "installing enables nothing" cmp -s /etc/pam.d/common-auth /tmp/common-auth.before
check "twofold CLI is installed" test -x /usr/bin/twofold

useradd -m alice && echo alice:pw | chpasswd && groupadd breakglass
echo 'alice ALL=(ALL) ALL' >/etc/sudoers.d/alice
check "stock sudo: password alone" sudo_as_alice

quiet pam-auth-update --enable twofold
check "profile adds one required line after pam_permit" \
    sh -c "grep -v '^#' /etc/pam.d/common-auth | grep . | tail -n 2 | head -n 1 | grep -q 'required.*pam_permit' &&
           grep -v '^#' /etc/pam.d/common-auth | grep -q '^auth[[:space:]]*required[[:space:]]*pam_twofold.so'"
check "profile: unenrolled user is refused" fails sudo_as_alice
echo 'exempt_groups = ["breakglass"]' >/etc/twofold/twofold.toml
usermod -aG breakglass alice
check "profile: exempt user passes (PAM_IGNORE, pam_permit's success stands)" sudo_as_alice
echo 'windw = 1' >/etc/twofold/twofold.toml
check "profile: bad config fails closed" fails sudo_as_alice
quiet pam-auth-update --disable twofold
check "disabling restores common-auth" test "$(auth_lines)" = 0
echo 'exempt_groups = ["breakglass"]' >/etc/twofold/twofold.toml

examples=/usr/share/doc/twofold/examples
cp /etc/pam.d/sudo /tmp/sudo.stock
cp $examples/pam.d-sudo /etc/pam.d/sudo
check "pam.d-sudo: exempt user passes" sudo_as_alice
gpasswd -d alice breakglass >/dev/null
check "pam.d-sudo: unenrolled user is refused" fails sudo_as_alice

# The auth part of pam.d-sshd (public key first, so no password module), run through sudo.
{ grep '^auth' $examples/pam.d-sshd; echo '@include common-account'; } >/etc/pam.d/sudo
check "pam.d-sshd auth stack: unenrolled user is refused" fails sudo_as_alice
usermod -aG breakglass alice
check "pam.d-sshd auth stack: exempt user passes" sudo_as_alice
{ grep '^auth' $examples/pam.d-sshd | grep -v pam_permit; echo '@include common-account'; } >/etc/pam.d/sudo
check "...and would not without its pam_permit line" fails sudo_as_alice
cp /tmp/sudo.stock /etc/pam.d/sudo

mkdir -p /run/sshd && ssh-keygen -A -q
cp $examples/sshd_config /etc/ssh/sshd_config.d/twofold.conf
check "sshd_config example: sshd -t accepts it" sshd -t
check "sshd_config example: the drop-in wins over sshd_config" \
    sh -c "sshd -T 2>/dev/null | grep -qx 'authenticationmethods publickey,keyboard-interactive' &&
           sshd -T 2>/dev/null | grep -qx 'kbdinteractiveauthentication yes'"
rm /etc/ssh/sshd_config.d/twofold.conf

echo '# edited' >>/etc/twofold/twofold.toml
quiet dpkg -i --force-confold /tmp/twofold.deb
check "reinstall keeps the edited config" grep -q '^# edited' /etc/twofold/twofold.toml

quiet pam-auth-update --enable twofold
echo 'auth required pam_twofold.so' >>/etc/pam.d/sudo
dpkg -r twofold >/dev/null 2>/tmp/remove.err </dev/null
check "removal takes the profile out of common-auth" test "$(auth_lines)" = 0
check "removal warns about hand-written lines" grep -q '/etc/pam.d/sudo' /tmp/remove.err
check "removal deletes the module" test ! -e /lib/x86_64-linux-gnu/security/pam_twofold.so

echo "$failures failure(s)"
[ "$failures" = 0 ]
EOF
)
docker run --rm --network none --hostname smoke \
    -v "$deb:/tmp/twofold.deb:ro" "$image" bash -c "$script"
