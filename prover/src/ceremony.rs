//! Keys from a multi-party ceremony (snarkjs), instead of development keys one machine made.
//!
//! ```text
//! r1cs(profile) ──▶ s.r1cs ──▶ snarkjs groth16 setup s.r1cs pot.ptau c0.zkey
//!                              snarkjs zkey contribute … (each participant) ; zkey beacon …
//! import_zkey(profile, final.zkey) ◀── final.zkey          ──▶ Keys { origin: Ceremony }
//! ```
//!
//! [`r1cs`] writes a profile's constraint system in iden3's `.r1cs` format (version 1): wire 0 is
//! the constant 1, wires 1–14 the public signals in statement order, then every witness variable
//! in the prover's order, so a wire id is the prover's variable index. [`import_zkey`] reads the
//! final `.zkey` (snarkjs' Groth16 key format), checks that it was made for this profile's
//! constraint system (field moduli, variable and public counts, domain size, and every `A` and
//! `B` coefficient), decodes its points (the verifying key's with curve and subgroup checks, the
//! proving key's on the curve) and returns keys with [`KeyOrigin::Ceremony`] and snarkjs'
//! reduction ([`Reduction::Snarkjs`]). snarkjs and arkworks lay out the same Groth16 key; only the
//! encodings differ (Montgomery-form little-endian field elements; coefficients scaled by `R²`).

use std::collections::BTreeMap;

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, BigInteger, One, PrimeField, Zero};
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};

use crate::error::ProverError;
use crate::keys::{KeyOrigin, Keys, Reduction};
use crate::profile::Profile;
use crate::prove::CircuitMatrices;

/// Bytes of one field element in both files.
const N8: usize = 32;

/// `profile`'s constraint system as an iden3 `.r1cs` file (version 1), for `snarkjs groth16
/// setup`. Deterministic: the same bytes on every machine.
///
/// # Errors
/// [`ProverError::Internal`] when the circuit cannot be synthesized.
pub fn r1cs(profile: Profile) -> Result<Vec<u8>, ProverError> {
    let m = CircuitMatrices::build(profile)?;
    let wires = m.num_instance + m.num_witness;
    let mut header = Vec::new();
    put_u32(&mut header, N8);
    header.extend(Fr::MODULUS.to_bytes_le());
    put_u32(&mut header, wires);
    put_u32(&mut header, 0); // public outputs
    put_u32(&mut header, m.num_instance - 1); // public inputs: the statement's signals
    put_u32(&mut header, 0); // private inputs (every other wire is internal)
    header.extend((wires as u64).to_le_bytes()); // labels
    put_u32(&mut header, m.num_constraints);
    let mut constraints = Vec::new();
    for row in 0..m.num_constraints {
        for matrix in &m.matrices[..3] {
            let terms = canonical(&matrix[row]);
            put_u32(&mut constraints, terms.len());
            for (wire, coefficient) in terms {
                put_u32(&mut constraints, wire);
                constraints.extend(coefficient.into_bigint().to_bytes_le());
            }
        }
    }
    let mut labels = Vec::with_capacity(wires * 8);
    for wire in 0..wires as u64 {
        labels.extend(wire.to_le_bytes());
    }
    let mut out = Vec::with_capacity(header.len() + constraints.len() + labels.len() + 48);
    out.extend(b"r1cs");
    put_u32(&mut out, 1);
    put_u32(&mut out, 3);
    for (kind, body) in [(1u32, header), (2, constraints), (3, labels)] {
        out.extend(kind.to_le_bytes());
        out.extend((body.len() as u64).to_le_bytes());
        out.extend(body);
    }
    Ok(out)
}

