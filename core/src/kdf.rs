//! argon2id for recovery codes and passes. One evaluation per attempt: all codes of a file
//! share one salt, so a typed code is hashed once and compared against every stored hash.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub const HASH_LEN: usize = 32;
pub const SALT_LEN: usize = 16;

/// argon2id cost. The codes have 75+ bits of entropy, so the hash protects a stolen file,
/// not a weak secret; the defaults follow OWASP (19 MiB, 2 passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfParams {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams {
            m_kib: 19 * 1024,
            t: 2,
            p: 1,
        }
    }
}

impl KdfParams {
    /// Bounds checked when a file is read, so a planted file cannot make a login allocate
    /// gigabytes or spin for minutes.
    pub fn check(&self) -> Result<(), String> {
        if !(8..=65_536).contains(&self.m_kib)
            || !(1..=10).contains(&self.t)
            || !(1..=4).contains(&self.p)
        {
            return Err(format!(
                "argon2 parameters m_kib={} t={} p={} are out of range (m_kib 8..=65536, t 1..=10, p 1..=4)",
                self.m_kib, self.t, self.p
            ));
        }
        Ok(())
    }
}

/// Domain separation: a recovery code can never match a pass hash, nor the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Recovery,
    Pass,
    Scratch,
}

pub fn hash(
    params: KdfParams,
    purpose: Purpose,
    salt: &[u8],
    code: &str,
) -> Result<Zeroizing<[u8; HASH_LEN]>, String> {
    params.check()?;
    let p = argon2::Params::new(params.m_kib, params.t, params.p, Some(HASH_LEN))
        .map_err(|e| format!("argon2 parameters: {e}"))?;
    let blocks_len = p.block_count();
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
    let tag = match purpose {
        Purpose::Recovery => "twofold-recovery-v1:",
        Purpose::Pass => "twofold-pass-v1:",
        Purpose::Scratch => "twofold-ga-scratch-v1:",
    };
    let mut input = Zeroizing::new(Vec::with_capacity(tag.len() + code.len()));
    input.extend_from_slice(tag.as_bytes());
    input.extend_from_slice(code.as_bytes());
    let mut out = Zeroizing::new([0u8; HASH_LEN]);
    // argon2's own `hash_password_into` frees its memory blocks (19 MiB derived from the
    // code) without wiping them, even with its `zeroize` feature (which wipes the initial
    // and final hashes): ours are wiped on drop. Measured: no cost beyond noise (~19 ms).
    let mut blocks = Zeroizing::new(vec![argon2::Block::default(); blocks_len]);
    a.hash_password_into_with_memory(&input, salt, out.as_mut(), &mut blocks[..])
        .map_err(|e| format!("argon2: {e}"))?;
    Ok(out)
}

/// A hash computed before the user's lock was taken, so the lock is never held for the
/// length of an argon2 evaluation (a flood of recovery-shaped guesses would otherwise queue
/// the real user behind it). Used only if the salt and parameters are still the same.
pub struct Precomputed {
    pub purpose: Purpose,
    pub kdf: KdfParams,
    pub salt: String,
    pub hash: Zeroizing<[u8; HASH_LEN]>,
}

impl Precomputed {
    pub fn new(
        purpose: Purpose,
        kdf: KdfParams,
        salt: &str,
        code: &str,
    ) -> Result<Precomputed, String> {
        let bytes = crate::secret::decode_salt(salt)?;
        Ok(Precomputed {
            purpose,
            kdf,
            salt: salt.to_string(),
            hash: hash(kdf, purpose, &bytes, code)?,
        })
    }
}

/// The hash of `code` under `salt`: from `pre` if it matches, else one argon2 evaluation.
pub fn hash_or_reuse(
    params: KdfParams,
    purpose: Purpose,
    salt: &str,
    code: &str,
    pre: Option<&Precomputed>,
) -> Result<Zeroizing<[u8; HASH_LEN]>, String> {
    if let Some(p) = pre.filter(|p| p.purpose == purpose && p.kdf == params && p.salt == salt) {
        return Ok(p.hash.clone());
    }
    hash(params, purpose, &crate::secret::decode_salt(salt)?, code)
}

pub fn new_salt() -> Result<[u8; SALT_LEN], String> {
    let mut s = [0u8; SALT_LEN];
    getrandom::fill(&mut s).map_err(|e| format!("no randomness from the kernel: {e}"))?;
    Ok(s)
}

/// Index of the stored hash equal to `h`. Every entry is compared, in constant time each.
pub fn find(h: &[u8; HASH_LEN], stored: &[[u8; HASH_LEN]]) -> Option<usize> {
    let mut found = None;
    for (i, s) in stored.iter().enumerate() {
        if bool::from(s.ct_eq(h)) && found.is_none() {
            found = Some(i);
        }
    }
    found
}
