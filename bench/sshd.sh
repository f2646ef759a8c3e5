#!/usr/bin/env bash
# Scenario 6 of the benchmark: sshd end to end, inside the Docker suite's image
# (twofold-e2e:latest, built by scripts/e2e-image.sh). One sshd on 127.0.0.1 listens on two
# ports with the packaged PAM stack (packaging/examples/debian/pam.d-sshd):
#   port 22    AuthenticationMethods publickey                      (public key alone)
#   port 2222  AuthenticationMethods publickey,keyboard-interactive (public key + twofold)
# and a second sshd, started as `sshd-ga` so that its PAM service is /etc/pam.d/sshd-ga (the
# same stack with pam_google_authenticator.so in pam_twofold.so's place), listens on
#   port 2223  AuthenticationMethods publickey,keyboard-interactive (public key + google-authenticator)
# google-authenticator-libpam is Debian's package, fetched on the host with `apt-get download`
# and installed into the container (which has no network).
# The client is OpenSSH's ssh in the same container, answering the code prompt through
# SSH_ASKPASS with oathtool (an independent TOTP implementation). Every login with a code is
# a different user's first login (replay protection is on in both modules); logins rotate
# between the three ports, and the time is taken around `ssh ... true` inside the container,
# so docker's own overhead is not in it.
#
#   bench/sshd.sh [--module PATH] [--logins N]
# --module: a pam_twofold.so to bind-mount over the packaged one (default: the packaged one).
# Prints a Markdown section on stdout; exits 3 if Docker or the image is missing.
set -euo pipefail

MODULE=""
N=40
IMAGE=${TWOFOLD_E2E_IMAGE:-twofold-e2e:latest}
while [ $# -gt 0 ]; do
    case "$1" in
    --module) MODULE=$(realpath "$2"); shift 2 ;;
    --logins) N=$2; shift 2 ;;
    *) echo "usage: $0 [--module PATH] [--logins N]" >&2; exit 2 ;;
    esac
done

say() { printf '%s\n' "$*"; }
if ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1; then
    say "Scenario 6 was NOT run: no usable Docker engine on this machine."
    exit 3
fi
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "Scenario 6 was NOT run: the image $IMAGE does not exist (build it with scripts/e2e-image.sh)."
    exit 3
fi

NAME=twofold-bench-sshd-$$
GA_DEBS=$(mktemp -d)
trap 'rm -rf "$GA_DEBS"' EXIT
download_ga() { (cd "$GA_DEBS" && apt-get download -q libpam-google-authenticator libqrencode4 >/dev/null 2>&1); }
if ! download_ga; then
    apt-get update -qq >/dev/null 2>&1 || true
    download_ga || { say "Scenario 6 was NOT run: apt-get download libpam-google-authenticator failed."; exit 3; }
fi
mounts=()
if [ -n "$MODULE" ]; then
    mounts=(-v "$MODULE:/lib/x86_64-linux-gnu/security/pam_twofold.so:ro")
fi
docker run --detach --rm --network none --hostname twofold-bench --name "$NAME" \
    "${mounts[@]}" "$IMAGE" sleep 1800 >/dev/null
trap 'docker rm --force "$NAME" >/dev/null 2>&1 || true; rm -rf "$GA_DEBS"' EXIT
docker exec "$NAME" mkdir /tmp/ga-debs
for deb in "$GA_DEBS"/*.deb; do docker cp "$deb" "$NAME:/tmp/ga-debs/" >/dev/null; done

# Inside the container: configure, enroll, then time the logins. Prints "key US RC", "2fa US RC"
# and "ga US RC" lines (microseconds, exit status), then counts of the modules' success lines.
docker exec -i "$NAME" bash -s "$N" >"/tmp/$NAME.out" 2>"/tmp/$NAME.err" <<'INNER' || { cat "/tmp/$NAME.err" >&2; exit 1; }
set -euo pipefail
N=$1
cp /usr/share/doc/twofold/examples/pam.d-sshd /etc/pam.d/sshd
dpkg -i /tmp/ga-debs/*.deb >/dev/null
sed 's/^auth\( *\)required\( *\)pam_twofold\.so.*/auth\1required\2pam_google_authenticator.so/' \
    /etc/pam.d/sshd >/etc/pam.d/sshd-ga