/// Keys for `profile` from a snarkjs Groth16 `.zkey` (the final key of a ceremony over the
/// profile's [`r1cs`]); `source` names the file in errors.
///
/// # Errors
/// [`ProverError::KeysCorrupt`] when the file is not a Groth16 zkey over BN254, was made for
/// another constraint system, or holds a point off the curve (or outside the subgroup);
/// [`ProverError::Internal`] when the circuit cannot be synthesized.
pub fn import_zkey(profile: Profile, zkey: &[u8], source: &str) -> Result<Keys, ProverError> {
    let bad = |reason: String| ProverError::KeysCorrupt {
        path: source.to_string(),
        reason,
    };
    let sections = sections(zkey, b"zkey").map_err(bad)?;
    let section = |id: u32| {
        sections
            .get(&id)
            .map(|bytes| Reader { bytes, at: 0 })
            .ok_or_else(|| bad(format!("no section {id}")))
    };
    if section(1)?.u32().map_err(bad)? != 1 {
        return Err(bad("not a Groth16 key (protocol id is not 1)".into()));
    }
    let m = CircuitMatrices::build(profile)?;
    let header = Header::read(&mut section(2)?).map_err(bad)?;
    let domain = GeneralEvaluationDomain::<Fr>::new(m.num_constraints + m.num_instance)
        .map(|d| d.size())
        .unwrap_or(0);
    let expected = (m.num_instance + m.num_witness, m.num_instance - 1, domain);
    if (header.vars, header.public, header.domain) != expected {
        return Err(bad(format!(
            "made for {} variables, {} public signals and a domain of {}; profile `{}` has {}, {} and {}",
            header.vars, header.public, header.domain, profile.name, expected.0, expected.1, expected.2
        )));
    }
    check_coefficients(&mut section(4)?, &m).map_err(bad)?;
    let g1s = |id: u32, count: usize| -> Result<Vec<G1Affine>, ProverError> {
        let mut reader = section(id)?;
        (0..count)
            .map(|_| reader.g1())
            .collect::<Result<_, _>>()
            .map_err(bad)
    };
    let gamma_abc_g1 = g1s(3, header.public + 1)?;
    let vk = VerifyingKey {
        alpha_g1: header.alpha_g1,
        beta_g2: header.beta_g2,
        gamma_g2: header.gamma_g2,
        delta_g2: header.delta_g2,
        gamma_abc_g1,
    };
    let vk_points_g1: [G1Affine; 3] = [vk.alpha_g1, header.beta_g1, header.delta_g1];
    let vk_points_g2: [G2Affine; 3] = [vk.beta_g2, vk.gamma_g2, vk.delta_g2];
    if vk_points_g1
        .iter()
        .chain(&vk.gamma_abc_g1)
        .any(|p| p.is_zero())
        || vk_points_g2
            .iter()
            .any(|p| p.is_zero() || !p.is_in_correct_subgroup_assuming_on_curve())
    {
        return Err(bad(
            "a verifying-key point is zero or outside the subgroup".into()
        ));
    }
    let b_g2_query = {
        let mut reader = section(7)?;
        (0..header.vars)
            .map(|_| reader.g2())
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?
    };
    let pk = ProvingKey {
        vk: vk.clone(),
        beta_g1: header.beta_g1,
        delta_g1: header.delta_g1,
        a_query: g1s(5, header.vars)?,
        b_g1_query: g1s(6, header.vars)?,
        b_g2_query,
        h_query: g1s(9, header.domain)?,
        l_query: g1s(8, header.vars - header.public - 1)?,
    };
    let keys = Keys {
        profile,
        origin: KeyOrigin::Ceremony,
        reduction: Reduction::Snarkjs,
        pvk: ark_groth16::prepare_verifying_key(&vk),
        pk,
        matrices: std::sync::OnceLock::new(),
    };
    let _ = keys.matrices.set(std::sync::Arc::new(m));
    Ok(keys)
}

fn put_u32(out: &mut Vec<u8>, value: usize) {
    // Every count here is far below 2^32 (the largest profile has ~4 million wires).
    out.extend((value as u32).to_le_bytes());
}

/// A row with each variable once, zero coefficients dropped, by variable.
fn canonical(row: &[(Fr, usize)]) -> Vec<(usize, Fr)> {
    let mut merged = BTreeMap::new();
    for (coefficient, variable) in row {
        *merged.entry(*variable).or_insert_with(Fr::zero) += coefficient;
    }
    merged.into_iter().filter(|(_, c)| !c.is_zero()).collect()
}

/// The sections of an iden3 binary file (`magic`, version, sections of id and length).
fn sections<'a>(bytes: &'a [u8], magic: &[u8; 4]) -> Result<BTreeMap<u32, &'a [u8]>, String> {
    let mut reader = Reader { bytes, at: 0 };
    if reader.take(4)? != magic {
        return Err(format!("not a `{}` file", String::from_utf8_lossy(magic)));
    }
    let _version = reader.u32()?;
    let count = reader.u32()?;
    let mut out = BTreeMap::new();
    for _ in 0..count {
        let id = reader.u32()?;
        let len = usize::try_from(reader.u64()?).map_err(|_| "a section is too large")?;
        out.entry(id).or_insert(reader.take(len)?);
    }
    Ok(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len());
        let end = end.ok_or("the file ends early")?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    /// 32 little-endian bytes, below `modulus`.
    fn limbs(&mut self, modulus: &BigInt<4>) -> Result<BigInt<4>, String> {
        let b = self.take(N8)?;
        let mut limbs = [0u64; 4];
        for (i, limb) in limbs.iter_mut().enumerate() {
            let mut word = [0u8; 8];
            word.copy_from_slice(&b[8 * i..8 * i + 8]);
            *limb = u64::from_le_bytes(word);
        }
        let value = BigInt::new(limbs);
        if value >= *modulus {
            return Err("a field element is not reduced".into());
        }
        Ok(value)
    }

    /// A base-field element in Montgomery form (how snarkjs stores points).
    fn fq(&mut self) -> Result<Fq, String> {
        Ok(Fq::new_unchecked(self.limbs(&Fq::MODULUS)?))
    }

    /// A coefficient: snarkjs stores `x·R²` (Montgomery form of the Montgomery form).
    fn coefficient(&mut self) -> Result<Fr, String> {
        let once = Fr::new_unchecked(self.limbs(&Fr::MODULUS)?);
        Ok(Fr::new_unchecked(once.into_bigint()))
    }

    fn g1(&mut self) -> Result<G1Affine, String> {
        let (x, y) = (self.fq()?, self.fq()?);
        if x.is_zero() && y.is_zero() {
            return Ok(G1Affine::zero());
        }
        let point = G1Affine::new_unchecked(x, y);
        // BN254's G1 has cofactor 1: on the curve is in the group.
        if !point.is_on_curve() {
            return Err("a G1 point is not on the curve".into());
        }
        Ok(point)
    }

    fn g2(&mut self) -> Result<G2Affine, String> {
        let x = Fq2::new(self.fq()?, self.fq()?);
        let y = Fq2::new(self.fq()?, self.fq()?);
        if x.is_zero() && y.is_zero() {
            return Ok(G2Affine::zero());
        }
        let point = G2Affine::new_unchecked(x, y);
        if !point.is_on_curve() {
            return Err("a G2 point is not on the curve".into());
        }
        Ok(point)
    }
}

