#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, if missing. CI starts on a fresh
# machine: nothing installed by hand may be assumed.
set -euo pipefail
need=(libpam0g-dev openssl pamtester libpam-wrapper libnss-wrapper oathtool debootstrap lintian rpm
      zbar-tools tmux util-linux valgrind strace)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
