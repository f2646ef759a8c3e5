//! Answers read from standard input, a terminal or a pipe alike.

use crate::error::{Error, Result};
use std::io::{BufRead, IsTerminal, Read};
use zeroize::Zeroizing;

/// Longest line read; anything a person types here is far shorter.
const MAX_LINE: u64 = 256;

/// One line without its line ending; `None` at end of input.
pub fn read_line() -> Result<Option<Zeroizing<String>>> {
    let mut line = Zeroizing::new(String::new());
    let n = std::io::stdin()
        .lock()
        .take(MAX_LINE)
        .read_line(&mut line)
        .map_err(Error::Terminal)?;
    if n == 0 {
        return Ok(None);
    }
    while line.ends_with(['\n', '\r']) {
        line.pop();
    }
    Ok(Some(line))
}

/// Whether a terminal echoes what is typed (a pipe does not).
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}
