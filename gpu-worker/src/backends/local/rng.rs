//! Seeded randomness and a portable sine, so a prompt+seed always renders the same.

/// SplitMix64: tiny, fast and good enough for choosing looks and notes.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// Seeds from the prompt's bytes and the job seed together.
    pub(crate) fn from_prompt(prompt: &str, seed: u64) -> Rng {
        // FNV-1a over the prompt, then mixed with the seed by one SplitMix step.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in prompt.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let mut rng = Rng(h ^ seed.rotate_left(32));
        rng.next_u64();
        rng
    }

    /// An independent stream for one part of the scene, so adding a draw in
    /// one part does not reshuffle every other part.
    pub(crate) fn fork(&mut self, salt: u64) -> Rng {
        Rng(self.next_u64() ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0.0..1.0.
    pub(crate) fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in lo..hi.
    pub(crate) fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in 0..n.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// -1.0 or 1.0.
    pub(crate) fn sign(&mut self) -> f32 {
        if self.next_u64() & 1 == 0 { -1.0 } else { 1.0 }
    }
}

/// sin(2π·turns), within about 0.001, from plain arithmetic.
///
/// The platform's `sin` may differ in the last bit between libm versions; this
/// one does not, and it is cheap enough to run per audio sample.
pub(crate) fn sin_turns(turns: f32) -> f32 {
    let x = turns - (turns + 0.5).floor(); // -0.5..0.5
    let y = 8.0 * x - 16.0 * x * x.abs();
    0.225 * (y * y.abs() - y) + y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_prompt_and_seed_give_the_same_stream() {
        let mut a = Rng::from_prompt("neon city", 1);
        let mut b = Rng::from_prompt("neon city", 1);
        let mut c = Rng::from_prompt("neon city", 2);
        let mut d = Rng::from_prompt("neon citz", 1);
        let (x, y, z, w) = (a.next_u64(), b.next_u64(), c.next_u64(), d.next_u64());
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert_ne!(x, w);
    }

    #[test]
    fn unit_stays_in_range() {
        let mut r = Rng::from_prompt("x", 0);
        for _ in 0..10_000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(r.below(7) < 7);
        }
    }

    #[test]
    fn sine_is_close_to_std() {
        for i in -200..200 {
            let t = i as f32 / 97.0;
            let want = (t * std::f32::consts::TAU).sin();
            assert!((sin_turns(t) - want).abs() < 0.002, "{t}");
        }
    }
}
