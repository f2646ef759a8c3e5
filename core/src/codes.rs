//! What a person types at the prompt, and the formats of the codes twofold hands out.
//!
//! Recovery codes and temporary access passes are written in a 32-letter alphabet without
//! 0, 1, I and O, in groups of four, with a check character at the end so a typo is caught
//! before any (expensive) hashing: `7KQM-3XTR-PW2H-9DCN`.

use zeroize::Zeroizing;

/// The alphabet of recovery codes and passes: 5 bits a character, nothing that looks alike.
pub const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// 15 random characters (75 bits) and a check character.
pub const RECOVERY_LEN: usize = 16;
/// 19 random characters (95 bits) and a check character.
pub const PASS_LEN: usize = 20;
/// Input longer than this is refused before any other work.
pub const MAX_INPUT_BYTES: usize = 128;

/// One attempt, classified. Code text is wiped when dropped.
#[derive(Debug)]
pub enum Attempt {
    /// ASCII digits, 6 to 8 of them.
    Totp(Zeroizing<String>),
    /// A well-formed recovery code in canonical form (16 characters, no dashes).
    Recovery(Zeroizing<String>),
    /// A well-formed temporary access pass in canonical form (20 characters).
    Pass(Zeroizing<String>),
    /// Not a code at all; the reason is safe to log (it never contains the input).
    Malformed(&'static str),
}

impl Attempt {
    pub fn method(&self) -> &'static str {
        match self {
            Attempt::Totp(_) => "totp",
            Attempt::Recovery(_) => "recovery",
            Attempt::Pass(_) => "pass",
            Attempt::Malformed(_) => "none",
        }
    }
}

/// Normalizes and classifies raw input: tolerant of case, spaces and dashes; strict otherwise.
pub fn classify(raw: &[u8]) -> Attempt {
    if raw.is_empty() {
        return Attempt::Malformed("empty input");
    }
    if raw.len() > MAX_INPUT_BYTES {
        return Attempt::Malformed("input too long");
    }
    if raw.contains(&0) {
        return Attempt::Malformed("input contains a NUL byte");
    }
    let Ok(text) = std::str::from_utf8(raw) else {
        return Attempt::Malformed("input is not UTF-8");
    };
    let mut canon = Zeroizing::new(String::with_capacity(text.len()));
    for c in text.chars() {
        match c {
            ' ' | '\t' | '-' => {}
            c if c.is_ascii_alphanumeric() => canon.push(c.to_ascii_uppercase()),
            _ => return Attempt::Malformed("input has characters that are not in any code"),
        }
    }
    if canon.is_empty() {
        return Attempt::Malformed("empty input");
    }
    if canon.bytes().all(|b| b.is_ascii_digit()) && canon.len() <= 8 {
        return if canon.len() >= 6 {
            Attempt::Totp(canon)
        } else {
            Attempt::Malformed("too few digits for a code")
        };
    }
    let kind = match canon.len() {
        RECOVERY_LEN => Attempt::Recovery as fn(Zeroizing<String>) -> Attempt,
        PASS_LEN => Attempt::Pass,
        n if n > 8 && canon.bytes().all(|b| b.is_ascii_digit()) => {
            return Attempt::Malformed("too many digits for a code")
        }
        _ => return Attempt::Malformed("input has the length of no code"),
    };
    let Some(values) = values_of(&canon) else {
        return Attempt::Malformed("input has characters that are not in any code");
    };
    let (body, check) = values.split_at(values.len() - 1);
    if luhn_mod32(body) != check[0] {
        return Attempt::Malformed("code check character is wrong (a typo?)");
    }
    kind(canon)
}

fn values_of(canon: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut v = Zeroizing::new(Vec::with_capacity(canon.len()));
    for b in canon.bytes() {
        v.push(ALPHABET.iter().position(|a| *a == b)? as u8);
    }
    Some(v)
}

/// Luhn mod N (N = 32): catches every single-character error and most swaps of neighbours.
fn luhn_mod32(values: &[u8]) -> u8 {
    let mut sum = 0u32;
    let mut factor = 2u32;
    for v in values.iter().rev() {
        let addend = factor * u32::from(*v);
        sum += addend / 32 + addend % 32;
        factor = if factor == 2 { 1 } else { 2 };
    }
    ((32 - sum % 32) % 32) as u8
}

