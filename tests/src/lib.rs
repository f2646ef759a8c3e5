//! End-to-end harness for twofold: every test declares a machine, gets a fresh Docker
//! container running it, and logs in for real through sshd or sudo and `pam_twofold.so`.
//!
//! ```no_run
//! use twofold_e2e::{Host, SshAuth};
//!
//! let host = Host::new()
//!     .user("alice")
//!     .enrolled("alice")
//!     .sshd(SshAuth::PublickeyThenTotp)
//!     .build();
//! let code = host.totp("alice");
//! host.ssh("alice").answer_with(&code).run().assert_success();
//! ```
//!
//! The image comes from `scripts/e2e-image.sh` (debootstrap base + the project's `.deb`);
//! the tests never build it themselves. Containers run with `--network none`: sshd and the ssh
//! client both run inside, over 127.0.0.1, and the container is removed when the [`Host`] is
//! dropped, also when a test fails. Environment:
//! - `TWOFOLD_E2E_IMAGE`: image to run (default `twofold-e2e:latest`).
//! - `TWOFOLD_E2E_JOBS`: how many containers may run at once (default 4).
//! - `TWOFOLD_E2E_KEEP=1`: leave containers running after the test, to look inside.
//! - `TWOFOLD_E2E_TRACE=1`: print every command run in a container, with its duration.
#![forbid(unsafe_code)]

mod auth_log;
mod directory;
mod docker;
mod docs;
mod host;
mod login;
mod output;

pub use auth_log::Decision;
pub use directory::Directory;
pub use docs::{man_snippet, repo_file, snippet};
pub use host::{Enrollment, Host, HostBuilder, SshAuth, SudoAuth, User};
pub use login::{SshLogin, SudoRun};
pub use output::Output;
