//! The R1CS-to-QAP reduction snarkjs (and circom's provers) use, so keys made by a snarkjs
//! ceremony prove with this crate's prover, and so this crate's own keys prove faster.
//!
//! arkworks' default ([`ark_groth16::r1cs_to_qap::LibsnarkReduction`]) computes the quotient
//! `H = (A·B − C) / Z` in coefficient form: `C`'s matrix product, seven FFTs and a division on a
//! coset. snarkjs evaluates `A·B − C` on the odd powers of a root of unity of twice the domain's
//! size instead. It vanishes on the even powers (the domain itself, for a satisfying witness) and
//! has degree below twice the domain's size, so interpolating those odd values over the doubled
//! domain gives `H·Z` at the setup's secret point directly: the key's `H` query holds the doubled
//! domain's Lagrange basis at that point on the odd points (times `δ⁻¹`), and the prover's `h` is
//! the evaluations themselves. `C`'s values on the domain are `A`'s times `B`'s, so `C`'s matrix
//! is never multiplied. Six FFTs, no division.
//!
//! The two reductions need different proving keys (their `H` queries differ); a key records which
//! one it was made for ([`crate::keys::Reduction`]).

use ark_ff::PrimeField;
use ark_groth16::r1cs_to_qap::{evaluate_constraint, LibsnarkReduction, R1CSToQAP};
use ark_poly::EvaluationDomain;
use ark_relations::gr1cs::{ConstraintSystemRef, Matrix, SynthesisError};
use rayon::prelude::*;

/// snarkjs' reduction (see the module documentation).
pub struct SnarkjsReduction;

/// `ω` of the domain twice `domain`'s size: multiplying coefficient `i` by `ω^i` before an FFT
/// over `domain` evaluates on the odd powers of `ω`.
fn odd_shift<F: PrimeField, D: EvaluationDomain<F>>(domain: &D) -> Result<F, SynthesisError> {
    let double = D::new(2 * domain.size()).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
    Ok(double.element(1))
}

impl R1CSToQAP for SnarkjsReduction {
    #[allow(clippy::type_complexity)]
    fn instance_map_with_evaluation<F: PrimeField, D: EvaluationDomain<F>>(
        cs: ConstraintSystemRef<F>,
        t: &F,
    ) -> Result<(Vec<F>, Vec<F>, Vec<F>, F, usize, usize), SynthesisError> {
        // The A, B and C queries are the same in both reductions; only H differs.
        LibsnarkReduction::instance_map_with_evaluation::<F, D>(cs, t)
    }

    fn witness_map_from_matrices<F: PrimeField, D: EvaluationDomain<F>>(
        matrices: &[Matrix<F>],
        num_inputs: usize,
        num_constraints: usize,
        full_assignment: &[F],
    ) -> Result<Vec<F>, SynthesisError> {
        let domain =
            D::new(num_constraints + num_inputs).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let size = domain.size();
        let (a_rows, b_rows) = match matrices {
            [a, b, ..] => (a, b),
            _ => return Err(SynthesisError::Unsatisfiable),
        };
        let mut a = vec![F::zero(); size];
        let mut b = vec![F::zero(); size];
        a[..num_constraints]
            .par_iter_mut()
            .zip(&mut b[..num_constraints])
            .zip(&a_rows[..num_constraints])
            .zip(&b_rows[..num_constraints])
            .for_each(|(((a, b), a_row), b_row)| {
                *a = evaluate_constraint(a_row, full_assignment);
                *b = evaluate_constraint(b_row, full_assignment);
            });
        // The input-consistency rows: A holds each public input (and the constant 1), B zero.
        a[num_constraints..num_constraints + num_inputs]
            .copy_from_slice(&full_assignment[..num_inputs]);
        // C = A·B on the domain for a satisfying witness (zero on the input rows, where B is).
        let mut c: Vec<F> = a.par_iter().zip(&b).map(|(a, b)| *a * b).collect();

        let shift = odd_shift(&domain)?;
        for values in [&mut a, &mut b, &mut c] {
            domain.ifft_in_place(values);
            D::distribute_powers_and_mul_by_const(values, shift, F::one());
            domain.fft_in_place(values);
        }
        a.par_iter_mut()
            .zip(&b)
            .zip(&c)
            .for_each(|((a, b), c)| *a = *a * b - c);
        Ok(a)
    }

    fn h_query_scalars<F: PrimeField, D: EvaluationDomain<F>>(
        max_power: usize,
        t: F,
        _zt: F,
        delta_inverse: F,
    ) -> Result<Vec<F>, SynthesisError> {
        // δ⁻¹·τ^i for i < 2n: the powers of τ in the doubled domain's monomial basis; an inverse
        // FFT turns them into its Lagrange basis at τ, and the odd points' entries are the H query
        // (`max_power` is n − 1).
        let double = D::new(2 * (max_power + 1)).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let mut scalars: Vec<F> = (0..double.size())
            .into_par_iter()
            .map(|i| delta_inverse * t.pow([i as u64]))
            .collect();
        double.ifft_in_place(&mut scalars);
        Ok(scalars.into_iter().skip(1).step_by(2).collect())
    }
}
