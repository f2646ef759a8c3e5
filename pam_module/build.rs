//! Links libgcc's unwinder (`libgcc_eh.a`) into the module instead of depending on
//! `libgcc_s.so.1`.
//!
//! Rust's standard library needs `_Unwind_*` (panics unwind so `catch_unwind` can turn a bug
//! into PAM_AUTH_ERR instead of killing sshd or sudo). Taken from `libgcc_s.so.1`, they make
//! every login load, relocate and resolve one more shared library into the process: 79 k of
//! the module's 419 k instructions per login (BENCHMARKS.md). Named here, `libgcc_eh.a` comes
//! before std's `-lgcc_s` on the link line, so the linker resolves the unwinder from it and
//! `--as-needed` drops `libgcc_s` from the module's NEEDED entries. Panics are still caught:
//! `tests/libpam.rs` provokes one in the module (debug builds only) and checks the result,
//! and checks that `libgcc_s` is not needed.
//!
//! The static unwinder ties the module to the build machine's glibc: libgcc_eh.a of gcc 12
//! (Debian 12) finds unwind tables with `_dl_find_object@GLIBC_2.35`. A module built for a
//! host with an older glibc (the .rpm, built on Debian 12, for RHEL 9's glibc 2.34) is built
//! with the feature `shared-libgcc` and takes the unwinder from that host's `libgcc_s.so.1`;
//! `scripts/build-packages.sh` checks the glibc versions each package's module needs.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
        && std::env::var_os("CARGO_FEATURE_SHARED_LIBGCC").is_none()
    {
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
