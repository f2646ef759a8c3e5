//! The directory backend: a user's whole state (the secret file's TOML text, one value of the
//! attribute `twofoldState`) on the user's own LDAP entry (`uid=USER` below `base`), in the
//! auxiliary object class `twofoldUser`, and each used single-use item (a TOTP step, a
//! recovery code, a pass) as a child entry of its own, `twofoldUsed=NAME,uid=USER,...` of the
//! class `twofoldUsedItem` (packaging/ldap/twofold.schema; names from `used.rs`).
//!
//! Exactly one login wins across hosts: a commit is one LDAP modify that deletes the exact
//! value the decision was taken on and adds the new one; RFC 4511 makes a modify atomic, so a
//! modify whose old value another host already replaced fails as a whole (noSuchAttribute)
//! and changes nothing. The login then reads again and decides again (a replayed code is
//! then refused), at most `TRIES` times, then refuses.
//!
//! Why the child entries: with two writable servers cut from each other, each side can
//! commit a state, and when they meet again replication keeps the entry written last, whole:
//! what only the other side recorded in `twofoldState` is lost. Entries added on either side
//! all exist after the merge. So a login that uses an item first adds its entry (an add
//! refused with entryAlreadyExists: another host used it, read and decide again), then
//! commits the state; every read takes the user's entry and its used items in one search and
//! hands `decide` the state without them (`used::forget_used`). A used item is never usable
//! again, whichever state wins. After a commit, a login deletes a few records that name
//! nothing acceptable any more (`used::prunable`).
//!
//! The host binds with its own account; the password comes from a root-owned file checked
//! like a secret file. Every connection attempt and every operation is bounded by `timeout`;
//! the URIs are tried in order, and when none answers the login is refused ("directory
//! unreachable"). TLS is rustls (ring), linked in: a system TLS library loaded with the
//! module would cost every login, directory or not, its symbol relocations (about 5 M
//! instructions with OpenSSL 3). ldap3's synchronous connection runs a current-thread tokio
//! runtime, which is dropped (its threads joined) with the connection, before the caller
//! returns.

use crate::config::Directory;
use crate::secret::{SecretFile, MAX_FILE_BYTES};
use crate::store::{Created, ErrorKind, Storage, StoreError, Update};
use crate::used::{self, Record};
use crate::UnixTime;
use ldap3::{LdapConn, LdapConnSettings, LdapError, Mod, Scope, SearchEntry};
use rustix::fs::{fstat, FileType, Mode, OFlags, ResolveFlags};
use std::collections::HashSet;
use std::io::Read;
use std::sync::Arc;
use zeroize::Zeroizing;

pub const OBJECT_CLASS: &str = "twofoldUser";
pub const ATTRIBUTE: &str = "twofoldState";
/// A used item's entry: its class, its naming attribute, and its owner's `uid` (what the
/// login's one search finds it by).
pub const USED_CLASS: &str = "twofoldUsedItem";
pub const USED_ATTRIBUTE: &str = "twofoldUsed";
pub const OWNER_ATTRIBUTE: &str = "twofoldOwner";
/// Decisions a login takes before it gives up when other hosts keep changing the entry.
const TRIES: u32 = 5;
/// Decisions a login takes once it has recorded the item it uses (the item is its own: no
/// other login can take it). Each failed commit then means another login of the user
/// committed (a wrong answer's failure; the logins that lost the item write nothing), so
/// the bound is the number of logins of one user racing at once that it outlasts.
const OWNED_TRIES: u32 = 64;
/// LDAP result codes that mean "the entry is not what the decision saw".
const NO_SUCH_ATTRIBUTE: u32 = 16;
const CONSTRAINT_VIOLATION: u32 = 19;
const TYPE_OR_VALUE_EXISTS: u32 = 20;
/// An add of a used item's entry that another host made first.
const ENTRY_ALREADY_EXISTS: u32 = 68;
/// The largest bind password file read.
const MAX_PASSWORD_BYTES: usize = 4096;

/// The user's entry as last read: what a commit must find there to replace it.
struct Seen {
    dn: String,
    /// Whether the entry has the object class already (a first enrollment adds it).
    has_class: bool,
    /// The attribute's value, exactly as read.
    value: Option<Zeroizing<String>>,
    /// The used items' entries below the user's entry.
    used: Vec<Record>,
}

