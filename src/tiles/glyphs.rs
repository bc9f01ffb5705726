//! Glyph ranges for the map's labels: MapLibre glyph PBFs (signed-distance fields), 256
//! characters each, as `gridlink glyphs` renders them from a TrueType font and as the server
//! answers for a range no font on disk has (an empty, valid range).
//!
//! The map draws Chinese with the browser's own fonts (`localIdeographFontFamily`); MapLibre
//! still fetches digits, Latin letters and punctuation as glyph ranges from the style's glyph
//! server, which on a closed network must be gridlink itself. This renders those ranges the
//! way MapLibre's tools do (24 px, 3 px buffer, radius 8, cutoff 0.25), in pure Rust: fontdue
//! rasterizes, sdf_glyph_renderer computes the distance field, pbf_font_tools holds the format.

use anyhow::Context;
use pbf_font_tools::prost::Message;
use pbf_font_tools::{Fontstack, Glyph, Glyphs};
use sdf_glyph_renderer::{BitmapGlyph, clamp_to_u8};

const SIZE: f32 = 24.0;
const BUFFER: usize = 3;
const RADIUS: usize = 8;
const CUTOFF: f64 = 0.25;

/// Ranges with the characters a Chinese map labels need besides ideographs: ASCII and Latin-1,
/// Latin Extended-A, general punctuation, letter-like symbols and arrows, maths, geometric shapes.
pub const DEFAULT_RANGES: [u32; 7] = [0, 256, 8192, 8448, 8704, 9472, 9728];

/// Renders one 256-character range of `font` as a glyph PBF.
pub fn render_range(font: &fontdue::Font, name: &str, start: u32) -> anyhow::Result<Vec<u8>> {
    let end = start + 255;
    let ascender = font
        .horizontal_line_metrics(SIZE)
        .map_or(SIZE * 0.76, |m| m.ascent)
        .round() as i32;
    let mut stack = Fontstack {
        name: name.to_string(),
        range: format!("{start}-{end}"),
        glyphs: Vec::new(),
    };
    for code in start..=end {
        let Some(ch) = char::from_u32(code) else {
            continue;
        };
        if font.lookup_glyph_index(ch) == 0 && code != 0 {
            continue;
        }
        let (metrics, bitmap) = font.rasterize(ch, SIZE);
        let (width, height) = (metrics.width, metrics.height);
        let sdf = if width == 0 || height == 0 {
            Vec::new()
        } else {
            let glyph = BitmapGlyph::from_unbuffered(&bitmap, width, height, BUFFER)
                .with_context(|| format!("glyph U+{code:04X}"))?;
            clamp_to_u8(&glyph.render_sdf(RADIUS), CUTOFF)
                .with_context(|| format!("glyph U+{code:04X}"))?
        };
        stack.glyphs.push(Glyph {
            id: code,
            bitmap: (!sdf.is_empty()).then_some(sdf),
            width: width as u32,
            height: height as u32,
            left: metrics.xmin,
            top: metrics.ymin + height as i32 - ascender,
            advance: metrics.advance_width.round() as u32,
        });
    }
    Ok(Glyphs {
        stacks: vec![stack],
    }
    .encode_to_vec())
}

/// An empty range (valid PBF, no glyphs): what the server answers for ranges the font lacks.
pub fn empty_range(name: &str, start: u32) -> Vec<u8> {
    Glyphs {
        stacks: vec![Fontstack {
            name: name.to_string(),
            range: format!("{start}-{}", start + 255),
            glyphs: Vec::new(),
        }],
    }
    .encode_to_vec()
}
