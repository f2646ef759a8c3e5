//! The directory backend's figures (issue 18), printed, never asserted: `bench/directory.sh`
//! runs it. It uses the Docker suite's harness (tests/src): one slapd from Debian's package on
//! an `--internal` network of its own, TLS with a test CA, the shipped schema and ACLs, and
//! three hosts with the project's .deb (`twofold-e2e:latest` or `TWOFOLD_E2E_IMAGE`).
//!
//! 1. Operations per login: slapd's own counters (back_monitor) before and after the load:
//!    binds, searches, modifies (the state's compare-and-swap), adds and deletes (the used
//!    items' entries).
//! 2. Load: `dirload` (bench/src/bin/dirload.rs) on the three hosts at once, the same users in
//!    the same order from the same instant, so the hosts race for every user's code; logins
//!    per second, latency, and how many times each code was accepted (must be once).
//! 3. sshd end to end on one host: public key alone, then public key + twofold with the
//!    directory backend and with the file backend (`config=` another twofold.toml), interleaved.
//!
//!   directory [--users N] [--secs S] [--threads T] [--ssh-logins N] [--nosync] [--plain]

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use data_encoding::{BASE32_NOPAD, BASE64};
use twofold_e2e::{Directory, Host, SshAuth};

const BASE: &str = "ou=people,dc=example,dc=org";
const LOAD_HOSTS: [&str; 3] = ["host-a", "host-b", "host-c"];

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

fn random_secret() -> String {
    let mut bytes = [0u8; 20];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("/dev/urandom");
    BASE32_NOPAD.encode(&bytes)
}

/// The secret file's text for one device, as `twofold enroll` writes it (without recovery
/// codes: the load types TOTP codes only).
fn state(secret: &str) -> String {
    format!(
        "version = 1\n\n[[device]]\nname = \"phone\"\nsecret = \"{secret}\"\nalgorithm = \"SHA1\"\n\
         digits = 6\nperiod = 30\ncreated = 0\nlast_step = 0\n"
    )
}

fn entries(users: &[(String, String)]) -> String {
    users
        .iter()
        .map(|(name, secret)| {
            format!(
                "dn: uid={name},{BASE}\nobjectClass: inetOrgPerson\nobjectClass: twofoldUser\n\
                 uid: {name}\ncn: {name}\nsn: {name}\ntwofoldState:: {}\n\n",
                BASE64.encode(state(secret).as_bytes())
            )
        })
        .collect()
}

/// slapd's completed operations by kind (cn=Operations,cn=Monitor).
fn counters(dir: &Directory) -> HashMap<String, u64> {
    let out = dir.run(
        "ldapsearch -Q -LLL -Y EXTERNAL -H ldapi:/// -b cn=Operations,cn=Monitor -s one monitorOpCompleted",
    );
    out.assert_success();
    let mut map = HashMap::new();
    let mut kind = String::new();
    for line in out.stdout.lines() {
        if let Some(dn) = line.strip_prefix("dn: cn=") {
            kind = dn.split(',').next().unwrap_or_default().to_owned();
        } else if let Some(n) = line.strip_prefix("monitorOpCompleted: ") {
            map.insert(kind.clone(), n.trim().parse().unwrap_or(0));
        }
    }
    map
}

/// `docker cp` of a file into the host's container (a text too large for one argument).
fn copy_file(host: &Host, from: &std::path::Path, to: &str) {
    let copied = Command::new("docker")
        .args([
            "cp",
            &from.display().to_string(),
            &format!("{}:{to}", host.name()),
        ])
        .status()
        .expect("docker cp");
    assert!(copied.success(), "docker cp {} failed", from.display());
}

fn copy_in(host: &Host, text: &str, to: &str) {
    let tmp = std::env::temp_dir().join(format!("twofold-dirbench-{}", std::process::id()));
    std::fs::write(&tmp, text).expect("temp file");
    copy_file(host, &tmp, to);
    std::fs::remove_file(&tmp).expect("temp file");
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        f64::NAN
    } else if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    }
}