/// One user's state on their directory entry, through one connection kept for the login.
pub struct DirectoryEntry<'a> {
    dir: &'a Directory,
    user: String,
    conn: Option<LdapConn>,
    /// The URI that answered, once connected.
    server: Option<String>,
    seen: Option<Seen>,
    /// The caller's time, for the age of used items' entries: without it, none is pruned.
    now: Option<UnixTime>,
    /// Used items' entries this transaction added: the decision that added them is taken
    /// again without them when the state's commit met a change by another host.
    ours: Vec<String>,
}

fn error(problem: impl Into<String>, fix: &str, kind: ErrorKind) -> StoreError {
    StoreError {
        path: "directory".into(),
        problem: problem.into(),
        fix: fix.into(),
        kind,
    }
}

fn is_conflict(rc: u32) -> bool {
    matches!(
        rc,
        NO_SUCH_ATTRIBUTE | CONSTRAINT_VIOLATION | TYPE_OR_VALUE_EXISTS
    )
}

impl<'a> DirectoryEntry<'a> {
    pub fn new(dir: &'a Directory, user: &str) -> DirectoryEntry<'a> {
        DirectoryEntry {
            dir,
            user: user.into(),
            conn: None,
            server: None,
            seen: None,
            now: None,
            ours: Vec::new(),
        }
    }

    /// With the caller's time (the core reads no clock), so that the logins' commits delete
    /// used items' entries once old enough (`used::prunable`).
    pub fn at(mut self, now: UnixTime) -> DirectoryEntry<'a> {
        self.now = Some(now);
        self
    }

    /// The URI of the server that answered (`None` before the first operation).
    pub fn server(&self) -> Option<&str> {
        self.server.as_deref()
    }

    /// The connection, opened and bound on first use: each URI in order, until one answers.
    fn conn(&mut self) -> Result<&mut LdapConn, StoreError> {
        if self.conn.is_none() {
            let (conn, uri) = connect(self.dir)?;
            self.conn = Some(conn);
            self.server = Some(uri);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| error("no connection", "report this as a bug", ErrorKind::Io))
    }

    /// Searches the user's entry and its used items' entries (one search) and keeps what a
    /// commit needs. `Ok(None)`: no entry.
    fn search(&mut self) -> Result<Option<&Seen>, StoreError> {
        let timeout = self.dir.timeout;
        let base = self.dir.base.clone();
        let name = ldap3::ldap_escape(self.user.as_str());
        let filter = format!("(|(uid={name})({OWNER_ATTRIBUTE}={name}))");
        let conn = self.conn()?;
        let found = conn
            .with_timeout(timeout)
            .search(
                &base,
                Scope::Subtree,
                &filter,
                vec!["objectClass", ATTRIBUTE, USED_ATTRIBUTE, "createTimestamp"],
            )
            .and_then(|r| r.success());
        let (entries, _) = found.map_err(|e| failed("search", &e))?;
        let (records, users): (Vec<SearchEntry>, Vec<SearchEntry>) = entries
            .into_iter()
            .map(SearchEntry::construct)
            .partition(|e| has_class(e, USED_CLASS));
        self.seen = match users.len() {
            0 => None,
            1 => {
                let entry = users.into_iter().next().ok_or_else(|| {
                    error(
                        "search lost its entry",
                        "report this as a bug",
                        ErrorKind::Io,
                    )
                })?;
                let mut seen = seen(entry, &self.user)?;
                seen.used = below(&seen.dn, records);
                Some(seen)
            }
            n => {
                return Err(error(
                    format!("has {n} entries with uid={} below {base}", self.user),
                    "keep one entry per user below directory.base",
                    ErrorKind::Unsafe,
                ))
            }
        };
        Ok(self.seen.as_ref())
    }

