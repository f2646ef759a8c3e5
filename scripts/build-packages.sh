#!/usr/bin/env bash
# Builds the twofold packages: target/debian/twofold_<version>-1_amd64.deb (cargo-deb) and
# target/generate-rpm/twofold-<version>-1.x86_64.rpm (cargo-generate-rpm).
#
#   scripts/build-packages.sh [all|deb|rpm] [--no-build] [--check]
#
#   --no-build  use the release binaries already in the target directory
#   --check     afterwards run lintian on the .deb and list the .rpm (needs lintian, rpm)
#
# Steps: install the two cargo tools if missing, `cargo build --release --workspace` (and
# the module once more for the .rpm, with the system's libgcc_s: see below),
# stage the generated files the package metadata in enroll_cli/Cargo.toml reads from
# target/twofold-pkg/ (gzipped man pages, shell completions, stripped binaries for the
# RPM), then build the packages and print their paths on stdout (progress goes to stderr).
#
# Idempotent: staged files are rewritten only when their content changes, and a package is
# rebuilt only when its inputs changed (hashes in <package>.inputs), so a rerun is quick.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

what=all build=1 check=0
for arg in "$@"; do
    case $arg in
    all | deb | rpm) what=$arg ;;
    --no-build) build=0 ;;
    --check) check=1 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [all|deb|rpm] [--no-build] [--check]" >&2; exit 2 ;;
    esac
done
want() { [ "$what" = all ] || [ "$what" = "$1" ]; }

