//! The statement a proof is about, and how each public signal is derived.
//!
//! | # | signal | derivation |
//! |---|---|---|
//! | 0 | `profile` | [`Profile::id`]: `2^48 · isa_version + 2^24 · program_slots + steps` |
//! | 1 | `schedule` | the first 31 bytes of `blake3(borsh(schedule))` as a big-endian integer |
//! | 2 | `method` | the first 31 bytes of `blake3(method name)` as a big-endian integer |
//! | 3 | `code` | Poseidon over `[tag, profile, schedule, method, header, word_0 … word_{P−1}]` of the program compiled from the wasm ([`code_commitment`]) |
//! | 4–11 | `arg0`…`arg7` | the arguments as unsigned integers (`i32` zero-extended), 0 beyond the parameters |
//! | 12 | `output` | the result as an unsigned integer, 0 for a method without result |
//! | 13 | `gas` | gas used ([`opmeter_vm::Vm::call_provable`]'s `gas_used`) |

use ark_bn254::Fr;
use ark_crypto_primitives::sponge::poseidon::{
    find_poseidon_ark_and_mds, PoseidonConfig, PoseidonSponge,
};
use ark_crypto_primitives::sponge::CryptographicSponge;
use ark_ff::{BigInteger, PrimeField};
use std::sync::OnceLock;

use crate::isa::{Instr, Program, MAX_ARGS};
use crate::profile::Profile;

/// Domain tag absorbed first by the code commitment (the 16 bytes `opmeter/zk/code1`, big-endian).
pub const CODE_TAG: u128 = u128::from_be_bytes(*b"opmeter/zk/code1");

/// Number of public signals.
pub const PUBLIC_SIGNALS: usize = 6 + MAX_ARGS;

/// The names of the public signals, in order.
pub fn signal_names() -> Vec<String> {
    let mut names: Vec<String> = ["profile", "schedule", "method", "code"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    names.extend((0..MAX_ARGS).map(|i| format!("arg{i}")));
    names.push("output".into());
    names.push("gas".into());
    names
}

/// Poseidon over BN254's scalar field: width 9 (rate 8, capacity 1), `x^5`, 8 full and 63
/// partial rounds, constants from the Grain LFSR ([`find_poseidon_ark_and_mds`]).
pub fn poseidon_config() -> &'static PoseidonConfig<Fr> {
    static CONFIG: OnceLock<PoseidonConfig<Fr>> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let (ark, mds) = find_poseidon_ark_and_mds::<Fr>(254, 8, 8, 63, 0);
        PoseidonConfig::new(8, 63, 5, mds, ark, 8, 1)
    })
}

/// Poseidon (see [`poseidon_config`]) of `elements`, one squeezed element.
pub fn poseidon(elements: &[Fr]) -> Fr {
    let mut sponge = PoseidonSponge::<Fr>::new(poseidon_config());
    sponge.absorb(&elements.to_vec());
    sponge.squeeze_field_elements::<Fr>(1)[0]
}

/// The first 31 bytes of `digest` as a big-endian integer (always below the field modulus).
pub fn digest_signal(digest: &[u8; 32]) -> Fr {
    Fr::from_be_bytes_mod_order(&digest[..31])
}

/// The `schedule` signal of a schedule hash.
pub fn schedule_signal(schedule_hash: &[u8; 32]) -> Fr {
    digest_signal(schedule_hash)
}

/// The `method` signal of a method name.
pub fn method_signal(method: &str) -> Fr {
    digest_signal(blake3::hash(method.as_bytes()).as_bytes())
}

/// The program words a profile commits to: the program, then `halt` up to the profile's slots.
pub fn program_words(program: &Program, profile: &Profile) -> Vec<u128> {
    let mut words: Vec<u128> = program.code.iter().map(Instr::pack).collect();
    words.resize(profile.program_slots.max(words.len()), Instr::HALT.pack());
    words
}