    /// Adds the entry of the used item `name` below the user's entry. `Ok(false)`: it
    /// exists already (another host used the item first), nothing was written.
    fn add_used(&mut self, dn: &str, name: &str) -> Result<bool, StoreError> {
        if !used::valid_name(name) {
            return Err(error(
                format!("a used item's name is malformed: {name}"),
                "report this as a bug",
                ErrorKind::Unsafe,
            ));
        }
        let child = format!("{USED_ATTRIBUTE}={name},{dn}");
        let owner = self.user.clone();
        let attrs = vec![
            ("objectClass", HashSet::from([USED_CLASS])),
            (USED_ATTRIBUTE, HashSet::from([name])),
            (OWNER_ATTRIBUTE, HashSet::from([owner.as_str()])),
        ];
        let timeout = self.dir.timeout;
        let result = self
            .conn()?
            .with_timeout(timeout)
            .add(&child, attrs)
            .map_err(|e| failed("add", &e))?;
        match result.rc {
            0 => Ok(true),
            ENTRY_ALREADY_EXISTS => Ok(false),
            rc => Err(error(
                format!(
                    "refused to record a used item below {dn}: {} ({rc})",
                    result.text
                ),
                used_refused_fix(rc),
                ErrorKind::Io,
            )),
        }
    }

    /// Deletes a few used items' entries that name nothing acceptable any more, now that
    /// `file` is the state. Best effort: an entry left stays harmless, and the next
    /// commit tries again.
    fn prune(&mut self, dn: &str, records: &[Record], file: &SecretFile) {
        let Some(now) = self.now else { return };
        let timeout = self.dir.timeout;
        for name in used::prunable(records, file, now) {
            let child = format!("{USED_ATTRIBUTE}={name},{dn}");
            let Ok(conn) = self.conn() else { return };
            if conn.with_timeout(timeout).delete(&child).is_err() {
                return;
            }
        }
    }

    /// Commits `new` in place of what was seen, in one modify. `Ok(false)`: the entry had
    /// changed (another host committed first), nothing was written.
    fn commit(&mut self, new: &SecretFile) -> Result<bool, StoreError> {
        let text = new.to_toml().map_err(|e| {
            error(
                format!("the new state would not be valid: {e}"),
                "report this as a bug",
                ErrorKind::Unsafe,
            )
        })?;
        let seen = self.seen.take().ok_or_else(|| {
            error(
                "commit without a read",
                "report this as a bug",
                ErrorKind::Io,
            )
        })?;
        let mut mods: Vec<Mod<&[u8]>> = Vec::with_capacity(3);
        if !seen.has_class {
            mods.push(Mod::Add(
                "objectClass".as_bytes(),
                HashSet::from([OBJECT_CLASS.as_bytes()]),
            ));
        }
        if let Some(old) = &seen.value {
            mods.push(Mod::Delete(
                ATTRIBUTE.as_bytes(),
                HashSet::from([old.as_bytes()]),
            ));
        }
        mods.push(Mod::Add(
            ATTRIBUTE.as_bytes(),
            HashSet::from([text.as_bytes()]),
        ));
        let timeout = self.dir.timeout;
        let result = self
            .conn()?
            .with_timeout(timeout)
            .modify(&seen.dn, mods)
            .map_err(|e| failed("modify", &e))?;
        match result.rc {
            0 => {
                self.seen = Some(Seen {
                    dn: seen.dn,
                    has_class: true,
                    value: Some(Zeroizing::new(text.to_string())),
                    used: seen.used,
                });
                Ok(true)
            }
            rc if is_conflict(rc) => Ok(false),
            rc => Err(error(
                format!("refused the change of {}: {} ({rc})", seen.dn, result.text),
                write_refused_fix(rc),
                ErrorKind::Io,
            )),
        }
    }

    /// Runs `decide` once on the state as it is now, and commits the file it returns; an
    /// entry another host changed in between is an error (nothing written): for the CLI,
    /// whose person can run the command again. `decide` sees `Ok(None)` for no state.
    pub fn replace<T, E: From<StoreError>>(
        &mut self,
        decide: impl FnOnce(Result<Option<SecretFile>, StoreError>) -> Result<(SecretFile, T), E>,
    ) -> Result<T, E> {
        let current = match self.search()? {
            None => return Err(self.no_entry().into()),
            Some(seen) => state(seen, &[]),
        };
        let (file, value) = decide(current)?;
        if self.commit(&file)? {
            Ok(value)
        } else {
            Err(error(
                "changed on another host while this command ran; nothing was written",
                "run the command again",
                ErrorKind::Io,
            )
            .into())
        }
    }

