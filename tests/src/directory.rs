//! A directory server for the directory backend's tests: Debian's slapd (the image
//! `twofold-slapd:bookworm`, built by `scripts/e2e-image.sh`) alone on a Docker network the
//! test creates with `--internal` (no route out) and removes afterwards. It serves
//! `dc=example,dc=org` with twofold's shipped schema and ACL example
//! (`packaging/ldap/`, read when the test runs), hosts below `ou=hosts` and users below
//! `ou=people`. It answers on ldaps:// with a certificate from a test CA made for each
//! test with the host's `openssl` (EC keys, valid one day), and on plain ldap://.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::docker::{docker, Container, Slot};
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
    /// The container slots of the server and its hosts, taken at once; released last.
    _slots: Slot,
    /// The test CA's certificate (PEM), for the hosts' `ca_file`.
    ca: String,
}

impl Directory {
    /// The network and slapd, with container slots for `hosts` hosts besides the server
    /// (hosts beyond them run without one).
    #[track_caller]
    pub fn start(hosts: usize) -> Directory {
        let slots = Slot::acquire(1 + hosts);
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
            _slots: slots,
            ca: String::new(),
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
                &format!("slapd -h 'ldap:/// ldapi:///' -u openldap -g openldap && {WAIT}"),
                b"",
            )
            .assert_success();
        let config = "ldapmodify -Q -Y EXTERNAL -H ldapi:///";
        let (ca, cert, key) = test_certificates(server.name());
        let install = "install -d -o openldap -g openldap -m 0700 /etc/ldap/tls && \
                       cat >/etc/ldap/tls/all.pem && cd /etc/ldap/tls && \
                       sed -n '1,/END CERTIFICATE/p' all.pem >ca.pem && \
                       sed '1,/END CERTIFICATE/d' all.pem | sed -n '1,/END CERTIFICATE/p' >cert.pem && \
                       sed '1,/END CERTIFICATE/d' all.pem | sed '1,/END CERTIFICATE/d' >key.pem && \
                       rm all.pem && chown openldap:openldap *.pem && chmod 0600 key.pem";
        server
            .exec("root", install, format!("{ca}{cert}{key}").as_bytes())
            .assert_success();
        let tls = "dn: cn=config\nchangetype: modify\n\
                   replace: olcTLSCACertificateFile\nolcTLSCACertificateFile: /etc/ldap/tls/ca.pem\n-\n\
                   replace: olcTLSCertificateFile\nolcTLSCertificateFile: /etc/ldap/tls/cert.pem\n-\n\
                   replace: olcTLSCertificateKeyFile\nolcTLSCertificateKeyFile: /etc/ldap/tls/key.pem\n";
        server.exec("root", config, tls.as_bytes()).assert_success();
        // Started again with the ldaps:// listener, now that it has a certificate.
        server
            .exec(
                "root",
                &format!("{STOP} && slapd -h 'ldap:/// ldaps:/// ldapi:///' -u openldap -g openldap && {WAIT}"),
                b"",
            )
            .assert_success();
        directory.ca = ca;
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

    /// The test CA's certificate (PEM): a host's `/etc/twofold/ldap-ca.pem`.
    pub fn ca(&self) -> &str {
        &self.ca
    }

    /// The certificate (PEM) of another CA, which did not sign the server's.
    pub fn other_ca() -> String {
        test_certificates("twofold-e2e-other").0
    }