/// The `code` signal: Poseidon over the tag, profile, schedule, method, the program's header
/// ([`Program::header`]) and its packed instruction words ([`Instr::pack`]) padded with `halt`
/// to the profile's program slots.
pub fn code_commitment(
    program: &Program,
    profile: &Profile,
    schedule_hash: &[u8; 32],
    method: &str,
) -> Fr {
    let mut elements = vec![
        Fr::from(CODE_TAG),
        Fr::from(profile.id()),
        schedule_signal(schedule_hash),
        method_signal(method),
        Fr::from(program.header()),
    ];
    elements.extend(program_words(program, profile).into_iter().map(Fr::from));
    poseidon(&elements)
}

/// What a proof proves: *method `method` of the code committed to by `code_commitment`, run on
/// `args` under the schedule with hash `schedule_hash`, returned `output` and used exactly
/// `gas_used` gas, within `profile`'s bounds.*
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The profile.
    pub profile: Profile,
    /// `blake3(borsh(schedule))`.
    pub schedule_hash: [u8; 32],
    /// The method name.
    pub method: String,
    /// [`code_commitment`] of the compiled method.
    pub code_commitment: Fr,
    /// The arguments (`i32` zero-extended).
    pub args: Vec<u64>,
    /// The result (0 without one).
    pub output: u64,
    /// Gas used.
    pub gas_used: u64,
}

impl Statement {
    /// The public signals, in circuit order (see the module docs).
    pub fn public_inputs(&self) -> Vec<Fr> {
        let mut inputs = vec![
            Fr::from(self.profile.id()),
            schedule_signal(&self.schedule_hash),
            method_signal(&self.method),
            self.code_commitment,
        ];
        inputs.extend((0..MAX_ARGS).map(|i| Fr::from(self.args.get(i).copied().unwrap_or(0))));
        inputs.push(Fr::from(self.output));
        inputs.push(Fr::from(self.gas_used));
        inputs
    }

    /// The public signals as decimal strings (snarkjs `public.json`).
    pub fn public_signals_decimal(&self) -> Vec<String> {
        self.public_inputs().iter().map(fr_decimal).collect()
    }
}

/// A field element as a decimal string.
pub fn fr_decimal(x: &Fr) -> String {
    x.into_bigint().to_string()
}

/// A field element as `0x` + 64 hex digits (big-endian).
pub fn fr_hex(x: &Fr) -> String {
    format!("0x{}", hex::encode(x.into_bigint().to_bytes_be()))
}

/// Parses [`fr_hex`]'s form back: `0x` and 64 hex digits of a canonical field element (below
/// the modulus). `None` otherwise.
pub fn fr_from_hex(text: &str) -> Option<Fr> {
    let digits = text.strip_prefix("0x")?;
    if digits.len() != 64 {
        return None;
    }
    let bytes = hex::decode(digits).ok()?;
    let x = Fr::from_be_bytes_mod_order(&bytes);
    (fr_hex(&x) == text.to_ascii_lowercase()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_elements_round_trip_through_hex_and_non_canonical_ones_are_refused() {
        for x in [
            Fr::from(0u64),
            Fr::from(7u64),
            -Fr::from(1u64),
            poseidon(&[Fr::from(3u64)]),
        ] {
            assert_eq!(fr_from_hex(&fr_hex(&x)), Some(x));
        }
        // The modulus itself and anything above it, a short or unprefixed text: refused.
        let modulus = format!(
            "0x{}",
            hex::encode(<Fr as PrimeField>::MODULUS.to_bytes_be())
        );
        assert_eq!(fr_from_hex(&modulus), None);
        assert_eq!(fr_from_hex(&format!("0x{}", "f".repeat(64))), None);
        assert_eq!(fr_from_hex("0x07"), None);
        assert_eq!(fr_from_hex(&"0".repeat(64)), None);
        // Upper-case digits are the same element.
        let x = Fr::from(0xabcdefu64);
        assert_eq!(
            fr_from_hex(&fr_hex(&x).to_uppercase().replacen("0X", "0x", 1)),
            Some(x)
        );
    }

    #[test]
    fn every_error_code_has_a_distinct_stable_name() {
        use crate::ErrorCode;
        let names: std::collections::BTreeSet<&str> =
            ErrorCode::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        assert_eq!(ErrorCode::Busy.name(), "proverBusy");
        assert_eq!(ErrorCode::Busy.number(), 11);
    }
}