    /// Deletes the user's state (admin reset): `false` if there was none.
    pub fn remove(&mut self) -> Result<bool, StoreError> {
        let Some(seen) = self.search()? else {
            return Ok(false);
        };
        let (dn, Some(old)) = (seen.dn.clone(), seen.value.clone()) else {
            return Ok(false);
        };
        let timeout = self.dir.timeout;
        let mods = vec![Mod::Delete(
            ATTRIBUTE.as_bytes(),
            HashSet::from([old.as_bytes()]),
        )];
        let result = self
            .conn()?
            .with_timeout(timeout)
            .modify(&dn, mods)
            .map_err(|e| failed("modify", &e))?;
        match result.rc {
            0 => Ok(true),
            rc => Err(error(
                format!("refused the removal from {dn}: {} ({rc})", result.text),
                "run the command again; if it persists, check the ACLs",
                ErrorKind::Io,
            )),
        }
    }

    /// Puts `new` on the user's entry, which the last `read` found without a state (migration
    /// from a secret file): one modify that adds the value, and fails as a whole when another
    /// host gave the entry a state meanwhile (the attribute is single-valued). A state is
    /// never replaced this way.
    pub fn create(&mut self, new: &SecretFile) -> Result<(), StoreError> {
        match &self.seen {
            None => return Err(self.no_entry()),
            Some(seen) if seen.value.is_some() => {
                return Err(error(
                    format!("uid={} already holds a state, which is never replaced", self.user),
                    "compare them with `twofold admin status`; `twofold admin reset` removes the entry's state",
                    ErrorKind::Unsafe,
                ))
            }
            Some(_) => {}
        }
        if self.commit(new)? {
            Ok(())
        } else {
            Err(error(
                format!("uid={} was given a state on another host while this command ran; nothing was written", self.user),
                "compare them with `twofold admin status`; the entry's state is kept",
                ErrorKind::Unsafe,
            ))
        }
    }

    fn no_entry(&self) -> StoreError {
        error(
            format!("has no entry uid={} below {}", self.user, self.dir.base),
            "create the user's entry in the directory first",
            ErrorKind::Unsafe,
        )
    }
}

/// The `uid` of every entry below `base` (`with_state`: of those holding a twofold state),
/// sorted, and the URI that answered. Paged; a list the server cuts short (its size limit) is
/// an error, never taken for the whole list.
pub fn users(dir: &Directory, with_state: bool) -> Result<(Vec<String>, String), StoreError> {
    use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
    let (mut conn, server) = connect(dir)?;
    let filter = if with_state {
        format!("(&(objectClass={OBJECT_CLASS})({ATTRIBUTE}=*))")
    } else {
        "(uid=*)".to_string()
    };
    let adapters: Vec<Box<dyn Adapter<&str, Vec<&str>>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(500)),
    ];
    let mut names = Vec::new();
    let mut search = conn
        .with_timeout(dir.timeout)
        .streaming_search_with(adapters, &dir.base, Scope::Subtree, &filter, vec!["uid"])
        .map_err(|e| failed("search", &e))?;
    while let Some(entry) = search.next().map_err(|e| failed("search", &e))? {
        let entry = SearchEntry::construct(entry);
        for (key, values) in entry.attrs {
            if key.eq_ignore_ascii_case("uid") {
                names.extend(values);
            }
        }
    }
    search.result().success().map_err(|e| {
        error(
            format!("gave no complete list of the users below {}: {e}", dir.base),
            "raise the size limit of the host's bind_dn on the server (olcLimits), or name the users one at a time",
            ErrorKind::Io,
        )
    })?;
    names.sort();
    names.dedup();
    Ok((names, server))
}

/// The state of what was seen, without the items its used items' entries name (but those of
/// `ours`): `Ok(None)` when the entry holds none.
fn state(seen: &Seen, ours: &[String]) -> Result<Option<SecretFile>, StoreError> {
    let Some(text) = &seen.value else {
        return Ok(None);
    };
    let file = SecretFile::parse(text.as_bytes()).map_err(|e| {
        error(
            format!("{ATTRIBUTE} of {} is not valid: {}", seen.dn, e.0),
            "have an admin run `twofold admin reset` and re-enroll",
            ErrorKind::Unsafe,
        )
    })?;
    let names = (seen.used.iter())
        .map(|r| r.name.as_str())
        .filter(|n| !ours.iter().any(|o| o == n));
    Ok(Some(used::forget_used(&file, names)))
}

