//! Durable state on RocksDB: one column family per kind of data, a versioned Jellyfish Merkle
//! tree (the `jmt` crate, blake3) over accounts and contract storage, and one atomic write per
//! block.
//!
//! ```text
//! column family   key                                  value
//! meta            b"head" | b"genesis"                 height (u64 BE) | genesis JSON
//! accounts        address                              borsh(Account)        (latest)
//! storage         address ‖ key                        value bytes           (latest)
//! names           name                                 borsh(NameRecord)     (latest)
//! code            code hash                            original wasm
//! jmt_nodes       borsh(NodeKey)                       borsh(Node)
//! jmt_values      key hash ‖ version (BE)              borsh(Option<value>)  (every version)
//! headers         height (BE)                          borsh(Header)
//! bodies          height (BE)                          borsh(Vec<SignedTransaction>)
//! receipts        height (BE) ‖ index (BE)             borsh(Receipt)
//! tx_index        tx hash                              height (BE) ‖ index (BE)
//! block_index     block hash                           height (BE)
//! mempool         tx hash                              signed transaction bytes
//! certificates    height (BE)                          borsh(CommitCertificate) that decided it
//! last_commits    height (BE)                          borsh(CommitCertificate) of its parent,
//!                                                      as the block carries it (Block::last_commit)
//! ```
//!
//! The flat `accounts`/`storage` families serve reads of the latest state with one point lookup;
//! `jmt_values` serves reads at any past height (the tree's version is the block height).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use borsh::BorshDeserialize;
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{JellyfishMerkleTree, KeyHash, OwnedValue, RootHash, Version};
use opmeter_vm::{Address, CodeHash};
use rocksdb::{ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, DB};

use opmeter_ledger::block::{Account, Block, Header, Receipt};
use opmeter_ledger::encoding::Hash32;
use opmeter_ledger::name::{Name, NameRecord};
use opmeter_ledger::state::{StateKey, StateProof, TreeHasher};
use opmeter_ledger::tx::SignedTransaction;

const CF_META: &str = "meta";
const CF_ACCOUNTS: &str = "accounts";
const CF_STORAGE: &str = "storage";
const CF_CODE: &str = "code";
const CF_JMT_NODES: &str = "jmt_nodes";
const CF_JMT_VALUES: &str = "jmt_values";
const CF_HEADERS: &str = "headers";
const CF_BODIES: &str = "bodies";
const CF_RECEIPTS: &str = "receipts";
const CF_TX_INDEX: &str = "tx_index";
const CF_BLOCK_INDEX: &str = "block_index";
const CF_MEMPOOL: &str = "mempool";
const CF_NAMES: &str = "names";
const CF_CERTIFICATES: &str = "certificates";
const CF_LAST_COMMITS: &str = "last_commits";

const ALL_CFS: [&str; 15] = [
    CF_META,
    CF_ACCOUNTS,
    CF_STORAGE,
    CF_CODE,
    CF_JMT_NODES,
    CF_JMT_VALUES,
    CF_HEADERS,
    CF_BODIES,
    CF_RECEIPTS,
    CF_TX_INDEX,
    CF_BLOCK_INDEX,
    CF_MEMPOOL,
    CF_NAMES,
    CF_CERTIFICATES,
    CF_LAST_COMMITS,
];

const META_HEAD: &[u8] = b"head";
const META_GENESIS: &[u8] = b"genesis";

/// A failure of the store: the disk, RocksDB, or data that does not decode (corruption).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB failed.
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// Stored bytes did not decode, or an invariant of the stored data broke.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The Merkle tree failed.
    #[error("state tree: {0}")]
    Tree(String),
}

/// State changes of one block, in deterministic order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateChanges {
    /// Accounts written (final records).
    pub accounts: BTreeMap<Address, Account>,
    /// Storage slots written (`None` = removed).
    pub storage: BTreeMap<(Address, Vec<u8>), Option<Vec<u8>>>,
    /// Code uploaded by the block.
    pub codes: BTreeMap<CodeHash, Arc<[u8]>>,
    /// Name records written (final records; names are never removed).
    pub names: BTreeMap<Name, NameRecord>,
}