/// A fresh code of `len` characters (the last one the check), canonical form.
pub fn generate(len: usize) -> Result<Zeroizing<String>, getrandom::Error> {
    let mut bytes = Zeroizing::new(vec![0u8; len - 1]);
    getrandom::fill(&mut bytes)?;
    // 32 divides 256, so masking to 5 bits keeps every character equally likely.
    let mut values: Zeroizing<Vec<u8>> = Zeroizing::new(bytes.iter().map(|b| b & 31).collect());
    let check = luhn_mod32(&values);
    values.push(check);
    Ok(Zeroizing::new(
        values
            .iter()
            .map(|v| ALPHABET[*v as usize] as char)
            .collect(),
    ))
}

/// `ABCDEFGH...` as `ABCD-EFGH-...`, the form printed for people.
pub fn grouped(canon: &str) -> String {
    let mut out = String::with_capacity(canon.len() + canon.len() / 4);
    push_grouped(&mut out, canon, '-');
    out
}

/// Appends `text` to `out` in groups of four characters separated by `sep`. The caller owns
/// `out`, so a secret can be grouped straight into a buffer that is wiped on drop.
pub fn push_grouped(out: &mut String, text: &str, sep: char) {
    for (i, c) in text.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push(sep);
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_recovery_codes_classify_as_recovery_in_any_typing() {
        for _ in 0..200 {
            let code = generate(RECOVERY_LEN).unwrap();
            let printed = grouped(&code);
            assert_eq!(printed.len(), 19);
            for typed in [
                printed.clone(),
                printed.to_lowercase(),
                printed.replace('-', " "),
                code.to_string(),
            ] {
                match classify(typed.as_bytes()) {
                    Attempt::Recovery(c) => assert_eq!(*c, *code),
                    other => panic!("{typed} classified as {other:?}"),
                }
            }
        }
    }

    #[test]
    fn generated_passes_classify_as_pass() {
        let p = generate(PASS_LEN).unwrap();
        assert!(matches!(classify(grouped(&p).as_bytes()), Attempt::Pass(_)));
    }

    #[test]
    fn every_single_character_typo_is_caught_by_the_check() {
        let code = generate(RECOVERY_LEN).unwrap();
        for i in 0..RECOVERY_LEN {
            for a in ALPHABET {
                let mut typo = code.as_bytes().to_vec();
                if typo[i] == *a {
                    continue;
                }
                typo[i] = *a;
                assert!(matches!(classify(&typo), Attempt::Malformed(_)));
            }
        }
    }

    #[test]
    fn digits_are_totp_codes() {
        assert!(matches!(classify(b"123456"), Attempt::Totp(_)));
        assert!(matches!(classify(b" 123 456 \n"), Attempt::Malformed(_)));
        assert!(matches!(classify(b" 123 456 "), Attempt::Totp(_)));
        assert!(matches!(classify(b"12345678"), Attempt::Totp(_)));
        assert!(matches!(
            classify(b"12345"),
            Attempt::Malformed("too few digits for a code")
        ));
        assert!(matches!(
            classify(b"123456789"),
            Attempt::Malformed("too many digits for a code")
        ));
    }

    #[test]
    fn hostile_inputs_are_malformed() {
        let long = vec![b'1'; 1 << 20];
        let cases: [&[u8]; 9] = [
            b"",
            &long,
            b"123\x00456",
            b"\xff\xfe123456",
            "١٢٣٤٥٦".as_bytes(),
            b"+123456",
            b"-",
            b"12345O",
            "１２３４５６".as_bytes(),
        ];
        for c in cases {
            assert!(matches!(classify(c), Attempt::Malformed(_)), "{c:?}");
        }
    }

    #[test]
    fn entropy_of_codes_meets_the_target() {
        // 5 bits a random character: 75 bits for recovery codes, 95 for passes.
        const { assert!((RECOVERY_LEN - 1) * 5 >= 60) };
        const { assert!((PASS_LEN - 1) * 5 >= 90) };
    }
}