fn has_class(entry: &SearchEntry, class: &str) -> bool {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("objectClass"))
        .is_some_and(|(_, v)| v.iter().any(|c| c.eq_ignore_ascii_case(class)))
}

/// The used items' entries directly below `dn` (others are not this user's: ignored).
fn below(dn: &str, entries: Vec<SearchEntry>) -> Vec<Record> {
    let mut records = Vec::with_capacity(entries.len());
    for mut entry in entries {
        let parent = entry.dn.split_once(',').map(|(_, p)| p);
        if !parent.is_some_and(|p| p.eq_ignore_ascii_case(dn)) {
            continue;
        }
        let mut take = |attr: &str| {
            let key = entry
                .attrs
                .keys()
                .find(|k| k.eq_ignore_ascii_case(attr))
                .cloned();
            key.and_then(|k| entry.attrs.remove(&k))
                .and_then(|mut v| v.pop())
        };
        let Some(name) = take(USED_ATTRIBUTE) else {
            continue;
        };
        let created = take("createTimestamp")
            .as_deref()
            .and_then(crate::time::parse_generalized_time);
        records.push(Record { name, created });
    }
    records
}

fn seen(mut entry: SearchEntry, user: &str) -> Result<Seen, StoreError> {
    let has_class = has_class(&entry, OBJECT_CLASS);
    let key = entry
        .attrs
        .keys()
        .find(|k| k.eq_ignore_ascii_case(ATTRIBUTE))
        .cloned();
    let mut values = key.and_then(|k| entry.attrs.remove(&k)).unwrap_or_default();
    if entry
        .bin_attrs
        .keys()
        .any(|k| k.eq_ignore_ascii_case(ATTRIBUTE))
    {
        return Err(error(
            format!("{ATTRIBUTE} of {} is not text", entry.dn),
            "have an admin run `twofold admin reset` and re-enroll",
            ErrorKind::Unsafe,
        ));
    }
    let value = match values.len() {
        0 => None,
        1 => values.pop().map(Zeroizing::new),
        n => {
            return Err(error(
                format!("{ATTRIBUTE} of uid={user} has {n} values"),
                "install twofold's schema (it is single-valued) and reset the user",
                ErrorKind::Unsafe,
            ))
        }
    };
    if value.as_ref().is_some_and(|v| v.len() > MAX_FILE_BYTES) {
        return Err(error(
            format!(
                "{ATTRIBUTE} of {} is larger than {MAX_FILE_BYTES} bytes",
                entry.dn
            ),
            "have an admin run `twofold admin reset` and re-enroll",
            ErrorKind::Unsafe,
        ));
    }
    Ok(Seen {
        dn: entry.dn,
        has_class,
        value,
        used: Vec::new(),
    })
}

/// What to do about a modify the server refused: a read-only replica (a referral, 10, or
/// unwillingToPerform, 53, as slapd answers for a consumer without an update referral)
/// takes no writes at all; otherwise the ACLs are the likely cause.
fn write_refused_fix(rc: u32) -> &'static str {
    match rc {
        10 | 53 => "the server takes no writes (a read-only replica?): list the writable provider first in directory.uri; logins that must record a used code are refused while it is down",
        _ => "check the ACLs: the host's bind_dn must be allowed to write twofoldState and objectClass",
    }
}

/// What to do about an add of a used item's entry the server refused.
fn used_refused_fix(rc: u32) -> &'static str {
    match rc {
        10 | 53 => write_refused_fix(rc),
        // undefinedAttributeType, objectClassViolation, invalidAttributeSyntax
        17 | 65 | 21 => "load twofold's current schema (twofold.ldif: the class twofoldUsedItem) on every directory server",
        _ => "check the ACLs (twofold-acl.ldif): the host's bind_dn must be allowed to add twofoldUsedItem entries below users' entries",
    }
}

fn failed(what: &str, e: &LdapError) -> StoreError {
    error(
        format!("unreachable: {what} failed: {e}"),
        "check the network and the directory servers; logins are refused until one answers",
        ErrorKind::Io,
    )
}