impl StateChanges {
    /// The tree updates these changes make.
    pub fn tree_updates(&self) -> Vec<(KeyHash, Option<OwnedValue>)> {
        let accounts = self.accounts.iter().map(|(address, account)| {
            (
                StateKey::Account(*address).key_hash(),
                Some(borsh::to_vec(account).unwrap_or_default()),
            )
        });
        let storage = self.storage.iter().map(|((contract, key), value)| {
            (
                StateKey::Storage(*contract, key.clone()).key_hash(),
                value.clone(),
            )
        });
        let names = self.names.iter().map(|(name, record)| {
            (
                StateKey::Name(name.clone()).key_hash(),
                Some(borsh::to_vec(record).unwrap_or_default()),
            )
        });
        accounts.chain(storage).chain(names).collect()
    }
}

/// Everything one block writes, committed in one atomic RocksDB write.
#[derive(Debug)]
pub struct BlockCommit {
    /// The block.
    pub block: Block,
    /// Its receipts, in transaction order.
    pub receipts: Vec<Receipt>,
    /// Its state changes.
    pub changes: StateChanges,
    /// The tree nodes and value versions computed when the state root was.
    pub tree_batch: TreeUpdateBatch,
    /// Mempool entries to delete (included or dropped transactions).
    pub mempool_removed: Vec<Hash32>,
    /// The encoded commit certificate of the validators that decided the block (replicated
    /// chains only), stored in the same write as the block.
    pub certificate: Option<Vec<u8>>,
}

/// The RocksDB store. Safe to share across threads; one writer (the block producer).
pub struct Store {
    db: DB,
    sync_writes: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.db.path())
            .finish()
    }
}

fn height_key(height: u64) -> [u8; 8] {
    height.to_be_bytes()
}

fn receipt_key(height: u64, index: u32) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&height.to_be_bytes());
    key[8..].copy_from_slice(&index.to_be_bytes());
    key
}

fn storage_key(contract: &Address, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + key.len());
    out.extend_from_slice(&contract.0);
    out.extend_from_slice(key);
    out
}

fn value_key(key_hash: &KeyHash, version: Version) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..32].copy_from_slice(&key_hash.0);
    out[32..].copy_from_slice(&version.to_be_bytes());
    out
}

fn decode<T: BorshDeserialize>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    borsh::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn be_u64(what: &str, bytes: &[u8]) -> Result<u64, StoreError> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what}: expected 8 bytes")))?;
    Ok(u64::from_be_bytes(array))
}

/// Reads of the latest committed state's flat column families: live from the [`Store`] (the
/// block producer) or frozen in a [`Snapshot`] (every other reader).
pub trait LatestState {
    /// The raw value of `key` in column family `cf`.
    ///
    /// # Errors
    /// On a store failure.
    fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// An account record.
    ///
    /// # Errors
    /// On a store failure; [`StoreError::Corrupt`] when it does not decode.
    fn account(&self, address: &Address) -> Result<Option<Account>, StoreError> {
        self.get(CF_ACCOUNTS, &address.0)?
            .map(|bytes| decode("account", &bytes))
            .transpose()
    }

    /// A storage slot.
    ///
    /// # Errors
    /// On a store failure.
    fn storage(&self, contract: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(CF_STORAGE, &storage_key(contract, key))
    }

    /// A name's record.
    ///
    /// # Errors
    /// On a store failure; [`StoreError::Corrupt`] when it does not decode.
    fn name(&self, name: &Name) -> Result<Option<NameRecord>, StoreError> {
        self.get(CF_NAMES, name.as_str().as_bytes())?
            .map(|bytes| decode("name", &bytes))
            .transpose()
    }

    /// Code by hash (content-addressed: the same in every state that has it).
    ///
    /// # Errors
    /// On a store failure.
    fn code(&self, code_hash: &CodeHash) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(CF_CODE, &code_hash.0)
    }
}

type DbSnapshot<'db> = rocksdb::SnapshotWithThreadMode<'db, DB>;