log() { printf 'build-packages: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The staging area is a fixed path in the repository, because the package metadata names
# it with a relative path; Cargo's own target directory may be elsewhere (CARGO_TARGET_DIR).
stage=$root/target/twofold-pkg
mkdir -p "$stage"
# Colleagues and the e2e script may run this at the same time: one staging at a time.
exec 9>"$stage/.lock"
flock 9

target_dir=$(cargo metadata --no-deps --format-version 1 |
    grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)
[ -n "$target_dir" ] || die "could not ask cargo for its target directory"
release=$target_dir/release

# --- tools -------------------------------------------------------------------------------
ensure_tool() { # cargo subcommand, crate
    if ! cargo "$1" --version >/dev/null 2>&1; then
        log "installing $2 (cargo install --locked $2; takes a few minutes)"
        cargo install --locked "$2" >&2
    fi
}
want deb && ensure_tool deb cargo-deb
want rpm && ensure_tool generate-rpm cargo-generate-rpm

# --- binaries ----------------------------------------------------------------------------
# The .rpm's module is built apart, with the feature shared-libgcc (pam_module/build.rs):
# the unwinder linked into the .deb's module needs glibc 2.35, RHEL 9 has 2.34. Cargo puts
# both builds at the same path, so the RPM's is copied away and the default built again
# (each is a relink of the module alone, about 2 s; the output is reproducible).
rpm_module=$release/rpm/libpam_twofold.so
if [ "$build" = 1 ]; then
    if want rpm; then
        log "cargo build --release -p pam_twofold --features pam_twofold/shared-libgcc (the .rpm's module)"
        cargo build --release -p pam_twofold --features pam_twofold/shared-libgcc --quiet
        mkdir -p "$(dirname "$rpm_module")"
        cmp -s "$release/libpam_twofold.so" "$rpm_module" || cp "$release/libpam_twofold.so" "$rpm_module"
    fi
    log "cargo build --release --workspace"
    cargo build --release --workspace --quiet
fi
modules=("$release/libpam_twofold.so")
want rpm && modules+=("$rpm_module")
[ -f "$release/twofold" ] || die "$release/twofold is missing; run without --no-build"
# The TOML parser the module loads for files that are not plain (pam_module/src/toml_library.rs).
[ -f "$release/libtwofold_toml.so" ] || die "$release/libtwofold_toml.so is missing; run without --no-build"
# What ships is a release build: no test-only hook (debug_panic exists in debug builds
# only). The .deb's module has libgcc's unwinder linked in (pam_module/build.rs), so it does
# not load libgcc_s into sshd and sudo; the .rpm's binaries need no glibc newer than RHEL 9's.
for f in "${modules[@]}"; do
    [ -f "$f" ] || die "$f is missing; run without --no-build"
    if grep -q debug_panic "$f"; then
        die "$f contains the debug-only debug_panic hook"
    fi
done
if command -v readelf >/dev/null && readelf -d "$release/libpam_twofold.so" | grep -q 'NEEDED.*libgcc_s'; then
    die "$release/libpam_twofold.so needs libgcc_s (pam_module/build.rs did not link libgcc_eh)"
fi
# newest_glibc FILE: the newest GLIBC_x.y symbol version FILE needs.
newest_glibc() { objdump -T "$1" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1; }
rpm_glibc=2.34 # RHEL 9
if want rpm && command -v objdump >/dev/null; then
    for f in "$release/twofold" "$rpm_module" "$release/libtwofold_toml.so"; do
        v=$(newest_glibc "$f")
        if [ "$(printf '%s\n%s\n' "$v" "$rpm_glibc" | sort -V | tail -n 1)" != "$rpm_glibc" ]; then
            die "$f needs glibc $v; the .rpm is for glibc $rpm_glibc (RHEL 9)"
        fi
    done
fi

# --- staging helpers ---------------------------------------------------------------------
# put SRC DEST: copy SRC to DEST unless DEST already has that content.
put() {
    if ! cmp -s "$1" "$2"; then
        mkdir -p "$(dirname "$2")"
        cp "$1" "$2.tmp"
        chmod 0644 "$2.tmp"
        mv -f "$2.tmp" "$2"
        log "staged ${2#"$root"/}"
    fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- man pages: gzip -n, so the archive holds no timestamp (reproducible, lintian-clean) --
for page in packaging/man/*.[1-8]; do
    name=${page##*/} section=${page##*.}
    gzip -9nc "$page" >"$tmp/$name.gz"
    want deb && put "$tmp/$name.gz" "$stage/deb/usr/share/man/man$section/$name.gz"
    want rpm && put "$tmp/$name.gz" "$stage/rpm/usr/share/man/man$section/$name.gz"
done

# --- shell completions ----------------------------------------------------------------------
# Generated by the CLI itself. Until it has `twofold completions`, the packages are built
# without them (the metadata globs over the staged tree, so nothing breaks) and we say so.
completions_missing=()
completion() { # shell, deb path, rpm path
    local out=$tmp/completion.$1
    if "$release/twofold" completions "$1" >"$out" 2>/dev/null && [ -s "$out" ]; then
        want deb && put "$out" "$stage/deb/usr/share/$2"
        want rpm && put "$out" "$stage/rpm/usr/share/$3"
    else
        completions_missing+=("$1")
        rm -f "$stage/deb/usr/share/$2" "$stage/rpm/usr/share/$3"
    fi
    return 0 # `want rpm && put ...` is false when only the .deb is wanted: not an error
}
# Debian reads zsh completions from vendor-completions, Fedora from site-functions.
completion bash bash-completion/completions/twofold bash-completion/completions/twofold
completion zsh zsh/vendor-completions/_twofold zsh/site-functions/_twofold
completion fish fish/vendor_completions.d/twofold.fish fish/vendor_completions.d/twofold.fish
if [ ${#completions_missing[@]} -gt 0 ]; then
    log "warning: \`twofold completions ${completions_missing[*]}\` printed nothing or failed;" \
        "building the packages without those completions"
fi

# --- stripped binaries for the RPM (cargo-deb strips its own copies) -----------------------
# Compared by content, not mtime: Cargo hard-links earlier artefacts back into
# target/release with their old mtimes when a build switches back to them.
file_hash() { sha256sum "$1" | cut -d' ' -f1; }
if want rpm; then
    for pair in "$release/twofold:usr/bin/twofold" "$rpm_module:usr/lib64/security/pam_twofold.so" \
        "$release/libtwofold_toml.so:usr/lib64/twofold/libtwofold_toml.so"; do
        src=${pair%%:*} dest=$stage/rpm/${pair#*:}
        src_hash=$(file_hash "$src")
        if [ ! -f "$dest" ] || [ "$(cat "$dest.source" 2>/dev/null)" != "$src_hash" ]; then
            mkdir -p "$(dirname "$dest")"
            strip --strip-unneeded -o "$dest.tmp" "$src" || die "could not strip $src"
            chmod 0755 "$dest.tmp"
            mv -f "$dest.tmp" "$dest"
            echo "$src_hash" >"$dest.source"
            log "staged ${dest#"$root"/} (stripped)"
        fi
    done
fi

# --- packages ------------------------------------------------------------------------------
version=$(cargo pkgid -p twofold | sed 's/.*[#@]//')
# A package is up to date when PACKAGE.inputs records the hash of the current inputs (names
# and contents, so removed files count too) and of the package itself (so a package that
# someone else wrote to the same path, e.g. a plain `cargo deb`, is rebuilt).
inputs_hash() {
    find "$@" -type f ! -name '.lock' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}
up_to_date() { # package, inputs...
    local pkg=$1
    shift
    [ -f "$pkg" ] && [ -f "$pkg.inputs" ] &&
        [ "$(cat "$pkg.inputs")" = "$(inputs_hash "$@") $(file_hash "$pkg")" ]
}
record_inputs() { # package, inputs...
    local pkg=$1
    shift
    echo "$(inputs_hash "$@") $(file_hash "$pkg")" >"$pkg.inputs"
}
inputs=(enroll_cli/Cargo.toml packaging "$release/twofold" "$release/libpam_twofold.so"
    "$release/libtwofold_toml.so")

outputs=()
if want deb; then
    deb=$target_dir/debian/twofold_${version}-1_amd64.deb
    if up_to_date "$deb" "${inputs[@]}" "$stage/deb"; then
        log "up to date: ${deb#"$root"/}"
    else
        log "cargo deb -p twofold --no-build"
        cargo deb -p twofold --no-build --quiet --output "$deb" >/dev/null
        record_inputs "$deb" "${inputs[@]}" "$stage/deb"
    fi
    outputs+=("$deb")
fi
if want rpm; then
    rpm=$target_dir/generate-rpm/twofold-${version}-1.x86_64.rpm
    if up_to_date "$rpm" "${inputs[@]}" "$stage/rpm"; then
        log "up to date: ${rpm#"$root"/}"
    else
        log "cargo generate-rpm -p enroll_cli"
        mkdir -p "$(dirname "$rpm")"
        cargo generate-rpm -p enroll_cli --output "$rpm"
        # cargo-generate-rpm takes a script path that does not exist as the script's text:
        # make sure the real scriptlet went in.
        if command -v rpm >/dev/null && ! rpm -qp --scripts "$rpm" 2>/dev/null | grep -q pam_twofold; then
            rm -f "$rpm"
            die "the RPM's preuninstall scriptlet is not packaging/rpm/preun.sh"
        fi
        record_inputs "$rpm" "${inputs[@]}" "$stage/rpm"
    fi
    outputs+=("$rpm")
fi

if [ "$check" = 1 ]; then
    if [ -n "${deb:-}" ]; then
        command -v lintian >/dev/null || die "lintian is not installed (apt-get install lintian)"
        log "lintian ${deb#"$root"/}"
        lintian --info --display-info --pedantic "$deb" >&2 || log "lintian reported errors"
    fi
    if [ -n "${rpm:-}" ]; then
        command -v rpm >/dev/null || die "rpm is not installed (apt-get install rpm)"
        log "rpm -qlvp ${rpm#"$root"/}"
        rpm -qlvp "$rpm" >&2
        log "requires:"
        rpm -qp --requires "$rpm" >&2
    fi
fi

printf '%s\n' "${outputs[@]}"
