//! A directory server for the directory backend's tests: Debian's slapd (the image
//! `twofold-slapd:bookworm`, built by `scripts/e2e-image.sh`) on a Docker network the
//! test creates with `--internal` (no route out) and removes afterwards. It serves
//! `dc=example,dc=org` with twofold's shipped schema and ACL example
//! (`packaging/ldap/`, read when the test runs), hosts below `ou=hosts` and users below
//! `ou=people`. It answers on ldaps:// with a certificate from a test CA made for each
//! test with the host's `openssl` (EC keys, valid one day), and on plain ldap://.
//!
//! [`Directory::start_replicated`] runs two such servers, `ldap1` and `ldap2`, both
//! writable (OpenLDAP multi-provider: syncrepl both ways, `olcMirrorMode`). They replicate
//! over a second `--internal` network of their own, so [`Directory::split`] can cut them
//! from each other while every host still reaches both. Hosts find them through
//! /etc/hosts ([`Directory::hosts_entries`]), never through Docker's DNS: `timeout` in
//! twofold.toml does not bound a name lookup, and a host cut from the network would wait
//! for the resolver instead of failing at once (a login took 15 s with one name, not 3).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::docker::{docker, Container, Slot};
use crate::docs::repo_file;
use crate::host::Host;
use crate::login::quote;
use crate::output::Output;

const SLAPD_IMAGE: &str = "twofold-slapd:bookworm";
const ADMIN: &str = "-x -D cn=admin,dc=example,dc=org -w admin";
pub const BASE: &str = "ou=people,dc=example,dc=org";
/// The servers' names in a replicated directory: in the hosts' URIs, /etc/hosts and the
/// servers' certificate, and their aliases on the replication network.
const REPLICA_NAMES: [&str; 2] = ["ldap1", "ldap2"];

/// One slapd.
struct Server {
    container: Container,
    /// The name hosts use in their URIs (and the certificate's).
    name: String,
    /// Its address on the test network, for the hosts' /etc/hosts (replicated only).
    address: Option<String>,
}

/// The network(s) and slapd server(s); removed on drop (containers of hosts on the
/// network must be dropped first: declare them after it).
pub struct Directory {
    network: String,
    /// The servers' own network for replication ([`Directory::start_replicated`]).
    replication: Option<String>,
    servers: Vec<Server>,
    /// The container slots of the servers and their hosts, taken at once; released last.
    _slots: Slot,
    /// The test CA's certificate (PEM), for the hosts' `ca_file`.
    ca: String,
}

fn network_name() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "twofold-e2e-net-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[track_caller]
fn create_network(network: &str) {
    let created = docker(&[
        "network",
        "create",
        "--internal",
        "--label",
        "twofold-e2e",
        network,
    ]);
    assert!(created.success(), "could not create {network}:\n{created}");
}

#[track_caller]
fn check_image() {
    let inspected = docker(&["image", "inspect", "--format", "{{.Id}}", SLAPD_IMAGE]);
    assert!(
        inspected.success(),
        "the directory image {SLAPD_IMAGE} does not exist: run scripts/e2e-image.sh first\n{inspected}"
    );
}

impl Directory {
    /// The network and slapd, with container slots for `hosts` hosts besides the server
    /// (hosts beyond them run without one).
    #[track_caller]
    pub fn start(hosts: usize) -> Directory {
        let slots = Slot::acquire(1 + hosts);
        let network = network_name();
        create_network(&network);
        let mut directory = Directory {
            network,
            replication: None,
            servers: Vec::new(),
            _slots: slots,
            ca: String::new(),
        };
        check_image();
        let container = Container::start_on(SLAPD_IMAGE, &directory.network, &[]);
        let (ca, cert, key) = test_certificates(&[container.name()]);
        set_up(&container, &ca, &cert, &key, true);
        directory.ca = ca;
        directory.servers.push(Server {
            name: container.name().to_owned(),
            container,
            address: None,
        });
        directory
    }