self_cell::self_cell!(
    /// A RocksDB snapshot that owns (a share of) its store.
    struct SnapshotCell {
        owner: Arc<Store>,
        #[covariant]
        dependent: DbSnapshot,
    }
);

/// The committed state of one block, frozen: reads of the latest state through it see exactly
/// the block it was taken at, whatever commits meanwhile (a RocksDB snapshot). Cheap to take;
/// hold it no longer than a read.
pub struct Snapshot {
    cell: SnapshotCell,
    height: u64,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("height", &self.height)
            .finish()
    }
}

impl Snapshot {
    /// The block whose state this is.
    pub fn height(&self) -> u64 {
        self.height
    }
}

impl LatestState for Snapshot {
    fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let cf = self.cell.borrow_owner().cf(cf)?;
        Ok(self.cell.borrow_dependent().get_cf(cf, key)?)
    }
}

impl Store {
    /// A snapshot of the last committed block's state (see [`Snapshot`]).
    ///
    /// # Errors
    /// On a store failure, or before genesis.
    pub fn snapshot(self: &Arc<Store>) -> Result<Snapshot, StoreError> {
        let cell = SnapshotCell::new(Arc::clone(self), |store| store.db.snapshot());
        let head = cell
            .borrow_dependent()
            .get_cf(self.cf(CF_META)?, META_HEAD)?
            .ok_or_else(|| StoreError::Corrupt("a snapshot before genesis".into()))?;
        let height = be_u64("head", &head)?;
        Ok(Snapshot { cell, height })
    }

