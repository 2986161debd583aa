//! The run's one source of randomness.
//!
//! Every random choice in a run — network jitter, loss, duplication, a sticky partitioner's next
//! partition — draws from one `SimRng`, seeded from the run's seed. It wraps `ChaCha8Rng`, a
//! portable generator whose output for a seed is fixed by its specification (unlike `StdRng`,
//! whose algorithm may change between `rand` releases). The sampling helpers below are our own
//! integer code for the same reason: `rand`'s distribution algorithms are not promised to stay
//! value-stable across versions, and a seed must replay the same story forever.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The seeded PRNG of a run. `Clone` so that World snapshots replay identically.
#[derive(Clone, Debug)]
pub struct SimRng {
    inner: ChaCha8Rng,
}

impl SimRng {
    pub fn new(seed: u64) -> Self {
        SimRng {
            inner: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    pub fn next_u32(&mut self) -> u32 {
        self.inner.next_u32()
    }

    /// A uniform integer in `0..n` (0 when `n == 0`), unbiased by rejection (Lemire's method).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(n);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// A uniform integer in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: Probability) -> bool {
        match p.0 {
            0 => false,
            Probability::ONE_RAW => true,
            threshold => u64::from(self.next_u32()) < threshold,
        }
    }
}

/// A probability stored as a fixed-point fraction of 2^32, so that drawing it is pure integer
/// arithmetic. Built once from the scenario's decimal (`loss = 0.01`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Probability(u64);

impl Probability {
    const ONE_RAW: u64 = 1 << 32;
    pub const ZERO: Probability = Probability(0);
    pub const ONE: Probability = Probability(Self::ONE_RAW);

    /// `None` unless `0.0 <= p <= 1.0`.
    pub fn new(p: f64) -> Option<Self> {
        if !(0.0..=1.0).contains(&p) {
            return None;
        }
        Some(Probability((p * Self::ONE_RAW as f64).round() as u64))
    }

    pub fn as_f64(self) -> f64 {
        self.0 as f64 / Self::ONE_RAW as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_other_seed_differs() {
        let a: Vec<u64> = (0..4).map(|_| SimRng::new(7).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(SimRng::new(7).next_u64(), SimRng::new(8).next_u64());
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = SimRng::new(1);
        let mut seen = [false; 5];
        for _ in 0..200 {
            let v = rng.below(5);
            assert!(v < 5);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.between(3, 3), 3);
    }

    #[test]
    fn chance_extremes_and_rough_rate() {
        let mut rng = SimRng::new(3);
        assert!(!rng.chance(Probability::ZERO));
        assert!(rng.chance(Probability::ONE));
        let p = Probability::new(0.25).expect("valid probability");
        let hits = (0..10_000).filter(|_| rng.chance(p)).count();
        assert!((2_200..2_800).contains(&hits), "hits = {hits}");
        assert!(Probability::new(1.5).is_none());
    }
}
