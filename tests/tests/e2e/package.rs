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
