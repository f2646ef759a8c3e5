//! The documents' snippets, read from the repository's own files when the test runs, so a
//! snippet that changes is what the suite applies: README.md marks a fenced block with
//! `<!-- snippet: NAME -->` on the line before it; a man page marks an `.EX` ... `.EE`
//! block with `.\" snippet: NAME` before it.

use std::path::PathBuf;

/// The text of a file of the repository, by its path from the repository's root.
#[track_caller]
pub fn repo_file(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()))
}

/// The fenced block of a Markdown file (e.g. `README.md`) marked `<!-- snippet: NAME -->`,
/// without its fences, ending with a newline.
#[track_caller]
pub fn snippet(file: &str, name: &str) -> String {
    markdown_snippet(&repo_file(file), name).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The `.EX` block of a man page (e.g. `packaging/man/pam_twofold.8`) marked
/// `.\" snippet: NAME`, with its roff escapes turned into the characters a reader sees.
#[track_caller]
pub fn man_snippet(file: &str, name: &str) -> String {
    roff_snippet(&repo_file(file), name).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn markdown_snippet(text: &str, name: &str) -> Result<String, String> {
    let marker = format!("<!-- snippet: {name} -->");
    let after = unique_marker(text, &marker)?;
    let mut lines = after.lines().skip_while(|l| l.trim().is_empty());
    let fence = lines.next().unwrap_or_default();
    // A block in a list item is indented like its fence; the indentation is not its text.
    let indent = &fence[..fence.len() - fence.trim_start().len()];
    let fence = fence.trim_start();
    if !fence.starts_with("```") {
        return Err(format!("{marker} is not followed by a fenced block"));
    }
    let mut body = String::new();
    for line in lines {
        if line.trim_start().starts_with("```") {
            return Ok(body);
        }
        body.push_str(line.strip_prefix(indent).unwrap_or(line));
        body.push('\n');
    }
    Err(format!("the block after {marker} has no closing fence"))
}

fn roff_snippet(text: &str, name: &str) -> Result<String, String> {
    let marker = format!(".\\\" snippet: {name}");
    let after = unique_marker(text, &marker)?;
    let mut lines = after.lines().skip(1).skip_while(|l| *l != ".EX");
    if lines.next() != Some(".EX") {
        return Err(format!("{marker} is not followed by an .EX block"));
    }
    let mut body = String::new();
    for line in lines {
        if line == ".EE" {
            return Ok(body);
        }
        body.push_str(&unescape_roff(line)?);
        body.push('\n');
    }
    Err(format!("the block after {marker} has no .EE"))
}

/// The text after the one occurrence of `marker`.
fn unique_marker<'t>(text: &'t str, marker: &str) -> Result<&'t str, String> {
    match text.match_indices(marker).collect::<Vec<_>>()[..] {
        [(at, _)] => Ok(&text[at + marker.len()..]),
        [] => Err(format!("no {marker}")),
        _ => Err(format!("{marker} appears more than once")),
    }
}

/// The escapes our pages use in examples; any other is an error, so a snippet never
/// reaches a host with roff syntax the test did not understand.
fn unescape_roff(line: &str) -> Result<String, String> {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let (replacement, len) = match rest {
            r if r.starts_with("\\-") => ("-", 2),
            r if r.starts_with("\\(dq") => ("\"", 4),
            r if r.starts_with("\\e") => ("\\", 2),
            r if r.starts_with("\\(aq") => ("'", 4),
            _ => return Err(format!("unknown roff escape in example line {line:?}")),
        };
        out.push_str(replacement);
        rest = &rest[len..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_snippet_is_the_fenced_block_after_its_marker() {
        let text = "a\n<!-- snippet: x -->\n\n```sh\none\ntwo\n```\n```\nthree\n```\n";
        assert_eq!(markdown_snippet(text, "x").unwrap(), "one\ntwo\n");
        assert!(markdown_snippet(text, "y").unwrap_err().contains("no <!--"));
        let twice = format!("{text}{text}");
        assert!(markdown_snippet(&twice, "x")
            .unwrap_err()
            .contains("more than once"));
        assert!(markdown_snippet("<!-- snippet: x -->\ntext\n", "x").is_err());
        let indented = "- item\n  <!-- snippet: x -->\n  ```toml\n  a = 1\n  ```\n";
        assert_eq!(markdown_snippet(indented, "x").unwrap(), "a = 1\n");
    }

    #[test]
    fn man_snippet_is_the_example_after_its_marker_unescaped() {
        let text = ".PP\n.\\\" snippet: x\n.RS 4\n.EX\nsshd \\-t && a=\\(dqb\\(dq\n.EE\n.RE\n";
        assert_eq!(roff_snippet(text, "x").unwrap(), "sshd -t && a=\"b\"\n");
        let odd = ".\\\" snippet: x\n.EX\n\\fBbold\\fR\n.EE\n";
        assert!(roff_snippet(odd, "x")
            .unwrap_err()
            .contains("unknown roff escape"));
    }
}