/// Connects to the first URI that answers and binds as the host: the connection, and that URI.
fn connect(dir: &Directory) -> Result<(LdapConn, String), StoreError> {
    let password = read_bind_password(&dir.bind_password_file)?;
    let tls = tls_config(dir)?;
    let mut reasons = Vec::with_capacity(dir.uri.len());
    for uri in &dir.uri {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(dir.timeout)
            .set_config(tls.clone());
        let bound = LdapConn::with_settings(settings, uri).and_then(|mut conn| {
            conn.with_timeout(dir.timeout)
                .simple_bind(&dir.bind_dn, &password)?
                .success()?;
            Ok(conn)
        });
        match bound {
            Ok(conn) => return Ok((conn, uri.clone())),
            Err(e) => reasons.push(format!("{uri}: {e}")),
        }
    }
    Err(error(
        format!("unreachable ({})", reasons.join("; ")),
        "check the network, the directory servers and the host's bind_dn and password; logins are refused until one answers",
        ErrorKind::Io,
    ))
}

/// TLS (rustls) trusting the configured CA only, or the system's CAs without `ca_file`.
fn tls_config(dir: &Directory) -> Result<Arc<rustls::ClientConfig>, StoreError> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    match &dir.ca_file {
        Some(ca) => {
            let bad = |problem: String| {
                error(
                    problem,
                    "fix directory.ca_file in twofold.toml",
                    ErrorKind::Unsafe,
                )
            };
            let pem = std::fs::read(ca).map_err(|e| StoreError {
                kind: ErrorKind::Io,
                ..bad(format!("ca_file {ca} cannot be read: {e}"))
            })?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| bad(format!("ca_file {ca} is not PEM: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| bad(format!("ca_file {ca} holds a bad certificate: {e}")))?;
            }
            if roots.is_empty() {
                return Err(bad(format!("ca_file {ca} holds no certificate")));
            }
        }
        None => {
            // Certificates the system holds but rustls cannot use are left out.
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            error(
                format!("TLS setup failed: {e}"),
                "report this as a bug",
                ErrorKind::Io,
            )
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Reads the host's bind password: a regular file owned by root, mode 0600 or 0400, one
/// link, reached without any symlink in its path. One trailing newline is not part of it.
pub fn read_bind_password(path: &str) -> Result<Zeroizing<String>, StoreError> {
    let bad = |problem: String, fix: &str| StoreError {
        path: path.into(),
        problem,
        fix: fix.into(),
        kind: ErrorKind::Unsafe,
    };
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let resolve = ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    let fd =
        rustix::fs::openat2(rustix::fs::CWD, path, flags, Mode::empty(), resolve).map_err(|e| {
            match e {
                rustix::io::Errno::LOOP | rustix::io::Errno::XDEV => bad(
                    "is reached through a symlink".into(),
                    "name the real file in directory.bind_password_file",
                ),
                e => StoreError {
                    kind: ErrorKind::Io,
                    ..bad(
                        format!("cannot be opened: {e}"),
                        "create it (root-owned, mode 0600) with the host's directory password",
                    )
                },
            }
        })?;
    let st = fstat(&fd).map_err(|e| bad(format!("fstat failed: {e}"), "check the file"))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(bad(
            "is not a regular file".into(),
            "replace it with a file",
        ));
    }
    if st.st_uid != 0 {
        return Err(bad(
            format!("is owned by uid {}, not root", st.st_uid),
            &format!("run `chown root:root {path}`"),
        ));
    }
    if !matches!(st.st_mode & 0o7777, 0o600 | 0o400) {
        return Err(bad(
            format!(
                "has mode {:04o}; only root may read it",
                st.st_mode & 0o7777
            ),
            &format!("run `chmod 600 {path}`"),
        ));
    }
    if st.st_nlink != 1 {
        return Err(bad(
            format!("has {} hard links", st.st_nlink),
            "replace it with a file of its own",
        ));
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_PASSWORD_BYTES + 1));
    std::fs::File::from(fd)
        .take(MAX_PASSWORD_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(format!("read failed: {e}"), "check the file"))?;
    if bytes.len() > MAX_PASSWORD_BYTES {
        return Err(bad("is too large for a password".into(), "check the file"));
    }
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| bad("is not UTF-8 text".into(), "check the file"))?;
    if text.is_empty() {
        return Err(bad("is empty".into(), "write the host's password into it"));
    }
    Ok(Zeroizing::new(text.to_string()))
}

