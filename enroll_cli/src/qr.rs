//! The QR code of an `otpauth://` URI: drawn in the terminal, or written as PNG or SVG.
//! The images hold the secret, so they are created new with mode 0600.

use crate::cli::QrStyle;
use crate::error::{Error, Result};
use qrcode::{Color, EcLevel, QrCode};
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use zeroize::Zeroizing;

/// Modules of light border around the code in the terminal; images get the standard 4.
const TERMINAL_QUIET_ZONE: usize = 2;
const IMAGE_QUIET_ZONE: usize = 4;
/// Pixels a module in the PNG.
const PNG_SCALE: usize = 8;

/// The code's modules with the quiet zone around them, `true` = dark.
struct Modules {
    size: usize,
    dark: Zeroizing<Vec<bool>>,
}

impl Modules {
    fn encode(text: &str, quiet: usize) -> Result<Modules> {
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
            .map_err(|e| Error::Internal(format!("QR code: {e}")))?;
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
    fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.size && y < self.size && self.dark[y * self.size + x]
    }
}

/// The code as terminal text, two modules a character cell (upper and lower half block).
pub fn terminal(text: &str, style: QrStyle) -> Result<Zeroizing<String>> {
    let m = Modules::encode(text, TERMINAL_QUIET_ZONE)?;
    let mut out = Zeroizing::new(String::with_capacity(m.size * (m.size / 2 + 1) * 12));
    for y in (0..m.size).step_by(2) {
        for x in 0..m.size {
            let (top, bottom) = (m.is_dark(x, y), m.is_dark(x, y + 1));
            match style {
                // Light text on a dark background: draw the light modules.
                QrStyle::Utf8 => out.push(half_blocks(!top, !bottom)),
                QrStyle::Utf8Inverted => out.push(half_blocks(top, bottom)),
                QrStyle::Ansi | QrStyle::AnsiInverted => {
                    let inverted = style == QrStyle::AnsiInverted;
                    // Foreground paints the upper half (▀), background the lower one.
                    let fg = if top != inverted { 30 } else { 97 };
                    let bg = if bottom != inverted { 40 } else { 107 };
                    out.push_str(&format!("\x1b[{fg};{bg}m\u{2580}"));
                }
                QrStyle::None => {}
            }
        }
        if matches!(style, QrStyle::Ansi | QrStyle::AnsiInverted) {
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

/// An 8-bit greyscale PNG, 8 pixels a module.
pub fn png(text: &str) -> Result<Zeroizing<Vec<u8>>> {
    let m = Modules::encode(text, IMAGE_QUIET_ZONE)?;
    let px = m.size * PNG_SCALE;
    let mut pixels = Zeroizing::new(vec![255u8; px * px]);
    for y in 0..px {
        for x in 0..px {
            if m.is_dark(x / PNG_SCALE, y / PNG_SCALE) {
                pixels[y * px + x] = 0;
            }
        }
    }
    let mut bytes = Zeroizing::new(Vec::new());
    let side = u32::try_from(px).map_err(|_| Error::Internal("QR code too large".into()))?;
    let mut encoder = png::Encoder::new(&mut *bytes, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let png_err = |e: png::EncodingError| Error::Internal(format!("PNG: {e}"));
    let mut writer = encoder.write_header().map_err(png_err)?;
    writer.write_image_data(&pixels).map_err(png_err)?;
    writer.finish().map_err(png_err)?;
    Ok(bytes)
}

pub fn svg(text: &str) -> Result<Zeroizing<String>> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| Error::Internal(format!("QR code: {e}")))?;
    Ok(Zeroizing::new(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(256, 256)
            .quiet_zone(true)
            .build(),
    ))
}

/// Writes a new file of mode 0600. An existing file is never replaced: it may be someone
/// else's, or a symlink to one.
pub fn write_new_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let shown = path.display().to_string();
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::AlreadyExists => Error::OutputExists {
                path: shown.clone(),
            },
            _ => Error::Output {
                path: shown.clone(),
                err,
            },
        })?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|err| Error::Output { path: shown, err })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_code_has_quiet_zone_and_half_the_rows() {
        let t = terminal("otpauth://totp/x:y?secret=AAAA", QrStyle::Utf8).unwrap();
        let lines: Vec<&str> = t.lines().collect();
        let width = lines[0].chars().count();
        assert_eq!(lines.len(), width.div_ceil(2));
        // The quiet zone is light, drawn as full blocks for a dark terminal.
        assert!(lines[0].chars().all(|c| c == '\u{2588}'));
        let inv = terminal("otpauth://totp/x:y?secret=AAAA", QrStyle::Utf8Inverted).unwrap();
        assert!(inv.lines().next().unwrap().chars().all(|c| c == ' '));
    }

    #[test]
    fn ansi_code_resets_colours_on_every_line() {
        let t = terminal("x", QrStyle::Ansi).unwrap();
        assert!(t.lines().all(|l| l.ends_with("\x1b[0m")));
    }
}
