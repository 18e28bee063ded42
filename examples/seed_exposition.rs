//! Writes the exposition of each seed server's documented metric set
//! (`tests/seeds/mod.rs`) in both formats, for the real validators:
//! `<dir>/<server>.prom` (text 0.0.4) and `<dir>/<server>.om` (OpenMetrics),
//! plus `<dir>/<server>.families` (one `name type` line per documented family).
//!
//! ```sh
//! cargo run --example seed_exposition -- target/seeds
//! ```

#[path = "../tests/seeds/mod.rs"]
mod seeds;

use nanometrics::{Encoder, Format, Registry};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/seeds".into());
    std::fs::create_dir_all(&dir)?;
    for seed in seeds::ALL {
        let registry = Registry::new();
        seeds::register(&registry, seed)?;
        let mut encoder = Encoder::new().with_prefix(seed.prefix)?;
        for (format, ext) in [(Format::Prometheus, "prom"), (Format::OpenMetrics, "om")] {
            let mut out = Vec::new();
            encoder.encode(&registry, format, &mut out);
            std::fs::write(format!("{dir}/{}.{ext}", seed.server), out)?;
        }
        let families: String = seed
            .specs
            .iter()
            .map(|s| format!("{}{} {:?}\n", seed.prefix, s.name, s.ty).to_lowercase())
            .collect();
        std::fs::write(format!("{dir}/{}.families", seed.server), families)?;
    }
    println!("wrote {} seed sets to {dir}", seeds::ALL.len());
    Ok(())
}
