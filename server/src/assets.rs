//! Static assets under `/pkg` (the wasm, its JS glue, the CSS): served
//! precompressed (brotli or gzip, by `Accept-Encoding`) with long-lived cache
//! headers when their names carry a content hash.

use std::io::Write;
use std::path::{Path, PathBuf};

use axum::http::{header, HeaderValue};
use tower::Layer;
use tower_http::services::ServeDir;
use tower_http::set_header::{SetResponseHeader, SetResponseHeaderLayer};

/// The service for `/pkg`. Hashed names never change content, so browsers may
/// keep them for a year; unhashed ones must be revalidated.
pub fn pkg_service(dir: &Path, hashed: bool) -> SetResponseHeader<ServeDir, HeaderValue> {
    let cache = if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let serve = ServeDir::new(dir).precompressed_br().precompressed_gzip();
    SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static(cache))
        .layer(serve)
}

/// Writes a `.br` and a `.gz` beside every asset of `dir` that lacks an
/// up-to-date one, off the request path. Files are written under a temporary
/// name and renamed, so a half-written file is never served.
pub fn precompress_in_background(dir: PathBuf) {
    tokio::task::spawn_blocking(move || {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let compressible = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("wasm" | "js" | "css" | "svg" | "json" | "html")
            );
            if !compressible || !path.is_file() {
                continue;
            }
            for (suffix, compress) in [
                ("br", brotli_bytes as fn(&[u8]) -> std::io::Result<Vec<u8>>),
                ("gz", gzip_bytes),
            ] {
                let target = PathBuf::from(format!("{}.{suffix}", path.display()));
                if is_fresh(&target, &path) {
                    continue;
                }
                if let Err(error) = compress_file(&path, &target, compress) {
                    tracing::warn!(file = %path.display(), %error, "cannot precompress asset");
                }
            }
        }
    });
}

fn is_fresh(target: &Path, source: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((modified(target), modified(source)), (Some(t), Some(s)) if t >= s)
}

fn compress_file(
    source: &Path,
    target: &Path,
    compress: fn(&[u8]) -> std::io::Result<Vec<u8>>,
) -> std::io::Result<()> {
    let bytes = std::fs::read(source)?;
    let compressed = compress(&bytes)?;
    let temporary = PathBuf::from(format!("{}.tmp{}", target.display(), std::process::id()));
    std::fs::write(&temporary, compressed)?;
    std::fs::rename(&temporary, target)
}

/// Above this size (debug builds of the wasm), the best brotli quality takes
/// tens of seconds; a slightly lower one is ten times faster.
const BROTLI_BEST_QUALITY_LIMIT: usize = 4 * 1024 * 1024;

fn brotli_bytes(input: &[u8]) -> std::io::Result<Vec<u8>> {
    let quality = if input.len() > BROTLI_BEST_QUALITY_LIMIT {
        9
    } else {
        11
    };
    let mut output = Vec::with_capacity(input.len() / 3);
    {
        let mut writer = brotli::CompressorWriter::new(&mut output, 64 * 1024, quality, 22);
        writer.write_all(input)?;
    }
    Ok(output)
}

fn gzip_bytes(input: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(input.len() / 3),
        flate2::Compression::best(),
    );
    encoder.write_all(input)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_forms_round_trip() {
        use std::io::Read;
        let input = b"(module) ".repeat(1000);
        let br = brotli_bytes(&input).expect("brotli");
        let mut decoded = Vec::new();
        brotli::Decompressor::new(br.as_slice(), 4096)
            .read_to_end(&mut decoded)
            .expect("decode");
        assert_eq!(decoded, input);
        let gz = gzip_bytes(&input).expect("gzip");
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_end(&mut decoded)
            .expect("decode");
        assert_eq!(decoded, input);
        assert!(br.len() < input.len() / 10);
    }
}