fn main() {
    let n_users = arg("--users", 3000);
    let secs = arg("--secs", 10);
    let threads = arg("--threads", 8);
    let ssh_logins = arg("--ssh-logins", 30);
    let flag = |name: &str| std::env::args().any(|a| a == name);
    // --nosync: slapd's mdb without its fsync per write (olcDbNoSync), to show what the
    // disk's flush costs; --plain: ldap:// instead of ldaps://, to show what TLS costs.
    let (nosync, plain) = (flag("--nosync"), flag("--plain"));
    let dirload: PathBuf = std::env::current_exe()
        .expect("own path")
        .with_file_name("dirload");
    assert!(
        dirload.exists(),
        "{} is missing: build the bench crate",
        dirload.display()
    );

    let dir = Directory::start(3);
    // slapd's own operation counters, readable by root on the server only.
    dir.run(
        "ldapmodify -Q -Y EXTERNAL -H ldapi:/// <<'EOF'\n\
         dn: cn=module{0},cn=config\nchangetype: modify\nadd: olcModuleLoad\nolcModuleLoad: back_monitor\n\n\
         dn: olcDatabase=monitor,cn=config\nchangetype: add\nobjectClass: olcDatabaseConfig\n\
         olcDatabase: monitor\nolcAccess: to * by dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth read by * none\n\
         EOF",
    )
    .assert_success();

    if nosync {
        dir.run(
            "ldapmodify -Q -Y EXTERNAL -H ldapi:/// <<'EOF'\n\
             dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\nreplace: olcDbNoSync\nolcDbNoSync: TRUE\n\
             EOF",
        )
        .assert_success();
    }
    let load_users: Vec<(String, String)> = (1..=n_users)
        .map(|i| (format!("b{i}"), random_secret()))
        .collect();
    let ssh_users: Vec<(String, String)> = (1..=ssh_logins + 2)
        .map(|i| (format!("s{i}"), random_secret()))
        .collect();
    dir.add(&entries(&load_users));
    dir.add(&entries(&ssh_users));

    let hosts: Vec<Host> = LOAD_HOSTS
        .iter()
        .map(|name| {
            let password = format!("{name}-secret");
            let config = dir.add_host(name, &password, plain);
            Host::new()
                .network(dir.network())
                .sshd(SshAuth::PublickeyThenTotp)
                .config(&config)
                .file("/etc/twofold/ldap-ca.pem", dir.ca())
                .secret_file("/etc/twofold/ldap.secret", &format!("{password}\n"))
                .build()
        })
        .collect();
    let users_file: String = load_users
        .iter()
        .map(|(n, s)| format!("{n} {s}\n"))
        .collect();
    for host in &hosts {
        host.run(&format!(
            "for i in $(seq 1 {n_users}); do echo \"b$i:x:$((20000 + i)):100::/nonexistent:/usr/sbin/nologin\"; \
             done >>/etc/passwd"
        ))
        .assert_success();
        copy_in(host, &users_file, "/root/users");
        copy_file(host, &dirload, "/usr/local/bin/dirload");
    }

    // 2. The load, with slapd's counters around it.
    let before = counters(&dir);
    let start_ms = (SystemTime::now().duration_since(UNIX_EPOCH).expect("clock")
        + Duration::from_secs(3))
    .as_millis();
    let outputs: Vec<String> = std::thread::scope(|s| {
        let runs: Vec<_> = hosts
            .iter()
            .map(|host| {
                s.spawn(move || {
                    let out = host.run(&format!("dirload /root/users {start_ms} {secs} {threads}"));
                    out.assert_success();
                    out.stdout
                })
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("host run"))
            .collect()
    });
    let after = counters(&dir);

    let mut accepted: HashMap<(String, u64), usize> = HashMap::new();
    let mut lat = Vec::new();
    let (mut attempts, mut oks, mut rates) = (0u64, 0u64, Vec::new());
    for (host, out) in LOAD_HOSTS.iter().zip(&outputs) {
        for line in out.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            match f.as_slice() {
                ["ok", user, step] => {
                    *accepted
                        .entry((user.to_string(), step.parse().expect("step")))
                        .or_default() += 1
                }
                ["lat", us] => lat.push(us.parse::<u64>().expect("latency")),
                ["sum", a, o, e] => {
                    let (a, o, e): (u64, u64, f64) = (
                        a.parse().expect("a"),
                        o.parse().expect("o"),
                        e.parse().expect("e"),
                    );
                    attempts += a;
                    oks += o;
                    rates.push(format!("{host} {:.0}/s", a as f64 / e));
                }
                _ => {}
            }
        }
    }
    lat.sort_unstable();
    let twice = accepted.values().filter(|&&n| n > 1).count();
    let op = |k: &str| after.get(k).copied().unwrap_or(0) - before.get(k).copied().unwrap_or(0);
    let per = |k: &str| op(k) as f64 / attempts as f64;

    println!("# twofold directory benchmark\n");
    println!(
        "One slapd (Debian's package, mdb{}), three hosts, every login over {} with its own \
         connection and bind, as a login in sshd does; {threads} threads per host for {secs} s; \
         {n_users} users walked in the same order by every host (each user's code raced by three hosts).\n",
        if nosync { ", olcDbNoSync: no fsync per write" } else { "" },
        if plain { "plain ldap://" } else { "ldaps://" }
    );
    println!("| figure | value |\n|---|---:|");
    println!(
        "| logins decided per second, 3 hosts together | {:.0} ({}) |",
        attempts as f64 / secs as f64,
        rates.join(", ")
    );
    println!("| logins decided | {attempts} |");
    println!(
        "| codes accepted (distinct user and time step) | {} |",
        accepted.len()
    );
    println!("| accepted logins | {oks} |");
    println!("| codes accepted more than once | {twice} |");
    println!(
        "| login latency p50 / p90 / p99 / worst (ms) | {:.1} / {:.1} / {:.1} / {:.1} |",
        percentile(&lat, 0.5),
        percentile(&lat, 0.9),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0)
    );
    println!(
        "| slapd operations per login: bind / search / add / modify / delete | {:.2} / {:.2} / {:.2} / {:.2} / {:.2} |",
        per("Bind"),
        per("Search"),
        per("Add"),
        per("Modify"),
        per("Delete")
    );
    // An accepted login adds its used step's entry (plus one add per race it lost there);
    // deletes prune entries whose step is hours old, so a short run makes none.
    println!(
        "| used items' entries added / deleted per accepted login | {:.2} / {:.2} |",
        op("Add") as f64 / oks.max(1) as f64,
        op("Delete") as f64 / oks.max(1) as f64
    );

    // 3. sshd end to end on host A: key alone, key + directory, key + files, interleaved.
    let a = &hosts[0];
    let ssh_file: String = ssh_users
        .iter()
        .map(|(n, s)| format!("{n} {s}\n"))
        .collect();
    copy_in(a, &ssh_file, "/root/ssh-users");
    let script = r#"set -eu
