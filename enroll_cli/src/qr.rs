//! The QR code of an `otpauth://` URI (drawn by `twofold_core::qr`): in the terminal, or
//! written as PNG or SVG. The images hold the secret, so they are created new with mode 0600.

use crate::cli::QrStyle;
use crate::error::{Error, Result};
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use twofold_core::qr::{self, Modules, TextStyle, IMAGE_QUIET_ZONE};
use zeroize::Zeroizing;

/// Pixels a module in the PNG.
const PNG_SCALE: usize = 8;

/// The code as terminal text, drawn by the core (as the PAM module draws it).
pub fn terminal(uri: &str, style: QrStyle) -> Result<Zeroizing<String>> {
    let style = match style {
        QrStyle::Utf8 => TextStyle::Utf8,
        QrStyle::Utf8Inverted => TextStyle::Utf8Inverted,
        QrStyle::Ansi => TextStyle::Ansi,
        QrStyle::AnsiInverted => TextStyle::AnsiInverted,
        QrStyle::None => return Ok(Zeroizing::new(String::new())),
    };
    qr::text(uri, style).map_err(Error::Internal)
}

/// An 8-bit greyscale PNG, 8 pixels a module.
pub fn png(text: &str) -> Result<Zeroizing<Vec<u8>>> {
    let m = Modules::encode(text, IMAGE_QUIET_ZONE).map_err(Error::Internal)?;
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

pub fn svg(uri: &str) -> Result<Zeroizing<String>> {
    qr::svg(uri).map_err(Error::Internal)
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
