//! Undecided proposals on disk: every value this validator built or received, written (and
//! synced) before consensus hears of it, so that after a crash `GetValue` returns the very value
//! built for a height and round, and `StartedRound` replays what was seen. Pruned on commit.

use std::path::{Path, PathBuf};

use borsh::{BorshDeserialize, BorshSerialize};

use crate::context::{BlockHash, Sig, ValidatorAddress};

/// A proposal as streamed: who built it for which height and round, the proposer's signature
/// over it, and the block's bytes.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StoredProposal {
    /// Height.
    pub height: u64,
    /// The round it was built for.
    pub round: u32,
    /// The proof-of-lock round (`-1` for none).
    pub pol_round: i64,
    /// The validator that built it.
    pub proposer: ValidatorAddress,
    /// The block's hash.
    pub block_hash: BlockHash,
    /// The proposer's signature over the parts (see `context::parts_bytes`).
    pub signature: Sig,
    /// The encoded block.
    pub block: Vec<u8>,
}

/// The directory of stored proposals.
#[derive(Debug)]
pub struct ProposalStore {
    dir: PathBuf,
}

impl ProposalStore {
    /// Opens (creating) `dir`.
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub fn open(dir: &Path) -> std::io::Result<ProposalStore> {
        std::fs::create_dir_all(dir)?;
        Ok(ProposalStore {
            dir: dir.to_path_buf(),
        })
    }

    fn name(height: u64, round: u32, hash: &BlockHash) -> String {
        format!("{height:020}-{round:010}-{}.proposal", hex::encode(hash.0))
    }

    fn mine(height: u64, round: u32) -> String {
        format!("{height:020}-{round:010}.mine")
    }

    /// Writes `proposal` durably (temporary file, fsync, rename, fsync of the directory).
    ///
    /// # Errors
    /// I/O failures.
    pub fn put(&self, proposal: &StoredProposal) -> std::io::Result<()> {
        let bytes = borsh::to_vec(proposal)?;
        let name = Self::name(proposal.height, proposal.round, &proposal.block_hash);
        self.write_durably(&name, &bytes)
    }

    /// Records that this validator built `hash` for `(height, round)` (after [`Self::put`]).
    ///
    /// # Errors
    /// I/O failures.
    pub fn put_mine(&self, height: u64, round: u32, hash: &BlockHash) -> std::io::Result<()> {
        self.write_durably(&Self::mine(height, round), &hash.0)
    }

    fn write_durably(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write as _;
        let tmp = self.dir.join(format!("{name}.tmp"));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, self.dir.join(name))?;
        std::fs::File::open(&self.dir)?.sync_all()
    }

    /// The value this validator built for `(height, round)`, if any.
    pub fn mine_for(&self, height: u64, round: u32) -> Option<StoredProposal> {
        let hash = std::fs::read(self.dir.join(Self::mine(height, round))).ok()?;
        let hash = BlockHash(<[u8; 32]>::try_from(hash.as_slice()).ok()?);
        self.get(height, round, &hash)
    }

    /// The stored proposal of `hash` for `(height, round)`.
    pub fn get(&self, height: u64, round: u32, hash: &BlockHash) -> Option<StoredProposal> {
        let bytes = std::fs::read(self.dir.join(Self::name(height, round, hash))).ok()?;
        borsh::from_slice(&bytes).ok()
    }

    /// Every stored proposal of `height` (any round), in name order.
    pub fn at_height(&self, height: u64) -> Vec<StoredProposal> {
        let prefix = format!("{height:020}-");
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.starts_with(&prefix) && n.ends_with(".proposal"))
            .collect();
        names.sort();
        names
            .into_iter()
            .filter_map(|n| std::fs::read(self.dir.join(n)).ok())
            .filter_map(|bytes| borsh::from_slice(&bytes).ok())
            .collect()
    }

    /// Deletes everything stored for heights up to `height`.
    pub fn prune_through(&self, height: u64) {
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let stored_height = name.get(..20).and_then(|h| h.parse::<u64>().ok());
            if stored_height.is_some_and(|h| h <= height) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal(height: u64, round: u32, byte: u8) -> StoredProposal {
        StoredProposal {
            height,
            round,
            pol_round: -1,
            proposer: ValidatorAddress([byte; 20]),
            block_hash: BlockHash([byte; 32]),
            signature: Sig([byte; 64]),
            block: vec![byte; 10],
        }
    }

    #[test]
    fn stores_finds_and_prunes() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProposalStore::open(dir.path()).unwrap();
        let (a, b, c) = (proposal(5, 0, 1), proposal(5, 1, 2), proposal(6, 0, 3));
        for p in [&a, &b, &c] {
            store.put(p).unwrap();
        }
        store.put_mine(5, 1, &b.block_hash).unwrap();
        assert_eq!(store.mine_for(5, 1), Some(b.clone()));
        assert_eq!(store.mine_for(5, 0), None);
        assert_eq!(store.at_height(5), vec![a.clone(), b.clone()]);
        assert_eq!(store.get(6, 0, &c.block_hash), Some(c.clone()));
        store.prune_through(5);
        assert!(store.at_height(5).is_empty());
        assert_eq!(store.mine_for(5, 1), None);
        assert_eq!(store.at_height(6), vec![c]);
    }
}