cp /usr/share/doc/twofold/examples/pam.d-sshd /etc/pam.d/sshd
rm -f /etc/ssh/sshd_config.d/00-twofold-e2e.conf
sed 's/pam_twofold\.so.*/pam_twofold.so config=\/etc\/twofold\/files.toml/' /etc/pam.d/sshd >/etc/pam.d/sshd-files
: >/etc/twofold/files.toml
ln -sf /usr/sbin/sshd /usr/sbin/sshd-files
cat >/etc/ssh/sshd_config_files <<EOF
ListenAddress 127.0.0.1
Port 2224
PidFile /run/sshd-files.pid
MaxStartups 100
PrintMotd no
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
AuthenticationMethods publickey,keyboard-interactive
EOF
cat >/etc/ssh/sshd_config.d/00-bench.conf <<EOF
ListenAddress 127.0.0.1
Port 22
Port 2222
MaxStartups 100
PrintMotd no
AuthenticationMethods publickey
EOF
printf '\nMatch LocalPort 2222\n    AuthenticationMethods publickey,keyboard-interactive\n' >>/etc/ssh/sshd_config
cat >/usr/local/bin/bench-askpass <<'EOF'
#!/bin/sh
exec oathtool --totp -b "$TWOFOLD_BENCH_SECRET"
EOF
chmod 0755 /usr/local/bin/bench-askpass
while read -r u secret; do
    useradd --create-home --shell /bin/sh "$u"
    install -d -m 700 -o "$u" -g "$u" "/home/$u/.ssh" "/home/$u/.config" "/home/$u/.config/twofold"
    install -m 600 -o "$u" -g "$u" /root/.ssh/id_ed25519.pub "/home/$u/.ssh/authorized_keys"
    printf 'version = 1\n\n[[device]]\nname = "phone"\nsecret = "%s"\nalgorithm = "SHA1"\ndigits = 6\nperiod = 30\ncreated = 0\nlast_step = 0\n' \
        "$secret" >"/home/$u/.config/twofold/secrets.toml"
    chown "$u:$u" "/home/$u/.config/twofold/secrets.toml"
    chmod 600 "/home/$u/.config/twofold/secrets.toml"
