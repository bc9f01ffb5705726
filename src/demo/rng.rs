//! Deterministic random streams. Every part of the generator draws from its own stream derived
//! from the seed and a fixed name, so adding a layer does not shift the numbers of another and
//! the same seed always gives the same bytes.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub type Rng = ChaCha8Rng;

pub fn stream(seed: u64, name: &str) -> Rng {
    // FNV-1a over the name, mixed with the seed: stable across platforms and releases.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    ChaCha8Rng::seed_from_u64(h ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}
