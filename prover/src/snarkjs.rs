//! Export to snarkjs' Groth16 JSON (`bn128`): `proof.json`, `verification_key.json` and
//! `public.json`, so anyone verifies with `snarkjs groth16 verify` and no Opmeter code.
//!
//! Points are affine decimal coordinates with a trailing `"1"` (projective `z`); a G2
//! coordinate is `[c0, c1]` of its `Fq2` element.

use ark_bn254::{Bn254, Fq, Fq2, G1Affine, G2Affine};
use ark_ec::pairing::Pairing;
use ark_ec::AffineRepr;
use ark_ff::PrimeField;
use ark_groth16::VerifyingKey;
use serde_json::{json, Value};

use crate::prove::Proof;
use crate::statement::Statement;

fn fq(x: &Fq) -> String {
    x.into_bigint().to_string()
}

fn g1(p: &G1Affine) -> Value {
    match p.xy() {
        Some((x, y)) => json!([fq(&x), fq(&y), "1"]),
        None => json!(["0", "1", "0"]),
    }
}

fn fq2(x: &Fq2) -> Value {
    json!([fq(&x.c0), fq(&x.c1)])
}

fn g2(p: &G2Affine) -> Value {
    match p.xy() {
        Some((x, y)) => json!([fq2(&x), fq2(&y), ["1", "0"]]),
        None => json!([["0", "0"], ["1", "0"], ["0", "0"]]),
    }
}

/// `proof.json`.
pub fn proof_json(proof: &Proof) -> Value {
    json!({
        "pi_a": g1(&proof.0.a),
        "pi_b": g2(&proof.0.b),
        "pi_c": g1(&proof.0.c),
        "protocol": "groth16",
        "curve": "bn128",
    })
}

/// `verification_key.json` (with `vk_alphabeta_12`, which some tools expect).
pub fn verification_key_json(vk: &VerifyingKey<Bn254>) -> Value {
    let alphabeta = Bn254::pairing(vk.alpha_g1, vk.beta_g2).0;
    let fq6 = |x: &ark_bn254::Fq6| json!([fq2(&x.c0), fq2(&x.c1), fq2(&x.c2)]);
    json!({
        "protocol": "groth16",
        "curve": "bn128",
        "nPublic": vk.gamma_abc_g1.len() - 1,
        "vk_alpha_1": g1(&vk.alpha_g1),
        "vk_beta_2": g2(&vk.beta_g2),
        "vk_gamma_2": g2(&vk.gamma_g2),
        "vk_delta_2": g2(&vk.delta_g2),
        "vk_alphabeta_12": [fq6(&alphabeta.c0), fq6(&alphabeta.c1)],
        "IC": vk.gamma_abc_g1.iter().map(g1).collect::<Vec<_>>(),
    })
}

/// `public.json`: the public signals as decimal strings, in circuit order.
pub fn public_json(statement: &Statement) -> Value {
    json!(statement.public_signals_decimal())
}
