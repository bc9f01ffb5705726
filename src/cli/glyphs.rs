//! `gridlink glyphs`: MapLibre glyph PBFs (signed-distance fields) from a TrueType font, for
//! the style's glyph server (see [`crate::tiles::glyphs`]).

use crate::tiles::glyphs::{DEFAULT_RANGES, render_range};
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The TrueType font, e.g. Debian's fonts-dejavu-core: /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf.
    #[arg(long)]
    pub font: PathBuf,
    /// The font stack name used in styles.
    #[arg(long, default_value = "DejaVu Sans Book")]
    pub name: String,
    /// Output directory; files go to OUT/NAME/START-END.pbf.
    #[arg(long, default_value = "styles/fonts")]
    pub out: PathBuf,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(&args.font).with_context(|| format!("reading {}", args.font.display()))?;
    let font = fontdue::Font::from_bytes(bytes, fontdue::FontSettings::default())
        .map_err(|e| anyhow::anyhow!("{}: not a usable font: {e}", args.font.display()))?;
    let dir = args.out.join(&args.name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for start in DEFAULT_RANGES {
        let pbf = render_range(&font, &args.name, start)?;
        let path = dir.join(format!("{start}-{}.pbf", start + 255));
        std::fs::write(&path, &pbf).with_context(|| format!("writing {}", path.display()))?;
        println!("{} ({} bytes)", path.display(), pbf.len());
    }
    Ok(ExitCode::SUCCESS)
}