    /// Opens (creating when missing) the store under `path`.
    ///
    /// `sync_writes` makes every block commit wait for the write-ahead log to reach the disk
    /// (survives power loss; a killed process loses nothing either way).
    ///
    /// # Errors
    /// When RocksDB cannot open the directory.
    pub fn open(path: &Path, sync_writes: bool) -> Result<Store, StoreError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_max_open_files(512);
        options.increase_parallelism(2);
        let descriptors = ALL_CFS
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors(&options, path, descriptors)?;
        Ok(Store { db, sync_writes })
    }

    /// Bytes on disk (SST files) and in memory (memtables) of every column family, by name.
    pub fn sizes(&self) -> Vec<(&'static str, u64, u64)> {
        ALL_CFS
            .iter()
            .filter_map(|name| {
                let cf = self.db.cf_handle(name)?;
                let int = |property: &str| {
                    self.db
                        .property_int_value_cf(cf, property)
                        .ok()
                        .flatten()
                        .unwrap_or(0)
                };
                Some((
                    *name,
                    int("rocksdb.total-sst-files-size"),
                    int("rocksdb.cur-size-all-mem-tables"),
                ))
            })
            .collect()
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StoreError::Corrupt(format!("missing column family {name}")))
    }

    /// The height of the last committed block, `None` before genesis.
    ///
    /// # Errors
    /// On a store failure.
    pub fn head_height(&self) -> Result<Option<u64>, StoreError> {
        self.get(CF_META, META_HEAD)?
            .map(|bytes| be_u64("head", &bytes))
            .transpose()
    }

    /// The genesis document the chain was created from.
    ///
    /// # Errors
    /// On a store failure.
    pub fn genesis_json(&self) -> Result<Option<String>, StoreError> {
        self.get(CF_META, META_GENESIS)?
            .map(|bytes| {
                String::from_utf8(bytes).map_err(|e| StoreError::Corrupt(format!("genesis: {e}")))
            })
            .transpose()
    }

    /// The value of a state key as of block `height` (`None` when absent then).
    ///
    /// # Errors
    /// On a store failure.
    pub fn state_value_at(
        &self,
        key: &StateKey,
        height: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.value_at(height, key.key_hash())
    }

    fn value_at(&self, version: Version, key_hash: KeyHash) -> Result<Option<Vec<u8>>, StoreError> {
        let cf = self.cf(CF_JMT_VALUES)?;
        let mut iter = self.db.raw_iterator_cf(cf);
        iter.seek_for_prev(value_key(&key_hash, version));
        if !iter.valid() {
            iter.status()?;
            return Ok(None);
        }
        match (iter.key(), iter.value()) {
            (Some(key), Some(value)) if key.len() == 40 && key[..32] == key_hash.0 => {
                decode::<Option<Vec<u8>>>("tree value", value)
            }
            _ => Ok(None),
        }
    }

    /// An account as of block `height`.
    ///
    /// # Errors
    /// On a store failure.
    pub fn account_at(
        &self,
        address: &Address,
        height: u64,
    ) -> Result<Option<Account>, StoreError> {
        self.state_value_at(&StateKey::Account(*address), height)?
            .map(|bytes| decode("account", &bytes))
            .transpose()
    }

    /// A name's record as of block `height`.
    ///
    /// # Errors
    /// On a store failure.
    pub fn name_at(&self, name: &Name, height: u64) -> Result<Option<NameRecord>, StoreError> {
        self.state_value_at(&StateKey::Name(name.clone()), height)?
            .map(|bytes| decode("name", &bytes))
            .transpose()
    }

    /// The value of `key` at block `height` with its Merkle proof against that block's state
    /// root.
    ///
    /// # Errors
    /// On a store failure, or when the tree has no version `height`.
    pub fn prove(
        &self,
        key: &StateKey,
        height: u64,
    ) -> Result<(Option<Vec<u8>>, StateProof), StoreError> {
        let tree = JellyfishMerkleTree::<_, TreeHasher>::new(self);
        tree.get_with_proof(key.key_hash(), height)
            .map_err(|e| StoreError::Tree(e.to_string()))
    }

    /// The state root after block `height`.
    ///
    /// # Errors
    /// On a store failure, or when the tree has no version `height`.
    pub fn state_root(&self, height: u64) -> Result<Hash32, StoreError> {
        let tree = JellyfishMerkleTree::<_, TreeHasher>::new(self);
        tree.get_root_hash(height)
            .map(|root| Hash32(root.0))
            .map_err(|e| StoreError::Tree(e.to_string()))
    }

    /// Computes the state root of `changes` applied on top of version `height - 1` (or on the
    /// empty tree for `height == 0`), without writing anything.
    ///
    /// # Errors
    /// On a store failure.
    pub fn compute_root(
        &self,
        changes: &StateChanges,
        height: u64,
    ) -> Result<(Hash32, TreeUpdateBatch), StoreError> {
        let tree = JellyfishMerkleTree::<_, TreeHasher>::new(self);
        let (root, batch): (RootHash, TreeUpdateBatch) = tree
            .put_value_set(changes.tree_updates(), height)
            .map_err(|e| StoreError::Tree(e.to_string()))?;
        Ok((Hash32(root.0), batch))
    }

    /// Header of block `height`.
    ///
    /// # Errors
    /// On a store failure.
    pub fn header(&self, height: u64) -> Result<Option<Header>, StoreError> {
        self.get(CF_HEADERS, &height_key(height))?
            .map(|bytes| decode("header", &bytes))
            .transpose()
    }

    /// The height of the block with this header hash.
    ///
    /// # Errors
    /// On a store failure.
    pub fn height_of(&self, block_hash: &Hash32) -> Result<Option<u64>, StoreError> {
        self.get(CF_BLOCK_INDEX, &block_hash.0)?
            .map(|bytes| be_u64("block index", &bytes))
            .transpose()
    }

    /// Block `height` (header, transactions, and the parent's certificate it carries).
    ///
    /// # Errors
    /// On a store failure.
    pub fn block(&self, height: u64) -> Result<Option<Block>, StoreError> {
        let Some(header) = self.header(height)? else {
            return Ok(None);
        };
        let transactions = match self.get(CF_BODIES, &height_key(height))? {
            Some(bytes) => decode("body", &bytes)?,
            None => return Err(StoreError::Corrupt(format!("block {height} has no body"))),
        };
        let last_commit = self
            .get(CF_LAST_COMMITS, &height_key(height))?
            .map(|bytes| decode("last commit", &bytes))
            .transpose()?;
        Ok(Some(Block {
            header,
            transactions,
            last_commit,
        }))
    }

    /// Receipts of block `height`, in order.
    ///
    /// # Errors
    /// On a store failure.
    pub fn receipts(&self, height: u64) -> Result<Vec<Receipt>, StoreError> {
        let cf = self.cf(CF_RECEIPTS)?;
        let prefix = height_key(height);
        let mut receipts = Vec::new();
        for item in self
            .db
            .iterator_cf(cf, IteratorMode::From(&prefix, Direction::Forward))
        {
            let (key, value) = item?;
            if !key.starts_with(&prefix) {
                break;
            }
            receipts.push(decode("receipt", &value)?);
        }
        Ok(receipts)
    }

    /// The encoded commit certificate stored with block `height` (replicated chains only).
    ///
    /// # Errors
    /// On a store failure.
    pub fn certificate(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(CF_CERTIFICATES, &height_key(height))
    }

    /// Where a committed transaction is: `(height, index)`.
    ///
    /// # Errors
    /// On a store failure.
    pub fn tx_location(&self, tx_hash: &Hash32) -> Result<Option<(u64, u32)>, StoreError> {
        let Some(bytes) = self.get(CF_TX_INDEX, &tx_hash.0)? else {
            return Ok(None);
        };
        if bytes.len() != 12 {
            return Err(StoreError::Corrupt("tx index: expected 12 bytes".into()));
        }
        let height = be_u64("tx index", &bytes[..8])?;
        let index = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        Ok(Some((height, index)))
    }

    /// The receipt of a committed transaction.
    ///
    /// # Errors
    /// On a store failure.
    pub fn receipt(&self, tx_hash: &Hash32) -> Result<Option<Receipt>, StoreError> {
        let Some((height, index)) = self.tx_location(tx_hash)? else {
            return Ok(None);
        };
        self.get(CF_RECEIPTS, &receipt_key(height, index))?
            .map(|bytes| decode("receipt", &bytes))
            .transpose()
    }

    /// A committed transaction.
    ///
    /// # Errors
    /// On a store failure.
    pub fn transaction(
        &self,
        tx_hash: &Hash32,
    ) -> Result<Option<(u64, u32, SignedTransaction)>, StoreError> {
        let Some((height, index)) = self.tx_location(tx_hash)? else {
            return Ok(None);
        };
        let block = self
            .block(height)?
            .ok_or_else(|| StoreError::Corrupt(format!("tx index points at missing {height}")))?;
        let tx = block
            .transactions
            .into_iter()
            .nth(index as usize)
            .ok_or_else(|| {
                StoreError::Corrupt(format!("tx index {height}/{index} out of range"))
            })?;
        Ok(Some((height, index, tx)))
    }

    /// Persists admitted transactions (one write, synced when `sync_writes`) so that a restart
    /// re-admits them.
    ///
    /// # Errors
    /// On a store failure (then none was written).
    pub fn mempool_put(&self, txs: &[(Hash32, Vec<u8>)]) -> Result<(), StoreError> {
        let cf = self.cf(CF_MEMPOOL)?;
        let mut batch = WriteBatch::default();
        for (hash, bytes) in txs {
            batch.put_cf(cf, hash.0, bytes);
        }
        let mut options = rocksdb::WriteOptions::default();
        options.set_sync(self.sync_writes);
        Ok(self.db.write_opt(batch, &options)?)
    }

    /// Deletes persisted mempool entries.
    ///
    /// # Errors
    /// On a store failure.
    pub fn mempool_delete(&self, tx_hashes: &[Hash32]) -> Result<(), StoreError> {
        let cf = self.cf(CF_MEMPOOL)?;
        let mut batch = WriteBatch::default();
        for hash in tx_hashes {
            batch.delete_cf(cf, hash.0);
        }
        Ok(self.db.write(batch)?)
    }

    /// Every persisted mempool entry (raw signed transactions), in hash order.
    ///
    /// # Errors
    /// On a store failure.
    pub fn mempool_all(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let cf = self.cf(CF_MEMPOOL)?;
        let mut out = Vec::new();
        for item in self.db.iterator_cf(cf, IteratorMode::Start) {
            let (_, value) = item?;
            out.push(value.to_vec());
        }
        Ok(out)
    }

    /// Writes a block, its receipts, its state changes and the tree update in one atomic write,
    /// then moves the head to it. `genesis_json` is stored with block 0.
    ///
    /// # Errors
    /// On a store failure (then nothing was written).
    pub fn commit(
        &self,
        commit: &BlockCommit,
        genesis_json: Option<&str>,
    ) -> Result<(), StoreError> {
        let height = commit.block.header.height;
        let mut batch = WriteBatch::default();
        let accounts = self.cf(CF_ACCOUNTS)?;
        for (address, account) in &commit.changes.accounts {
            batch.put_cf(
                accounts,
                address.0,
                borsh::to_vec(account).unwrap_or_default(),
            );
        }
        let storage = self.cf(CF_STORAGE)?;
        for ((contract, key), value) in &commit.changes.storage {
            let flat_key = storage_key(contract, key);
            match value {
                Some(value) => batch.put_cf(storage, flat_key, value),
                None => batch.delete_cf(storage, flat_key),
            }
        }
        let names = self.cf(CF_NAMES)?;
        for (name, record) in &commit.changes.names {
            batch.put_cf(
                names,
                name.as_str().as_bytes(),
                borsh::to_vec(record).unwrap_or_default(),
            );
        }
        let code = self.cf(CF_CODE)?;
        for (code_hash, wasm) in &commit.changes.codes {
            batch.put_cf(code, code_hash.0, wasm);
        }
        let nodes = self.cf(CF_JMT_NODES)?;
        for (node_key, node) in commit.tree_batch.node_batch.nodes() {
            batch.put_cf(
                nodes,
                borsh::to_vec(node_key).unwrap_or_default(),
                borsh::to_vec(node).unwrap_or_default(),
            );
        }
        let values = self.cf(CF_JMT_VALUES)?;
        for ((version, key_hash), value) in commit.tree_batch.node_batch.values() {
            batch.put_cf(
                values,
                value_key(key_hash, *version),
                borsh::to_vec(value).unwrap_or_default(),
            );
        }
        let header_bytes = borsh::to_vec(&commit.block.header).unwrap_or_default();
        batch.put_cf(self.cf(CF_HEADERS)?, height_key(height), header_bytes);
        batch.put_cf(
            self.cf(CF_BODIES)?,
            height_key(height),
            borsh::to_vec(&commit.block.transactions).unwrap_or_default(),
        );
        batch.put_cf(
            self.cf(CF_BLOCK_INDEX)?,
            commit.block.header.hash().0,
            height_key(height),
        );
        let receipts = self.cf(CF_RECEIPTS)?;
        let tx_index = self.cf(CF_TX_INDEX)?;
        for receipt in &commit.receipts {
            let key = receipt_key(height, receipt.index);
            batch.put_cf(receipts, key, borsh::to_vec(receipt).unwrap_or_default());
            batch.put_cf(tx_index, receipt.tx_hash.0, key);
        }
        let mempool = self.cf(CF_MEMPOOL)?;
        for hash in &commit.mempool_removed {
            batch.delete_cf(mempool, hash.0);
        }
        if let Some(certificate) = &commit.certificate {
            batch.put_cf(self.cf(CF_CERTIFICATES)?, height_key(height), certificate);
        }
        if let Some(last_commit) = &commit.block.last_commit {
            batch.put_cf(
                self.cf(CF_LAST_COMMITS)?,
                height_key(height),
                borsh::to_vec(last_commit).unwrap_or_default(),
            );
        }
        let meta = self.cf(CF_META)?;
        if let Some(genesis) = genesis_json {
            batch.put_cf(meta, META_GENESIS, genesis.as_bytes());
        }
        batch.put_cf(meta, META_HEAD, height_key(height));
        let mut options = rocksdb::WriteOptions::default();
        options.set_sync(self.sync_writes);
        self.db.write_opt(batch, &options)?;
        Ok(())
    }
}

