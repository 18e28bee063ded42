//! Unit tests of the responder's parts: the reused gzip writer.

use super::gzip::Gzip;
use std::io::Read;

#[test]
fn gzip_round_trips_and_reuses_state() {
    let mut g = Gzip::new();
    for n in [0usize, 1, 1000, 200_000] {
        let line = b"metric_total{a=\"b\"} 1\n";
        let input: Vec<u8> = (0..n).map(|i| line[i % line.len()]).collect();
        let mut out = Vec::new();
        assert!(g.compress(&input, &mut out));
        let mut d = flate2::read::GzDecoder::new(&out[..]);
        let mut back = Vec::new();
        d.read_to_end(&mut back).unwrap();
        assert_eq!(back, input);
    }
}
