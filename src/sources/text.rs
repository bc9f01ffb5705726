//! Text in DBF and CSV files: which encoding it is in, and decoding it strictly.
//!
//! Chinese Shapefiles are usually GBK (code page 936), often without a `.cpg` saying so, and
//! with the DBF's language-driver byte left at 0. Decoding with the wrong encoding either fails
//! or yields mojibake; gridlink decodes strictly and refuses the layer instead of storing
//! garbage, naming the column and what to set.

use encoding_rs::Encoding;
use std::path::Path;

/// An encoding and where gridlink learnt it, for messages.
#[derive(Debug, Clone, Copy)]
pub struct TextEncoding {
    pub encoding: &'static Encoding,
    pub basis: &'static str,
}

impl TextEncoding {
    pub const UTF8_DEFAULT: TextEncoding = TextEncoding {
        encoding: encoding_rs::UTF_8,
        basis: "the default (UTF-8)",
    };

    pub fn from_label(label: &str, basis: &'static str) -> Option<TextEncoding> {
        Encoding::for_label(label.trim().as_bytes())
            .map(|encoding| TextEncoding { encoding, basis })
    }

    pub fn name(&self) -> &'static str {
        self.encoding.name()
    }

    /// Decodes `bytes`, or says why they are not text in this encoding.
    pub fn decode(&self, bytes: &[u8]) -> Result<String, String> {
        if bytes.is_ascii() {
            // ASCII is the same in every encoding gridlink accepts.
            return Ok(String::from_utf8_lossy(bytes).into_owned());
        }
        match self
            .encoding
            .decode_without_bom_handling_and_without_replacement(bytes)
        {
            Some(text) => Ok(text.into_owned()),
            None => {
                let hint = if self.encoding == encoding_rs::UTF_8 {
                    if encoding_rs::GBK
                        .decode_without_bom_handling_and_without_replacement(bytes)
                        .is_some()
                    {
                        " (it decodes as GBK: set encoding = \"GBK\" in [source])"
                    } else {
                        " (set encoding in [source], e.g. \"GBK\" or \"GB18030\")"
                    }
                } else if std::str::from_utf8(bytes).is_ok() {
                    " (it is valid UTF-8: set encoding = \"UTF-8\" in [source])"
                } else {
                    " (set the file's real encoding in [source])"
                };
                Err(format!(
                    "is not valid {} text — {} bytes {}…{hint}",
                    self.name(),
                    bytes.len(),
                    hex::encode(&bytes[..bytes.len().min(8)])
                ))
            }
        }
    }
}

/// The encoding a `.cpg` file names: an encoding label or a Windows code page number.
pub fn from_cpg(content: &str) -> Option<TextEncoding> {
    let label = content.trim();
    let by_code_page = match label {
        "936" | "CP936" | "cp936" => Some("gbk"),
        "54936" => Some("gb18030"),
        "950" => Some("big5"),
        "65001" => Some("utf-8"),
        "1252" => Some("windows-1252"),
        "437" | "850" | "88591" | "8859_1" => Some("windows-1252"),
        _ => None,
    };
    TextEncoding::from_label(by_code_page.unwrap_or(label), "the .cpg file")
}

/// The encoding a DBF's language-driver id (byte 29) names, for the ids Chinese data uses.
pub fn from_ldid(dbf: &Path) -> Option<TextEncoding> {
    use std::io::Read;
    let mut header = [0u8; 32];
    std::fs::File::open(dbf)
        .ok()?
        .read_exact(&mut header)
        .ok()?;
    let label = match header[29] {
        0x4D | 0x7A => "gbk",
        0x78 => "big5",
        0x57 | 0x03 => "windows-1252",
        _ => return None,
    };
    TextEncoding::from_label(label, "the DBF's language driver id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_text_decodes_and_utf8_declared_gbk_is_named() {
        let (gbk, _, _) = encoding_rs::GBK.encode("南桥镇");
        let as_gbk = TextEncoding::from_label("GBK", "test").unwrap();
        assert_eq!(as_gbk.decode(&gbk).unwrap(), "南桥镇");
        let err = TextEncoding::UTF8_DEFAULT.decode(&gbk).unwrap_err();
        assert!(err.contains("decodes as GBK"), "{err}");
    }

    #[test]
    fn code_pages_name_encodings() {
        assert_eq!(from_cpg("936").unwrap().name(), "GBK");
        assert_eq!(from_cpg("UTF-8\n").unwrap().name(), "UTF-8");
        assert_eq!(from_cpg("GB18030").unwrap().name(), "gb18030");
        assert!(from_cpg("klingon").is_none());
    }
}
