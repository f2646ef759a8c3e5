//! The QR code of an `otpauth://` URI, as text for a terminal or a login prompt, as an SVG
//! image, or as a grid of modules for an image writer (the CLI's PNG). The CLI and the PAM
//! module draw it with this one implementation. Everything drawn holds the secret, so it is
//! wiped when dropped.

use qrcode::{Color, EcLevel, QrCode};
use zeroize::Zeroizing;

/// Modules of light border around the code as text; images get the standard 4.
const TEXT_QUIET_ZONE: usize = 2;
pub const IMAGE_QUIET_ZONE: usize = 4;

/// How a code is drawn as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextStyle {
    /// Unicode half blocks, for light text on a dark background (most terminals).
    Utf8,
    /// Unicode half blocks, for dark text on a light background.
    Utf8Inverted,
    /// Half blocks in explicit ANSI colours, black on white, whatever the terminal's colours.
    Ansi,
    /// Half blocks in explicit ANSI colours, white on black.
    AnsiInverted,
    /// `##` for each light module and two spaces for each dark one, one text row a module
    /// row: for light text on a dark background, like `Utf8`. For the login conversation:
    /// OpenSSH (9.2) escapes anything but ASCII in keyboard-interactive prompts, and
    /// colours would be escaped too.
    Ascii,
}

/// The code's modules with the quiet zone around them, `true` = dark.
pub struct Modules {
    pub size: usize,
    dark: Zeroizing<Vec<bool>>,
}

impl Modules {
    pub fn encode(text: &str, quiet: usize) -> Result<Modules, String> {
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
            .map_err(|e| format!("QR code: {e}"))?;
        let width = code.width();
        let colors = code.into_colors();
        let size = width + 2 * quiet;
        let mut dark = Zeroizing::new(vec![false; size * size]);
        for (i, c) in colors.iter().enumerate() {
            dark[(i / width + quiet) * size + (i % width + quiet)] = *c == Color::Dark;
        }
        Ok(Modules { size, dark })
    }

    /// Outside the code counts as light (the bottom half of the last text row).
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.size && y < self.size && self.dark[y * self.size + x]
    }
}

/// The code as text, a line a text row, each line ending in `\n`.
pub fn text(uri: &str, style: TextStyle) -> Result<Zeroizing<String>, String> {
    let m = Modules::encode(uri, TEXT_QUIET_ZONE)?;
    if style == TextStyle::Ascii {
        let mut out = Zeroizing::new(String::with_capacity(m.size * (2 * m.size + 1)));
        for y in 0..m.size {
            for x in 0..m.size {
                out.push_str(if m.is_dark(x, y) { "  " } else { "##" });
            }
            out.push('\n');
        }
        return Ok(out);
    }
    let mut out = Zeroizing::new(String::with_capacity(m.size * (m.size / 2 + 1) * 12));
    for y in (0..m.size).step_by(2) {
        for x in 0..m.size {
            let (top, bottom) = (m.is_dark(x, y), m.is_dark(x, y + 1));
            match style {
                // Light text on a dark background: draw the light modules.
                TextStyle::Utf8 | TextStyle::Ascii => out.push(half_blocks(!top, !bottom)),
                TextStyle::Utf8Inverted => out.push(half_blocks(top, bottom)),
                TextStyle::Ansi | TextStyle::AnsiInverted => {
                    let inverted = style == TextStyle::AnsiInverted;
                    // Foreground paints the upper half (▀), background the lower one.
                    let fg = if top != inverted { 30 } else { 97 };
                    let bg = if bottom != inverted { 40 } else { 107 };
                    out.push_str(&format!("\x1b[{fg};{bg}m\u{2580}"));
                }
            }
        }
        if matches!(style, TextStyle::Ansi | TextStyle::AnsiInverted) {
            out.push_str("\x1b[0m");
        }
        out.push('\n');
    }
    Ok(out)
}

fn half_blocks(top: bool, bottom: bool) -> char {
    match (top, bottom) {
        (true, true) => '\u{2588}',
        (true, false) => '\u{2580}',
        (false, true) => '\u{2584}',
        (false, false) => ' ',
    }
}

pub fn svg(uri: &str) -> Result<Zeroizing<String>, String> {
    let code = QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M)
        .map_err(|e| format!("QR code: {e}"))?;
    Ok(Zeroizing::new(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(256, 256)
            .quiet_zone(true)
            .build(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "otpauth://totp/x:y?secret=AAAA";

    #[test]
    fn text_code_has_quiet_zone_and_half_the_rows() {
        let t = text(URI, TextStyle::Utf8).unwrap();
        let lines: Vec<&str> = t.lines().collect();
        let width = lines[0].chars().count();
        assert_eq!(lines.len(), width.div_ceil(2));
        // The quiet zone is light, drawn as full blocks for a dark terminal.
        assert!(lines[0].chars().all(|c| c == '\u{2588}'));
        let inv = text(URI, TextStyle::Utf8Inverted).unwrap();
        assert!(inv.lines().next().unwrap().chars().all(|c| c == ' '));
    }

    #[test]
    fn ansi_code_resets_colours_on_every_line() {
        let t = text("x", TextStyle::Ansi).unwrap();
        assert!(t.lines().all(|l| l.ends_with("\x1b[0m")));
    }

    #[test]
    fn ascii_code_is_square_in_hashes_and_spaces_with_a_light_quiet_zone() {
        let t = text(URI, TextStyle::Ascii).unwrap();
        assert!(t.is_ascii());
        let m = Modules::encode(URI, TEXT_QUIET_ZONE).unwrap();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), m.size);
        for (y, line) in lines.iter().enumerate() {
            assert_eq!(line.len(), 2 * m.size);
            for x in 0..m.size {
                let cell = &line[2 * x..2 * x + 2];
                assert_eq!(cell, if m.is_dark(x, y) { "  " } else { "##" });
            }
        }
        assert!(lines[0].chars().all(|c| c == '#'));
    }

    #[test]
    fn ascii_code_of_a_login_prompt_decodes_to_the_uri() {
        let uri = "otpauth://totp/twofold:first.last?secret=BSCUTSS2QG5OGOVHYSI7VZHIVI67BZVE&issuer=twofold";
        let t = text(uri, TextStyle::Ascii).unwrap();
        let rows: Vec<&[u8]> = t.lines().map(str::as_bytes).collect();
        // As a dark terminal shows it: `#` light, space dark; 4 pixels a module.
        let scale = 4;
        let (w, h) = (rows[0].len() / 2 * scale, rows.len() * scale);
        let pixel = |x: usize, y: usize| {
            if rows[y / scale][x / scale * 2] == b'#' {
                255
            } else {
                0
            }
        };
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, pixel);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "{}", *t);
        assert_eq!(grids[0].decode().unwrap().1, uri);
    }
}
