//! Size profiles: one circuit (and one key pair) per profile, shared by every contract.
//!
//! Proving time depends on the profile, not on the steps a call actually runs, so a prover picks
//! the smallest profile whose step bound and program size fit.

use std::fmt;

use crate::isa::ISA_VERSION;

/// A circuit size: how many steps it executes and how many instructions a program may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Profile {
    /// Stable name (`s`, `m`, `l`): how keys and CLI flags refer to it.
    pub name: &'static str,
    /// Exactly this many steps are proven; the program must reach `halt` within them.
    pub steps: usize,
    /// Program slots: a compiled program has at most this many instructions.
    pub program_slots: usize,
}

impl Profile {
    /// Small: quick proofs of short calls (the test profile); fills a 2^16 domain.
    pub const S: Profile = Profile {
        name: "s",
        steps: 112,
        program_slots: 40,
    };
    /// Medium; a 2^20 domain.
    pub const M: Profile = Profile {
        name: "m",
        steps: 1_536,
        program_slots: 64,
    };
    /// Large: the most this machine proves in about 30 s; a 2^22 domain.
    pub const L: Profile = Profile {
        name: "l",
        steps: 6_144,
        program_slots: 64,
    };

    /// Every profile, smallest first.
    pub const ALL: &'static [Profile] = &[Profile::S, Profile::M, Profile::L];

    /// The profile called `name`.
    pub fn by_name(name: &str) -> Option<Profile> {
        Profile::ALL.iter().copied().find(|p| p.name == name)
    }

    /// The profile's public signal: `2^48 · isa_version + 2^24 · program_slots + steps`.
    pub fn id(&self) -> u64 {
        (ISA_VERSION << 48) | ((self.program_slots as u64) << 24) | self.steps as u64
    }

    /// The smallest profile that runs `steps` steps (the `halt` included) of a program of
    /// `instructions` instructions.
    pub fn smallest_fitting(steps: usize, instructions: usize) -> Option<Profile> {
        Profile::ALL
            .iter()
            .copied()
            .find(|p| p.steps >= steps && p.program_slots >= instructions)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} steps, {} program slots)",
            self.name, self.steps, self.program_slots
        )
    }
}