done </root/ssh-users
pkill -x sshd || true
sleep 0.2
/usr/sbin/sshd
/usr/sbin/sshd-files -f /etc/ssh/sshd_config_files
listening() { awk -v p=":$1$" '$2 ~ p && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp; }
for _ in $(seq 250); do listening 0016 && listening 08AE && listening 08B0 && break; sleep 0.02; done
login() { # PORT USER SECRET
    local s e rc=0
    s=$(date +%s%N)
    TWOFOLD_BENCH_SECRET=$3 SSH_ASKPASS=/usr/local/bin/bench-askpass SSH_ASKPASS_REQUIRE=force DISPLAY=none \
        setsid -w ssh -p "$1" -o NumberOfPasswordPrompts=1 "$2@127.0.0.1" true </dev/null >/dev/null 2>&1 || rc=$?
    e=$(date +%s%N)
    echo "$(( (e - s) / 1000 )) $rc"
}
i=0
while read -r u secret; do
    i=$((i + 1))
    if [ $i -le 2 ]; then login 22 "$u" "$secret" >/dev/null; login 2222 "$u" "$secret" >/dev/null; login 2224 "$u" "$secret" >/dev/null; continue; fi
    echo "key $(login 22 "$u" "$secret")"
    echo "dir $(login 2222 "$u" "$secret")"
    echo "files $(login 2224 "$u" "$secret")"
done </root/ssh-users
"#;
    let out = a.run(script);
    out.assert_success();
    let mut times: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut failed: HashMap<&str, usize> = HashMap::new();
    for line in out.stdout.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if let [kind @ ("key" | "dir" | "files"), us, rc] = f.as_slice() {
            times
                .entry(kind)
                .or_default()
                .push(us.parse::<f64>().expect("us") / 1000.0);
            if *rc != "0" {
                *failed.entry(kind).or_default() += 1;
            }
        }
    }
    let m = |k: &str| median(times.get(k).cloned().unwrap_or_default());
    println!(
        "\n## sshd end to end on host A ({ssh_logins} logins each, interleaved; `ssh ... true` timed inside the container)\n"
    );
    println!("| login | median (ms) | failed |\n|---|---:|---:|");
    for (k, label) in [
        ("key", "public key alone"),
        ("dir", "public key + twofold, directory backend"),
        ("files", "public key + twofold, file backend"),
    ] {
        println!(
            "| {label} | {:.1} | {} |",
            m(k),
            failed.get(k).copied().unwrap_or(0)
        );
    }
    println!(
        "\nDirectory backend over the file backend: {:+.1} ms (median); twofold over public key alone: \
         directory {:+.1} ms, files {:+.1} ms.",
        m("dir") - m("files"),
        m("dir") - m("key"),
        m("files") - m("key")
    );
}