impl LatestState for Store {
    fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(cf)?, key)?)
    }
}

impl TreeReader for Store {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        let key = borsh::to_vec(node_key)?;
        match self.get(CF_JMT_NODES, &key)? {
            Some(bytes) => Ok(Some(borsh::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        Ok(self.value_at(max_version, key_hash)?)
    }

    /// Only needed to resume restoring a tree from a state-sync snapshot, which this node does not
    /// do (it builds its tree block by block); answering wrongly would corrupt a restore, so it
    /// refuses.
    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        anyhow::bail!("tree restore from snapshots is not supported by this store")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), false).unwrap();
        (dir, store)
    }

    fn header(height: u64, state_root: Hash32) -> Header {
        Header {
            chain_id: "t".into(),
            height,
            parent_hash: Hash32::default(),
            last_commit_hash: Hash32::default(),
            timestamp_ms: height,
            state_root,
            transactions_root: Hash32::default(),
            receipts_root: Hash32::default(),
            gas_used: 0,
            tx_count: 0,
            schedule_hash: [0; 32],
        }
    }

    fn commit(store: &Store, height: u64, changes: StateChanges) -> Hash32 {
        let (root, tree_batch) = store.compute_root(&changes, height).unwrap();
        let commit = BlockCommit {
            block: Block {
                header: header(height, root),
                transactions: vec![],
                last_commit: None,
            },
            receipts: vec![],
            changes,
            tree_batch,
            mempool_removed: vec![],
            certificate: None,
        };
        store.commit(&commit, None).unwrap();
        root
    }

    #[test]
    fn versions_give_historical_reads_and_proofs_verify() {
        let (_dir, store) = temp_store();
        let contract = Address([5; 32]);
        let mut changes = StateChanges::default();
        changes
            .storage
            .insert((contract, b"k".to_vec()), Some(b"one".to_vec()));
        let root0 = commit(&store, 0, changes);
        let mut changes = StateChanges::default();
        changes
            .storage
            .insert((contract, b"k".to_vec()), Some(b"two".to_vec()));
        changes.storage.insert((contract, b"gone".to_vec()), None);
        let root1 = commit(&store, 1, changes);
        assert_ne!(root0, root1);
        assert_eq!(store.state_root(0).unwrap(), root0);
        assert_eq!(store.state_root(1).unwrap(), root1);

        let key = StateKey::Storage(contract, b"k".to_vec());
        assert_eq!(
            store.state_value_at(&key, 0).unwrap(),
            Some(b"one".to_vec())
        );
        assert_eq!(
            store.state_value_at(&key, 1).unwrap(),
            Some(b"two".to_vec())
        );
        assert_eq!(
            store.storage(&contract, b"k").unwrap(),
            Some(b"two".to_vec())
        );

        let (value, proof) = store.prove(&key, 0).unwrap();
        assert_eq!(value.as_deref(), Some(&b"one"[..]));
        proof
            .verify_existence(RootHash(root0.0), key.key_hash(), b"one")
            .unwrap();
        assert!(proof
            .verify_existence(RootHash(root0.0), key.key_hash(), b"two")
            .is_err());
        assert!(proof
            .verify_existence(RootHash(root1.0), key.key_hash(), b"one")
            .is_err());

        let absent = StateKey::Storage(contract, b"never".to_vec());
        let (value, proof) = store.prove(&absent, 1).unwrap();
        assert_eq!(value, None);
        proof
            .verify_nonexistence(RootHash(root1.0), absent.key_hash())
            .unwrap();
    }

    #[test]
    fn a_reopened_store_keeps_its_head() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), true).unwrap();
            assert_eq!(store.head_height().unwrap(), None);
            commit(&store, 0, StateChanges::default());
        }
        let store = Store::open(dir.path(), true).unwrap();
        assert_eq!(store.head_height().unwrap(), Some(0));
        assert!(store.header(0).unwrap().is_some());
        assert!(store.block(1).unwrap().is_none());
    }
}