/// The Groth16 header (section 2).
struct Header {
    vars: usize,
    public: usize,
    domain: usize,
    alpha_g1: G1Affine,
    beta_g1: G1Affine,
    beta_g2: G2Affine,
    gamma_g2: G2Affine,
    delta_g1: G1Affine,
    delta_g2: G2Affine,
}

impl Header {
    fn read(reader: &mut Reader<'_>) -> Result<Header, String> {
        for (what, modulus) in [
            ("base", Fq::MODULUS.to_bytes_le()),
            ("scalar", Fr::MODULUS.to_bytes_le()),
        ] {
            let n8 = reader.u32()? as usize;
            if n8 != N8 || reader.take(n8)? != modulus.as_slice() {
                return Err(format!("not over BN254 (its {what} field differs)"));
            }
        }
        let vars = reader.u32()? as usize;
        let public = reader.u32()? as usize;
        let domain = reader.u32()? as usize;
        Ok(Header {
            vars,
            public,
            domain,
            alpha_g1: reader.g1()?,
            beta_g1: reader.g1()?,
            beta_g2: reader.g2()?,
            gamma_g2: reader.g2()?,
            delta_g1: reader.g1()?,
            delta_g2: reader.g2()?,
        })
    }
}

/// The zkey's `A` and `B` coefficients (section 4) are exactly the circuit's, plus snarkjs' rows
/// binding each public signal (and the constant 1) in `A`.
fn check_coefficients(reader: &mut Reader<'_>, m: &CircuitMatrices) -> Result<(), String> {
    let count = reader.u32()? as usize;
    let mut theirs = Vec::with_capacity(count);
    for _ in 0..count {
        let matrix = reader.u32()?;
        let row = reader.u32()?;
        let signal = reader.u32()?;
        let value = reader.coefficient()?;
        theirs.push((matrix, row, signal, value));
    }
    theirs.sort_unstable_by_key(|(matrix, row, signal, _)| (*matrix, *row, *signal));
    let mut merged: Vec<(u32, u32, u32, Fr)> = Vec::with_capacity(theirs.len());
    for (matrix, row, signal, value) in theirs {
        match merged.last_mut() {
            Some(last) if (last.0, last.1, last.2) == (matrix, row, signal) => last.3 += value,
            _ => merged.push((matrix, row, signal, value)),
        }
    }
    merged.retain(|entry| !entry.3.is_zero());
    let mut ours = Vec::with_capacity(merged.len());
    for (index, matrix) in m.matrices[..2].iter().enumerate() {
        for (row, terms) in matrix.iter().enumerate().take(m.num_constraints) {
            for (variable, value) in canonical(terms) {
                ours.push((index as u32, row as u32, variable as u32, value));
            }
        }
        if index == 0 {
            for signal in 0..m.num_instance {
                ours.push((
                    0,
                    (m.num_constraints + signal) as u32,
                    signal as u32,
                    Fr::one(),
                ));
            }
        }
    }
    if merged.len() != ours.len() {
        return Err(format!(
            "made for another constraint system ({} coefficients in A and B, this profile has {})",
            merged.len(),
            ours.len()
        ));
    }
    if let Some((theirs, ours)) = merged.iter().zip(&ours).find(|(a, b)| a != b) {
        return Err(format!(
            "made for another constraint system (matrix {} row {} signal {} differs from this profile's matrix {} row {} signal {})",
            theirs.0, theirs.1, theirs.2, ours.0, ours.1, ours.2
        ));
    }
    Ok(())
}