    /// A host account `cn=NAME` below `ou=hosts`, and the `twofold.toml` of that host:
    /// ldaps:// with `ca_file = "/etc/twofold/ldap-ca.pem"` (holding [`Directory::ca`]), or
    /// with `plain`, ldap:// and the logged opt-out. Its password file is
    /// `/etc/twofold/ldap.secret` and holds `password`.
    #[track_caller]
    pub fn add_host(&self, name: &str, password: &str, plain: bool) -> String {
        self.add(&format!(
            "dn: cn={name},ou=hosts,dc=example,dc=org\nobjectClass: applicationProcess\n\
             objectClass: simpleSecurityObject\ncn: {name}\nuserPassword: {password}\n"
        ));
        let server = self.server().name();
        let transport = if plain {
            format!("uri = [\"ldap://{server}\"]\nplain_ldap_for_tests = true\n")
        } else {
            format!("uri = [\"ldaps://{server}\"]\nca_file = \"/etc/twofold/ldap-ca.pem\"\n")
        };
        format!(
            "[directory]\n{transport}base = \"{BASE}\"\n\
             bind_dn = \"cn={name},ou=hosts,dc=example,dc=org\"\n\
             bind_password_file = \"/etc/twofold/ldap.secret\"\ntimeout = \"3s\"\n"
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

    /// Freezes slapd (SIGSTOP): connections are still accepted by the kernel, never answered.
    #[track_caller]
    pub fn freeze(&self) {
        self.run("kill -STOP $(cat /var/run/slapd/slapd.pid)")
            .assert_success();
    }

    /// Lets a frozen slapd run again (SIGCONT).
    #[track_caller]
    pub fn thaw(&self) {
        self.run("kill -CONT $(cat /var/run/slapd/slapd.pid)")
            .assert_success();
    }

    /// Stops slapd: the directory is then unreachable.
    #[track_caller]
    pub fn stop(&self) {
        self.run(STOP).assert_success();
    }
}

/// Waits until slapd answers on ldapi://.
const WAIT: &str = "for _ in $(seq 200); do ldapsearch -Q -Y EXTERNAL -H ldapi:/// -b cn=config \
                    -s base >/dev/null 2>&1 && exit 0; sleep 0.05; done; \
                    echo slapd does not answer >&2; exit 1";
/// Stops slapd and waits until it is gone.
const STOP: &str = "kill $(cat /var/run/slapd/slapd.pid) && for _ in $(seq 200); do \
                    [ -e /var/run/slapd/slapd.pid ] || break; sleep 0.05; done && \
                    [ ! -e /var/run/slapd/slapd.pid ]";

/// A test CA, and a certificate it signed for `server` (its DNS name): PEM texts of the CA's
/// certificate, the server's certificate and the server's key. Made by the host's openssl.
fn test_certificates(server: &str) -> (String, String, String) {
    let dir = std::env::temp_dir().join(format!("{server}-{}-tls", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).expect("a directory for the test CA");
    let script = format!(
        "set -e; cd {dir}; ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
         openssl req -x509 $ec -keyout ca.key -out ca.pem -days 1 -subj /CN=twofold-e2e-test-ca
         openssl req $ec -keyout server.key -out server.csr -subj /CN={server}
         printf 'subjectAltName=DNS:{server}\n' >ext
         openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
             -out server.pem -days 1 -extfile ext",
        dir = dir.display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap_or_else(|e| panic!("cannot run sh for openssl: {e}"));
    assert!(
        out.status.success(),
        "openssl could not make the test CA (scripts/install-deps.sh installs it):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let pems = (read("ca.pem"), read("server.pem"), read("server.key"));
    let _ = std::fs::remove_dir_all(&dir);
    pems
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

/// For the migration tests (`admin migrate`) and README's "Many hosts".
impl Directory {
    /// The `twofoldState` line of `uid=USER` (LDIF, unwrapped) as the directory's
    /// administrator reads it, or "" when the entry holds no state: to compare before and after.
    #[track_caller]
    pub fn state_of(&self, user: &str) -> String {
        let out = self.run(&format!(
            "ldapsearch {ADMIN} -LLL -o ldif-wrap=no -H ldapi:/// -b uid={user},{BASE} -s base twofoldState"
        ));
        out.assert_success();
        out.stdout
            .lines()
            .filter(|line| line.starts_with("twofoldState"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The server's DNS name on the network (a host's `ldaps://NAME`).
    pub fn server_name(&self) -> &str {
        self.server().name()
    }
}