impl Storage for DirectoryEntry<'_> {
    /// The state without the items its used items' entries name.
    fn read(&mut self) -> Result<Option<SecretFile>, StoreError> {
        match self.search()? {
            None => Ok(None),
            Some(seen) => state(seen, &[]),
        }
    }

    /// Decides on the state `read` saw (or reads it), records the items the decision used
    /// (an entry each, added first), then commits the state with one compare-and-swap
    /// modify; when another host used the item or committed first, reads and decides again,
    /// `TRIES` times at most, `OWNED_TRIES` once the item is recorded as this login's. A login
    /// whose item another login recorded first, and whose answer is then refused, writes
    /// nothing ([`Update::Taken`]): the losers of a race for a right answer neither count a
    /// failure nor pause the app codes under the winner. A decision that changes nothing commits nothing: it is a
    /// refusal (every accepted code, recovery code or pass changes the state).
    fn update<T>(
        &mut self,
        mut decide: impl FnMut(&SecretFile) -> (T, Option<SecretFile>),
    ) -> Result<Update<T>, StoreError> {
        let mut tries = 0;
        // Whether another login recorded an item this one's answer used.
        let mut lost = false;
        'decide: while tries
            < if self.ours.is_empty() {
                TRIES
            } else {
                OWNED_TRIES
            }
        {
            tries += 1;
            if self.seen.is_none() {
                self.search()?;
            }
            let Some(seen) = &self.seen else {
                return Ok(Update::Absent);
            };
            let Some(file) = state(seen, &self.ours)? else {
                return Ok(Update::Absent);
            };
            let (dn, records) = (seen.dn.clone(), seen.used.clone());
            let (value, change) = decide(&file);
            let Some(new) = change else {
                return Ok(Update::Committed(value));
            };
            let consumed = used::consumed(&file, &new);
            if lost && consumed.is_empty() {
                // Another login recorded the item this one's answer used, and the answer
                // is refused now: a lost race for a right answer, not a guess. Counting it
                // would let the losers' failures pause the app codes before the winner's
                // commit, and refuse the winner too.
                return Ok(Update::Taken(value));
            }
            for name in consumed {
                if self.ours.contains(&name) {
                    continue;
                }
                match self.add_used(&dn, &name) {
                    Ok(true) => self.ours.push(name),
                    Ok(false) => {
                        self.seen = None;
                        lost = true;
                        continue 'decide;
                    }
                    Err(e) => return Ok(Update::NotSaved(value, e)),
                }
            }
            match self.commit(&new) {
                Ok(true) => {
                    self.prune(&dn, &records, &new);
                    return Ok(Update::Committed(value));
                }
                Ok(false) => self.seen = None,
                Err(e) => return Ok(Update::NotSaved(value, e)),
            }
        }
        Err(error(
            format!("changed by other logins {tries} times in a row; refused"),
            "try again",
            ErrorKind::Io,
        ))
    }

    /// Enrollment at first login is not offered with the directory (`Config` refuses
    /// `unenrolled = "enroll"` with `[directory]`): refused, nothing written.
    fn create(&mut self, _file: &SecretFile) -> Result<Created, StoreError> {
        Err(error(
            "enrollment at login is not available with the directory backend",
            "enroll users with `twofold enroll --user NAME` as root on a host",
            ErrorKind::Unsafe,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A fresh root-owned scratch directory. The checks want root-owned files: these tests
    /// run as root (CI does) and fail, not pass, otherwise.
    fn scratch(name: &str) -> std::path::PathBuf {
        assert!(
            rustix::process::geteuid().is_root(),
            "bind password tests must run as root"
        );
        let dir = std::env::temp_dir().join(format!("twofold-dir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        dir
    }

    fn secret(dir: &std::path::Path, mode: u32) -> String {
        let path = dir.join("ldap.secret");
        std::fs::write(&path, "s3cret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path.to_str().unwrap().to_string()
    }

    fn entry(dn: &str, attrs: &[(&str, &str)]) -> SearchEntry {
        let mut e = SearchEntry {
            dn: dn.into(),
            attrs: Default::default(),
            bin_attrs: Default::default(),
        };
        for (k, v) in attrs {
            e.attrs
                .entry(k.to_string())
                .or_default()
                .push(v.to_string());
        }
        e
    }

    /// Only the entries directly below the user's count, with the name and age the server
    /// gave them; the DN compares as LDAP does, without regard to case.
    #[test]
    fn used_items_are_the_entries_directly_below_the_users() {
        let user = "uid=alice,ou=people,dc=example,dc=org";
        let name = format!("r-{}", "a".repeat(32));
        let item = |dn: &str| {
            entry(
                dn,
                &[
                    ("objectClass", USED_CLASS),
                    ("twofoldused", &name),
                    ("createTimestamp", "20261205130615Z"),
                ],
            )
        };
        let found = below(
            user,
            vec![
                item(&format!(
                    "twofoldUsed={name},uid=alice,ou=People,dc=example,dc=org"
                )),
                item(&format!(
                    "twofoldUsed={name},uid=bob,ou=people,dc=example,dc=org"
                )),
                item(&format!("twofoldUsed={name},cn=x,{user}")),
                entry(
                    &format!("twofoldUsed=x,{user}"),
                    &[("objectClass", USED_CLASS)],
                ),
            ],
        );
        assert_eq!(
            found,
            vec![Record {
                name: name.clone(),
                created: crate::time::parse_generalized_time("20261205130615Z"),
            }]
        );
        assert!(found[0].created.is_some());
        assert!(has_class(&item(user), "twofoldusediteM"));
    }

    #[test]
    fn a_refused_record_of_a_used_item_names_the_schema_or_the_acls() {
        assert!(used_refused_fix(65).contains("schema"));
        assert!(used_refused_fix(17).contains("schema"));
        assert!(used_refused_fix(50).contains("twofoldUsedItem"));
        assert!(used_refused_fix(53).contains("read-only replica"));
    }

    #[test]
    fn a_write_refused_by_a_read_only_replica_says_so_and_not_acls() {
        for rc in [10, 53] {
            assert!(write_refused_fix(rc).contains("read-only replica"), "{rc}");
        }
        assert!(write_refused_fix(50).contains("ACLs"));
    }

    #[test]
    fn a_root_only_password_file_is_read_without_its_newline() {
        let dir = scratch("ok");
        for mode in [0o600, 0o400] {
            let path = secret(&dir, mode);
            assert_eq!(read_bind_password(&path).unwrap().as_str(), "s3cret");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_password_file_others_could_read_or_write_is_refused() {
        let dir = scratch("mode");
        for mode in [0o640, 0o604, 0o644, 0o700, 0o602] {
            let path = secret(&dir, mode);
            let err = read_bind_password(&path).unwrap_err();
            assert!(err.problem.contains("only root may read it"), "{err}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_password_file_not_owned_by_root_is_refused() {
        let dir = scratch("owner");
        let path = secret(&dir, 0o600);
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        let err = read_bind_password(&path).unwrap_err();
        assert!(err.problem.contains("owned by uid 65534"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_password_file_reached_through_a_symlink_is_refused() {
        let dir = scratch("link");
        let real = secret(&dir, 0o600);
        let file_link = dir.join("file-link");
        std::os::unix::fs::symlink(&real, &file_link).unwrap();
        let dir_link = dir.join("dir-link");
        std::os::unix::fs::symlink(&dir, &dir_link).unwrap();
        for path in [file_link, dir_link.join("ldap.secret")] {
            let err = read_bind_password(path.to_str().unwrap()).unwrap_err();
            assert!(err.problem.contains("symlink"), "{err}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_empty_or_linked_password_file_is_refused() {
        let dir = scratch("empty");
        let path = secret(&dir, 0o600);
        std::fs::write(&path, "\n").unwrap();
        assert!(read_bind_password(&path)
            .unwrap_err()
            .problem
            .contains("empty"));
        std::fs::hard_link(&path, dir.join("other")).unwrap();
        assert!(read_bind_password(&path)
            .unwrap_err()
            .problem
            .contains("hard links"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