    /// Two writable servers, `ldap1` and `ldap2` (servers 0 and 1), replicating each
    /// other's writes (syncrepl refreshAndPersist both ways, retried every second; TCP
    /// keepalive so a connection cut by [`Directory::split`] is noticed in seconds), with
    /// container slots for `hosts` hosts. `ldap1` holds the tree; `ldap2` starts empty and
    /// takes it by replication before this returns. Hosts need [`Directory::hosts_entries`].
    #[track_caller]
    pub fn start_replicated(hosts: usize) -> Directory {
        Directory::start_pair(hosts, true)
    }

    /// As [`Directory::start_replicated`], but `ldap2` is a read-only replica of `ldap1`
    /// (syncrepl from `ldap1` only, no mirror mode): it answers searches and refuses
    /// every write but its provider's.
    #[track_caller]
    pub fn start_with_read_only_replica(hosts: usize) -> Directory {
        Directory::start_pair(hosts, false)
    }

    #[track_caller]
    fn start_pair(hosts: usize, both_writable: bool) -> Directory {
        let slots = Slot::acquire(2 + hosts);
        let network = network_name();
        create_network(&network);
        let replication = network_name();
        create_network(&replication);
        let mut directory = Directory {
            network,
            replication: Some(replication),
            servers: Vec::new(),
            _slots: slots,
            ca: String::new(),
        };
        check_image();
        let (ca, cert, key) = test_certificates(&REPLICA_NAMES);
        for (i, name) in REPLICA_NAMES.iter().enumerate() {
            let container = Container::start_on(SLAPD_IMAGE, &directory.network, &[]);
            directory.connect_replication(container.name(), name);
            set_up(&container, &ca, &cert, &key, i == 0);
            let address = docker(&[
                "inspect",
                "--format",
                &format!(
                    "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
                    directory.network
                ),
                container.name(),
            ]);
            address.assert_success();
            directory.servers.push(Server {
                container,
                name: (*name).to_owned(),
                address: Some(address.stdout.trim().to_owned()),
            });
        }
        directory.ca = ca;
        for (i, server) in directory.servers.iter().enumerate() {
            let other = REPLICA_NAMES[1 - i];
            let provider = format!(
                "dn: cn=config\nchangetype: modify\nreplace: olcServerID\nolcServerID: {id}\n\n\
                 dn: cn=module{{0}},cn=config\nchangetype: modify\nadd: olcModuleLoad\n\
                 olcModuleLoad: syncprov\n\n\
                 dn: olcDatabase={{1}}mdb,cn=config\nchangetype: modify\nadd: olcDbIndex\n\
                 olcDbIndex: entryCSN eq\nolcDbIndex: entryUUID eq\n\n\
                 dn: olcOverlay=syncprov,olcDatabase={{1}}mdb,cn=config\nchangetype: add\n\
                 objectClass: olcOverlayConfig\nobjectClass: olcSyncProvConfig\nolcOverlay: syncprov\n",
                id = i + 1,
            );
            let consumer = format!(
                "\ndn: olcDatabase={{1}}mdb,cn=config\nchangetype: modify\nadd: olcSyncrepl\n\
                 olcSyncrepl: rid=00{other_id} provider=ldap://{other} \
                 binddn=\"cn=admin,dc=example,dc=org\" bindmethod=simple credentials=admin \
                 searchbase=\"dc=example,dc=org\" type=refreshAndPersist retry=\"1 +\" \
                 timeout=1 network-timeout=1 keepalive=1:3:1\n",
                other_id = 2 - i,
            );
            let ldif = match (both_writable, i) {
                (true, _) => {
                    format!("{provider}{consumer}-\nadd: olcMirrorMode\nolcMirrorMode: TRUE\n")
                }
                (false, 0) => provider,
                (false, _) => format!("{provider}{consumer}"),
            };
            server
                .container
                .exec("root", CONFIG, ldif.as_bytes())
                .assert_success();
        }
        directory.wait_in_sync();
        directory
    }

