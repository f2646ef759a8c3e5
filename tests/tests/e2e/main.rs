//! twofold end to end: real sshd and sudo logins through the installed package, one fresh
//! container per test. Build the image first with `scripts/e2e-image.sh`; see the
//! `twofold_e2e` crate for the harness.

mod access_pass;
mod break_glass;
mod brute_force;
mod concurrency;
mod devices;
mod directory;
mod directory_fleet;
mod directory_migrate;
mod doctor;
mod documents;
mod fail_closed;
mod first_login;
mod harness;
mod package;
mod pam_auth_update;
mod password_examples;
mod recovery;
mod self_service;
mod session;
mod ssh_password;
mod ssh_totp;
mod sudo;
mod trusted_networks;
mod unenrolled;