grep -q '^auth.*pam_google_authenticator.so' /etc/pam.d/sshd-ga
ln -s /usr/sbin/sshd /usr/sbin/sshd-ga
cat >/etc/ssh/sshd_config_ga <<EOF
ListenAddress 127.0.0.1
Port 2223
PidFile /run/sshd-ga.pid
MaxStartups 100
PrintMotd no
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
AuthenticationMethods publickey,keyboard-interactive
EOF
cat >/etc/ssh/sshd_config.d/00-bench.conf <<EOF
ListenAddress 127.0.0.1
Port 22
Port 2222
MaxStartups 100
PrintMotd no
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
AuthenticationMethods publickey
EOF
# A Match block belongs at the end of the main file.
printf '\nMatch LocalPort 2222\n    AuthenticationMethods publickey,keyboard-interactive\n' >>/etc/ssh/sshd_config
cat >/usr/local/bin/bench-askpass <<'EOF'
#!/bin/sh
exec oathtool --totp -b "$TWOFOLD_BENCH_SECRET"
EOF
chmod 0755 /usr/local/bin/bench-askpass
mkdir -p /root/bench
for i in $(seq 1 $((N + 2))); do
    u=bench$i
    useradd --create-home --shell /bin/sh "$u"
    install -d -m 700 -o "$u" -g "$u" "/home/$u/.ssh" "/home/$u/.config" "/home/$u/.config/twofold"
    install -m 600 -o "$u" -g "$u" /root/.ssh/id_ed25519.pub "/home/$u/.ssh/authorized_keys"
    secret=$(head -c 20 /dev/urandom | base32 | tr -d '=')
    printf '%s\n' "$secret" >"/root/bench/$u"
    # The secret-file format of core/src/secret.rs, as `twofold enroll` writes it.
    printf 'version = 1\n\n[[device]]\nname = "phone"\nsecret = "%s"\nalgorithm = "SHA1"\ndigits = 6\nperiod = 30\ncreated = 0\nlast_step = 0\n' \
        "$secret" >"/home/$u/.config/twofold/secrets.toml"
    chown "$u:$u" "/home/$u/.config/twofold/secrets.toml"
    chmod 600 "/home/$u/.config/twofold/secrets.toml"
    # google-authenticator's file as `google-authenticator -t -d -f -r 3 -R 30 -w 3` writes
    # it (TOTP, DISALLOW_REUSE, rate limit, a window of 3 codes like twofold's), for user gaN.
    g=ga$i
    useradd --create-home --shell /bin/sh "$g"
    install -d -m 700 -o "$g" -g "$g" "/home/$g/.ssh"
    install -m 600 -o "$g" -g "$g" /root/.ssh/id_ed25519.pub "/home/$g/.ssh/authorized_keys"
    secret=$(head -c 20 /dev/urandom | base32 | tr -d '=')
    printf '%s\n' "$secret" >"/root/bench/$g"
    printf '%s\n" RATE_LIMIT 3 30\n" WINDOW_SIZE 3\n" DISALLOW_REUSE\n" TOTP_AUTH\n28374651\n' \
        "$secret" >"/home/$g/.google_authenticator"
    chown "$g:$g" "/home/$g/.google_authenticator"
    chmod 400 "/home/$g/.google_authenticator"
done
start-services sshd >/dev/null
/usr/sbin/sshd-ga -f /etc/ssh/sshd_config_ga
listening() { awk -v p=":$1$" '$2 ~ p && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp; }
for _ in $(seq 250); do
    listening 08AE && listening 08AF && break
    sleep 0.02
done
login() { # PORT USER
    local s e rc=0
    s=$(date +%s%N)
    TWOFOLD_BENCH_SECRET=$(cat "/root/bench/$2") SSH_ASKPASS=/usr/local/bin/bench-askpass \
        SSH_ASKPASS_REQUIRE=force DISPLAY=none \
        setsid -w ssh -p "$1" -o NumberOfPasswordPrompts=1 "$2@127.0.0.1" true </dev/null >/dev/null 2>&1 || rc=$?
    e=$(date +%s%N)
    echo "$(( (e - s) / 1000 )) $rc"
}
# Two warm-up rounds (first connections fill caches), not counted.
for i in 1 2; do login 22 "bench$i" >/dev/null; login 2222 "bench$i" >/dev/null; login 2223 "ga$i" >/dev/null; done
for i in $(seq 3 $((N + 2))); do
    echo "key $(login 22 "bench$i")"
    echo "2fa $(login 2222 "bench$i")"
    echo "ga $(login 2223 "ga$i")"
done
sleep 0.5
echo "twofold-success-lines $(grep -c 'pam_twofold.*method=totp result=success' /var/log/auth.log || true)"
echo "ga-success-lines $(grep -c 'Accepted google_authenticator for ga' /var/log/auth.log || true)"
INNER

out=/tmp/$NAME.out
stats() { # KIND -> "median p90 max fails"
    awk -v k="$1" '$1 == k { print $2 / 1000 }' "$out" | sort -n | awk '
        { v[NR] = $1 } END {
            if (NR == 0) { print "- - - -"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            p = v[int((NR - 1) * 0.9 + 1.5)]
            printf "%.1f %.1f %.1f\n", m, p, v[NR] }'
}
fails() { awk -v k="$1" '$1 == k && $3 != 0 { n++ } END { print n + 0 }' "$out"; }
read -r km kp kx <<<"$(stats key)"
read -r tm tp tx <<<"$(stats 2fa)"
read -r gm gp gx <<<"$(stats ga)"
ok_lines=$(awk '$1 == "twofold-success-lines" { print $2 }' "$out")
ga_lines=$(awk '$1 == "ga-success-lines" { print $2 }' "$out")
say "| sshd login (ssh ... true, inside the container) | logins | median (ms) | p90 (ms) | worst (ms) | failed |"
say "|---|---:|---:|---:|---:|---:|"
say "| public key alone | $N | $km | $kp | $kx | $(fails key) |"
say "| public key + twofold (keyboard-interactive, TOTP) | $N | $tm | $tp | $tx | $(fails 2fa) |"
say "| public key + google-authenticator (keyboard-interactive, TOTP) | $N | $gm | $gp | $gx | $(fails ga) |"
say ""
over() { awk -v a="$1" -v b="$km" 'BEGIN { printf "%.1f ms, ratio %.2f", a - b, a / b }'; }
say "Difference of the medians to public key alone (the second factor's cost end to end): \
twofold **$(over "$tm")**, google-authenticator **$(over "$gm")**. pam_twofold logged $ok_lines \
and google-authenticator $ga_lines successful logins (2 warm-up + $N measured each). Image: $IMAGE ($(docker image inspect --format '{{.Id}}' "$IMAGE" | cut -c1-19)); \
module: ${MODULE:-the packaged one}."
rm -f "$out" "/tmp/$NAME.err"