    /// Puts `container` on the replication network as `alias`.
    #[track_caller]
    fn connect_replication(&self, container: &str, alias: &str) {
        let replication = self.replication.as_deref().expect("a replicated directory");
        docker(&[
            "network",
            "connect",
            "--alias",
            alias,
            replication,
            container,
        ])
        .assert_success();
    }

    fn server(&self) -> &Container {
        &self.servers[0].container
    }

    /// The network's name, for [`crate::HostBuilder::network`].
    pub fn network(&self) -> &str {
        &self.network
    }

    /// (name, address) of each server that hosts find through /etc/hosts, for
    /// [`crate::HostBuilder::hosts_entry`]; none for [`Directory::start`]'s one server,
    /// which hosts find by its container name through Docker's DNS.
    pub fn hosts_entries(&self) -> Vec<(String, String)> {
        (self.servers.iter())
            .filter_map(|s| Some((s.name.clone(), s.address.clone()?)))
            .collect()
    }

    /// Runs `script` as root on the (first) directory server.
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

    /// Adds the LDIF `ldif` as the administrator with the Relax Rules control, which lets it
    /// set what only the server sets otherwise (an entry's `createTimestamp`).
    #[track_caller]
    pub fn add_relaxed(&self, ldif: &str) {
        self.server()
            .exec(
                "root",
                &format!("ldapadd {ADMIN} -e relax -H ldapi:///"),
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
        test_certificates(&["twofold-e2e-other"]).0
    }

    /// A host account `cn=NAME` below `ou=hosts`, and the `twofold.toml` of that host:
    /// every server in order, over ldaps:// with `ca_file = "/etc/twofold/ldap-ca.pem"`
    /// (holding [`Directory::ca`]), or with `plain`, ldap:// and the logged opt-out. Its
    /// password file is `/etc/twofold/ldap.secret` and holds `password`.
    #[track_caller]
    pub fn add_host(&self, name: &str, password: &str, plain: bool) -> String {
        let all: Vec<usize> = (0..self.servers.len()).collect();
        self.add_host_using(name, password, plain, &all)
    }

    /// As [`Directory::add_host`], with the URIs of the servers `order` (indices) only,
    /// in that order.
    #[track_caller]
    pub fn add_host_using(
        &self,
        name: &str,
        password: &str,
        plain: bool,
        order: &[usize],
    ) -> String {
        self.add(&format!(
            "dn: cn={name},ou=hosts,dc=example,dc=org\nobjectClass: applicationProcess\n\
             objectClass: simpleSecurityObject\ncn: {name}\nuserPassword: {password}\n"
        ));
        let scheme = if plain { "ldap" } else { "ldaps" };
        let uris: Vec<String> = (order.iter())
            .map(|&i| format!("\"{scheme}://{}\"", self.servers[i].name))
            .collect();
        let uri = format!("uri = [{}]\n", uris.join(", "));
        let transport = if plain {
            format!("{uri}plain_ldap_for_tests = true\n")
        } else {
            format!("{uri}ca_file = \"/etc/twofold/ldap-ca.pem\"\n")
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

    /// `ldapadd` of `ldif`, bound as `bind_dn` with `password`.
    pub fn add_as(&self, bind_dn: &str, password: &str, ldif: &str) -> Output {
        self.server().exec(
            "root",
            &format!(
                "ldapadd -x -H ldapi:/// -D {} -w {}",
                quote(bind_dn),
                quote(password)
            ),
            ldif.as_bytes(),
        )
    }

    /// `ldapdelete` of `dn`, bound as `bind_dn` with `password`.
    pub fn delete_as(&self, bind_dn: &str, password: &str, dn: &str) -> Output {
        self.run(&format!(
            "ldapdelete -x -H ldapi:/// -D {} -w {} {}",
            quote(bind_dn),
            quote(password),
            quote(dn)
        ))
    }

    /// The DNs of the entries directly below `uid=USER` that `bind_dn` can see.
    #[track_caller]
    pub fn below_as(&self, bind_dn: &str, password: &str, user: &str) -> Vec<String> {
        let out = self.run(&format!(
            "ldapsearch -x -LLL -o ldif-wrap=no -H ldapi:/// -D {} -w {} -b uid={user},{BASE} -s one dn",
            quote(bind_dn),
            quote(password)
        ));
        out.assert_success();
        (out.stdout.lines())
            .filter_map(|l| l.strip_prefix("dn: "))
            .map(str::to_owned)
            .collect()
    }

    /// The DNs of `uid=USER`'s used items' entries on server `i`, read as the administrator.
    #[track_caller]
    pub fn used_items_on(&self, i: usize, user: &str) -> Vec<String> {
        let out = self.servers[i].container.exec(
            "root",
            &format!(
                "ldapsearch {ADMIN} -LLL -o ldif-wrap=no -H ldapi:/// -b uid={user},{BASE} \
                 -s one '(objectClass=twofoldUsedItem)' dn"
            ),
            b"",
        );
        out.assert_success();
        let mut dns: Vec<String> = (out.stdout.lines())
            .filter_map(|l| l.strip_prefix("dn: "))
            .map(str::to_owned)
            .collect();
        dns.sort();
        dns
    }

    /// `uid=USER`'s `twofoldState` and `entryCSN` as server `i` holds them, read as the
    /// administrator (LDIF, base64 as ldapsearch prints it).
    #[track_caller]
    pub fn state_on(&self, i: usize, user: &str) -> String {
        let out = self.servers[i].container.exec(
            "root",
            &format!(
                "ldapsearch {ADMIN} -LLL -o ldif-wrap=no -H ldapi:/// -b uid={user},{BASE} \
                 -s base twofoldState entryCSN"
            ),
            b"",
        );
        out.assert_success();
        out.stdout
    }

    /// Waits until both servers of a replicated directory have seen the same changes
    /// (equal `contextCSN`s of the suffix): 30 s at most, then panics.
    #[track_caller]
    pub fn wait_in_sync(&self) {
        let read = |server: &Server| {
            let out = server.container.exec(
                "root",
                &format!(
                    "ldapsearch {ADMIN} -LLL -H ldapi:/// -b dc=example,dc=org -s base contextCSN"
                ),
                b"",
            );
            let mut csns: Vec<String> = (out.stdout.lines())
                .filter(|l| l.starts_with("contextCSN:"))
                .map(str::to_owned)
                .collect();
            csns.sort();
            csns
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (one, two) = (read(&self.servers[0]), read(&self.servers[1]));
            if !one.is_empty() && one == two {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the servers did not converge in 30 s:\n{one:?}\n{two:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Freezes slapd (SIGSTOP): connections are still accepted by the kernel, never answered.
    #[track_caller]
    pub fn freeze(&self) {
        self.freeze_server(0);
    }

    /// Lets a frozen slapd run again (SIGCONT).
    #[track_caller]
    pub fn thaw(&self) {
        self.thaw_server(0);
    }

    /// Freezes server `i`'s slapd (SIGSTOP).
    #[track_caller]
    pub fn freeze_server(&self, i: usize) {
        (self.servers[i].container)
            .exec("root", "kill -STOP $(cat /var/run/slapd/slapd.pid)", b"")
            .assert_success();
    }

    /// Lets server `i`'s frozen slapd run again (SIGCONT).
    #[track_caller]
    pub fn thaw_server(&self, i: usize) {
        (self.servers[i].container)
            .exec("root", "kill -CONT $(cat /var/run/slapd/slapd.pid)", b"")
            .assert_success();
    }

    /// Stops slapd: the directory is then unreachable.
    #[track_caller]
    pub fn stop(&self) {
        self.stop_server(0);
    }

    /// Stops server `i`'s slapd: its address refuses connections at once.
    #[track_caller]
    pub fn stop_server(&self, i: usize) {
        (self.servers[i].container)
            .exec("root", STOP, b"")
            .assert_success();
    }

    /// Starts server `i`'s stopped slapd again, returning once it answers.
    #[track_caller]
    pub fn start_server(&self, i: usize) {
        (self.servers[i].container)
            .exec("root", &format!("{START} && {WAIT}"), b"")
            .assert_success();
    }

    /// Disconnects `host` from the test network: it reaches no server any more.
    #[track_caller]
    pub fn cut(&self, host: &Host) {
        docker(&["network", "disconnect", &self.network, host.name()]).assert_success();
    }

    /// Connects a [`Directory::cut`] host to the test network again.
    #[track_caller]
    pub fn rejoin(&self, host: &Host) {
        docker(&["network", "connect", &self.network, host.name()]).assert_success();
    }

    /// Cuts the two servers of a replicated directory from each other (the second leaves
    /// the replication network); hosts still reach both, and both still take writes.
    #[track_caller]
    pub fn split(&self) {
        let replication = self.replication.as_deref().expect("a replicated directory");
        docker(&[
            "network",
            "disconnect",
            replication,
            self.servers[1].container.name(),
        ])
        .assert_success();
    }

    /// Joins the servers again after [`Directory::split`]; they replicate again within
    /// a second or two (syncrepl retries every second).
    #[track_caller]
    pub fn heal(&self) {
        self.connect_replication(self.servers[1].container.name(), REPLICA_NAMES[1]);
    }
}

/// Administers cn=config as root over ldapi://.
const CONFIG: &str = "ldapmodify -Q -Y EXTERNAL -H ldapi:///";
/// Starts slapd with its three listeners.
const START: &str = "slapd -h 'ldap:/// ldaps:/// ldapi:///' -u openldap -g openldap";

/// Sets up a fresh slapd container: the test certificates, TLS, the shipped schema and ACL
/// example, and with `populate` the `ou=people` and `ou=hosts` tree; without, an empty
/// database (a second server takes the tree by replication: two copies added on their
/// own would be two different entries of one name).
#[track_caller]
fn set_up(server: &Container, ca: &str, cert: &str, key: &str, populate: bool) {
    let empty = if populate {
        ""
    } else {
        "rm -f /var/lib/ldap/* && "
    };
    server
        .exec(
            "root",
            &format!("{empty}slapd -h 'ldap:/// ldapi:///' -u openldap -g openldap && {WAIT}"),
            b"",
        )
        .assert_success();
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
    server.exec("root", CONFIG, tls.as_bytes()).assert_success();
    // Started again with the ldaps:// listener, now that it has a certificate.
    server
        .exec("root", &format!("{STOP} && {START} && {WAIT}"), b"")
        .assert_success();
    for (command, file) in [
        (
            "ldapadd -Q -Y EXTERNAL -H ldapi:///",
            "packaging/ldap/twofold.ldif",
        ),
        (CONFIG, "packaging/ldap/twofold-acl.ldif"),
    ] {
        server
            .exec("root", command, repo_file(file).as_bytes())
            .assert_success();
    }
    if populate {
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

/// A test CA, and a certificate it signed for `servers` (their DNS names, the first as
/// the subject): PEM texts of the CA's certificate, the servers' certificate and its key.
/// Made by the host's openssl.
fn test_certificates(servers: &[&str]) -> (String, String, String) {
    let server = servers[0];
    let names: Vec<String> = servers.iter().map(|s| format!("DNS:{s}")).collect();
    let dir = std::env::temp_dir().join(format!("{server}-{}-tls", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).expect("a directory for the test CA");
    let script = format!(
        "set -e; cd {dir}; ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
         openssl req -x509 $ec -keyout ca.key -out ca.pem -days 1 -subj /CN=twofold-e2e-test-ca
         openssl req $ec -keyout server.key -out server.csr -subj /CN={server}
         printf 'subjectAltName={names}\n' >ext
         openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
             -out server.pem -days 1 -extfile ext",
        dir = dir.display(),
        names = names.join(","),
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
        self.servers.clear();
        if std::env::var_os("TWOFOLD_E2E_KEEP").is_some_and(|v| v == "1") {
            return;
        }
        let _ = docker(&["network", "rm", &self.network]);
        if let Some(replication) = &self.replication {
            let _ = docker(&["network", "rm", replication]);
        }
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
