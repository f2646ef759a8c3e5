//! A directory server for the directory backend's tests: Debian's slapd (the image
//! `twofold-slapd:bookworm`, built by `scripts/e2e-image.sh`) alone on a Docker network the
//! test creates with `--internal` (no route out) and removes afterwards. It serves
//! `dc=example,dc=org` with twofold's shipped schema and ACL example
//! (`packaging/ldap/`, read when the test runs), hosts below `ou=hosts` and users below
//! `ou=people`.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::docker::{docker, Container};
use crate::docs::repo_file;
use crate::login::quote;
use crate::output::Output;

const SLAPD_IMAGE: &str = "twofold-slapd:bookworm";
const ADMIN: &str = "-x -D cn=admin,dc=example,dc=org -w admin";
pub const BASE: &str = "ou=people,dc=example,dc=org";

/// The network and its slapd; both removed on drop (containers of hosts on the network
/// must be dropped first: declare them after it).
pub struct Directory {
    network: String,
    server: Option<Container>,
}

impl Directory {
    #[track_caller]
    pub fn start() -> Directory {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let network = format!(
            "twofold-e2e-net-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let created = docker(&[
            "network",
            "create",
            "--internal",
            "--label",
            "twofold-e2e",
            &network,
        ]);
        assert!(created.success(), "could not create {network}:\n{created}");
        let mut directory = Directory {
            network,
            server: None,
        };
        let inspected = docker(&["image", "inspect", "--format", "{{.Id}}", SLAPD_IMAGE]);
        assert!(
            inspected.success(),
            "the directory image {SLAPD_IMAGE} does not exist: run scripts/e2e-image.sh first\n{inspected}"
        );
        let server = Container::start_on(SLAPD_IMAGE, &directory.network);
        server
            .exec(
                "root",
                "slapd -h 'ldap:/// ldapi:///' -u openldap -g openldap && for _ in $(seq 200); do \
                 ldapsearch -Q -Y EXTERNAL -H ldapi:/// -b cn=config -s base >/dev/null 2>&1 \
                 && exit 0; sleep 0.05; done; echo slapd does not answer >&2; exit 1",
                b"",
            )
            .assert_success();
        let config = "ldapmodify -Q -Y EXTERNAL -H ldapi:///";
        for (command, file) in [
            (
                "ldapadd -Q -Y EXTERNAL -H ldapi:///",
                "packaging/ldap/twofold.ldif",
            ),
            (config, "packaging/ldap/twofold-acl.ldif"),
        ] {
            server
                .exec("root", command, repo_file(file).as_bytes())
                .assert_success();
        }
        let tree =
            "dn: ou=people,dc=example,dc=org\nobjectClass: organizationalUnit\nou: people\n\n\
                    dn: ou=hosts,dc=example,dc=org\nobjectClass: organizationalUnit\nou: hosts\n";
        server
            .exec(
                "root",
                &format!("ldapadd {ADMIN} -H ldapi:///"),
                tree.as_bytes(),
            )
            .assert_success();
        directory.server = Some(server);
        directory
    }

    fn server(&self) -> &Container {
        self.server.as_ref().expect("the server runs until drop")
    }

    /// The network's name, for [`crate::HostBuilder::network`].
    pub fn network(&self) -> &str {
        &self.network
    }

    /// Runs `script` as root on the directory server.
    pub fn run(&self, script: &str) -> Output {
        self.server().exec("root", script, b"")
    }

    /// Adds the LDIF `ldif` as the directory's administrator (the rootdn).
    #[track_caller]
    pub fn add(&self, ldif: &str) {
        self.server()
            .exec(
                "root",
                &format!("ldapadd {ADMIN} -H ldapi:///"),
                ldif.as_bytes(),
            )
            .assert_success();
    }

    /// A user entry `uid=NAME` below `ou=people` with `password`.
    #[track_caller]
    pub fn add_user(&self, name: &str, password: &str) {
        self.add(&format!(
            "dn: uid={name},{BASE}\nobjectClass: inetOrgPerson\nuid: {name}\ncn: {name}\n\
             sn: {name}\nuserPassword: {password}\n"
        ));
    }

    /// A host account `cn=NAME` below `ou=hosts`, and the `twofold.toml` of that host
    /// (plain LDAP on this test network, with the logged opt-out); its password file is
    /// `/etc/twofold/ldap.secret` and holds `password`.
    #[track_caller]
    pub fn add_host(&self, name: &str, password: &str) -> String {
        self.add(&format!(
            "dn: cn={name},ou=hosts,dc=example,dc=org\nobjectClass: applicationProcess\n\
             objectClass: simpleSecurityObject\ncn: {name}\nuserPassword: {password}\n"
        ));
        format!(
            "[directory]\nuri = [\"ldap://{}\"]\nbase = \"{BASE}\"\n\
             bind_dn = \"cn={name},ou=hosts,dc=example,dc=org\"\n\
             bind_password_file = \"/etc/twofold/ldap.secret\"\ntimeout = \"3s\"\n\
             plain_ldap_for_tests = true\n",
            self.server().name()
        )
    }

    /// `ldapsearch` of `uid=USER`'s `attribute`, bound as `bind_dn` with `password`.
    pub fn search_as(&self, bind_dn: &str, password: &str, user: &str, attribute: &str) -> Output {
        self.run(&format!(
            "ldapsearch -x -LLL -H ldapi:/// -D {} -w {} -b uid={user},{BASE} -s base {attribute}",
            quote(bind_dn),
            quote(password)
        ))
    }

    /// `ldapmodify` of `uid=USER` with the change `change` (LDIF lines after `changetype`),
    /// bound as `bind_dn` with `password`.
    pub fn modify_as(&self, bind_dn: &str, password: &str, user: &str, change: &str) -> Output {
        let ldif = format!("dn: uid={user},{BASE}\nchangetype: modify\n{change}");
        self.server().exec(
            "root",
            &format!(
                "ldapmodify -x -H ldapi:/// -D {} -w {}",
                quote(bind_dn),
                quote(password)
            ),
            ldif.as_bytes(),
        )
    }

    /// Stops slapd: the directory is then unreachable.
    #[track_caller]
    pub fn stop(&self) {
        self.run(
            "kill $(cat /var/run/slapd/slapd.pid) && for _ in $(seq 200); do \
             [ -e /var/run/slapd/slapd.pid ] || exit 0; sleep 0.05; done; exit 1",
        )
        .assert_success();
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        drop(self.server.take());
        if std::env::var_os("TWOFOLD_E2E_KEEP").is_some_and(|v| v == "1") {
            return;
        }
        let _ = docker(&["network", "rm", &self.network]);
    }
}
