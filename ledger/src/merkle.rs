//! Merkle roots and paths over 32-byte leaves: the transactions and receipts roots of a header,
//! and the paths an offline verifier checks against them.
//!
//! ```
//! use opmeter_ledger::encoding::Hash32;
//! use opmeter_ledger::merkle::{merkle_path, merkle_root, verify_merkle_path};
//! let leaves = [Hash32([1; 32]), Hash32([2; 32]), Hash32([3; 32])];
//! let root = merkle_root(leaves);
//! let path = merkle_path(&leaves, 2).unwrap();
//! assert!(verify_merkle_path(leaves[2], 2, 3, &path, root));
//! assert!(!verify_merkle_path(leaves[1], 2, 3, &path, root));
//! ```

use crate::encoding::Hash32;

fn merkle_leaf(leaf: &Hash32) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"opmeter/merkle/leaf");
    h.update(&leaf.0);
    *h.finalize().as_bytes()
}

fn merkle_node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"opmeter/merkle/node");
    h.update(left);
    h.update(right);
    *h.finalize().as_bytes()
}

/// The level above `level`: pairs hashed, an odd last node carried up unchanged.
fn parent_level(level: &[[u8; 32]]) -> Vec<[u8; 32]> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [l, r] => merkle_node(l, r),
            [single] => *single,
            _ => unreachable!("chunks(2) yields one or two"),
        })
        .collect()
}

/// Binary Merkle root over 32-byte leaves: `blake3("leaf" ‖ x)` at the bottom, `blake3("node" ‖
/// l ‖ r)` above, an odd node carried up unchanged; the root of no leaves is all zeroes.
pub fn merkle_root(leaves: impl IntoIterator<Item = Hash32>) -> Hash32 {
    let mut level: Vec<[u8; 32]> = leaves.into_iter().map(|leaf| merkle_leaf(&leaf)).collect();
    if level.is_empty() {
        return Hash32::default();
    }
    while level.len() > 1 {
        level = parent_level(&level);
    }
    Hash32(level[0])
}

/// The sibling hashes from leaf `index` up to the root of [`merkle_root`] (levels where the node
/// is carried up unpaired contribute nothing); `None` when `index` is out of range.
pub fn merkle_path(leaves: &[Hash32], index: u32) -> Option<Vec<Hash32>> {
    let mut position = usize::try_from(index).ok()?;
    if position >= leaves.len() {
        return None;
    }
    let mut level: Vec<[u8; 32]> = leaves.iter().map(merkle_leaf).collect();
    let mut path = Vec::new();
    while level.len() > 1 {
        let sibling = position ^ 1;
        if let Some(hash) = level.get(sibling) {
            path.push(Hash32(*hash));
        }
        level = parent_level(&level);
        position /= 2;
    }
    Some(path)
}

/// Checks that `leaf` is at `index` of `count` leaves under `root`, given its [`merkle_path`].
pub fn verify_merkle_path(
    leaf: Hash32,
    index: u32,
    count: u32,
    path: &[Hash32],
    root: Hash32,
) -> bool {
    if index >= count {
        return false;
    }
    let (mut position, mut width) = (u64::from(index), u64::from(count));
    let mut hash = merkle_leaf(&leaf);
    let mut siblings = path.iter();
    while width > 1 {
        let sibling = position ^ 1;
        if sibling < width {
            let Some(other) = siblings.next() else {
                return false;
            };
            hash = if position % 2 == 0 {
                merkle_node(&hash, &other.0)
            } else {
                merkle_node(&other.0, &hash)
            };
        }
        position /= 2;
        width = width.div_ceil(2);
    }
    siblings.next().is_none() && Hash32(hash) == root
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;
    use proptest::prelude::*;

    fn leaf(n: u8) -> Hash32 {
        Hash32([n; 32])
    }

    #[test]
    fn the_root_is_built_as_documented() {
        let (a, b, c) = (leaf(1), leaf(2), leaf(3));
        assert_eq!(merkle_root([]), Hash32::default());
        assert_eq!(
            merkle_root([a]),
            Hash32(merkle_leaf(&a)),
            "one leaf: its leaf hash"
        );
        let ab = merkle_node(&merkle_leaf(&a), &merkle_leaf(&b));
        assert_eq!(merkle_root([a, b]), Hash32(ab));
        // Three leaves: the odd one is carried up unchanged, then paired.
        assert_eq!(
            merkle_root([a, b, c]),
            Hash32(merkle_node(&ab, &merkle_leaf(&c)))
        );
        assert_ne!(merkle_root([a, b]), merkle_root([b, a]), "order matters");
        assert_ne!(merkle_root([a]), a, "leaves are domain-separated");
        // The domain tags themselves, pinned.
        let mut h = blake3::Hasher::new();
        h.update(b"opmeter/merkle/leaf");
        h.update(&a.0);
        assert_eq!(merkle_leaf(&a), *h.finalize().as_bytes());
        let roots: Vec<String> = (0u8..=5)
            .map(|n| merkle_root((1..=n).map(leaf)).to_hex())
            .collect();
        expect![[r#"
            [
                "0x0000000000000000000000000000000000000000000000000000000000000000",
                "0xce994c8db23db6f25064fc7921e4a40e0d50f7510c09617bb420a6eb15d11de8",
                "0x86a9a03e791cd58b2b9f9b07ebc41cb10588723b7d460996f34b1b65ebb556a3",
                "0x5ca15b7db377a1db8d11c0eba6661c4cc445c1197694a94c10296b0e63a89bfb",
                "0x984c4da8184e43cf780941a26cfb519e42ab671cfd2ffd1cc8adc67d07616809",
                "0x44858022bc1c142d554adccdf6c85b490d264f307a8f4960d0a78d823e2a250d",
            ]
        "#]]
        .assert_debug_eq(&roots);
    }

    #[test]
    fn merkle_paths_verify_for_every_leaf_and_count() {
        for count in 1u32..=9 {
            let leaves: Vec<Hash32> = (0..count).map(|i| leaf(i as u8 + 1)).collect();
            let root = merkle_root(leaves.iter().copied());
            for index in 0..count {
                let path = merkle_path(&leaves, index).unwrap();
                let at = leaves[index as usize];
                assert!(verify_merkle_path(at, index, count, &path, root));
                assert!(!verify_merkle_path(leaf(0xee), index, count, &path, root));
                if count > 1 {
                    let other = (index + 1) % count;
                    assert!(!verify_merkle_path(at, other, count, &path, root));
                    assert!(!verify_merkle_path(at, index, count, &path[1..], root));
                }
            }
            assert!(merkle_path(&leaves, count).is_none());
            assert!(!verify_merkle_path(leaves[0], count, count, &[], root));
        }
    }

    proptest! {
        #[test]
        fn every_path_verifies_and_only_for_its_leaf(
            seeds in proptest::collection::vec(any::<u8>(), 1..40),
            pick in any::<prop::sample::Index>(),
        ) {
            let leaves: Vec<Hash32> = seeds.iter().enumerate()
                .map(|(i, s)| Hash32::of(&[*s, i as u8])).collect();
            let count = leaves.len() as u32;
            let index = pick.index(leaves.len()) as u32;
            let root = merkle_root(leaves.iter().copied());
            let path = merkle_path(&leaves, index).unwrap();
            prop_assert!(verify_merkle_path(leaves[index as usize], index, count, &path, root));
            prop_assert!(!verify_merkle_path(Hash32::of(b"other"), index, count, &path, root));
        }
    }
}
