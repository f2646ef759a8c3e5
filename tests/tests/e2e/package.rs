//! What the installed package says about itself.

use twofold_e2e::Host;

#[test]
fn the_package_description_is_written_not_generated() {
    let host = Host::new().build();
    let out = host.run("dpkg-query -W -f '${Description}' twofold");
    out.assert_success();
    let summary = out.stdout.lines().next().unwrap_or_default();
    assert_eq!(
        summary, "Second factor (TOTP, recovery codes, access passes) for Linux logins via PAM",
        "{out}"
    );
}

/// One source for the page: `twofold man` prints the twofold(1) the package installs.
#[test]
fn twofold_man_prints_the_installed_page() {
    let host = Host::new().build();
    host.run("twofold man >/tmp/printed.1 && zcat /usr/share/man/man1/twofold.1.gz | cmp - /tmp/printed.1")
        .assert_success();
}

/// An upgrade from release 0.1.0 on a host whose administrator deleted the configuration
/// (then the defaults; now an error that refuses every login): the postinst writes the
/// defaults that host ran with, so the upgrade locks nobody out.
#[test]
fn upgrade_without_a_configuration_writes_the_defaults_the_host_ran_with() {
    let host = Host::new().build();
    host.run("rm /etc/twofold/twofold.toml").assert_success();
    host.run("twofold status").assert_failure();
    host.run("/var/lib/dpkg/info/twofold.postinst configure 0.1.0-0")
        .assert_success();
    let config = host.read_file("/etc/twofold/twofold.toml");
    assert!(
        config.contains("secret_path = \"{home}/.config/twofold/secrets.toml\""),
        "{config}"
    );
    host.run("twofold status").assert_success();
    // A first installation never writes it: the package ships the file.
    host.run("rm /etc/twofold/twofold.toml && /var/lib/dpkg/info/twofold.postinst configure ''")
        .assert_success();
    host.run("test ! -e /etc/twofold/twofold.toml")
        .assert_success();
}

/// The CLI is setuid root, as passwd is (twofold(1), SELF-SERVICE); the module is not.
#[test]
fn twofold_is_installed_setuid_root() {
    let host = Host::new().build();
    host.run("stat -c '%a %U %G' /usr/bin/twofold")
        .assert_stdout("4755 root root");
    host.run("stat -c '%a %U %G' /lib/x86_64-linux-gnu/security/pam_twofold.so")
        .assert_stdout("644 root root");
}
