//! The application side of consensus: Malachite's messages answered with the node's block
//! pipeline (the same `propose_block` / `validate_block` / `commit_block` the single node uses).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use malachitebft_app_channel::app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, LinearTimeouts, Round, Validity,
};
use malachitebft_app_channel::app::types::{LocallyProposedValue, ProposedValue};
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};

use opmeter_ledger::block::Block;
use opmeter_node::chain::StagedBlock;
use opmeter_node::service::Node;

use crate::codec::{decode_certificate, encode_certificate, raw_decided};
use crate::context::{
    parts_bytes, BlockHash, BlockValue, Height, Keys, OpmeterContext, ProposalPart, Sig,
    ValidatorAddress, ValidatorSet,
};
use crate::proposals::{ProposalStore, StoredProposal};

type Ctx = OpmeterContext;

/// Bytes of block data per proposal part.
const PART_DATA_BYTES: usize = 128 * 1024;
/// Most decided values served to a syncing peer per request.
const SYNC_BATCH_MAX: u64 = 32;
/// How far ahead of the next height an early proposal is kept, and how many are kept: a
/// validator streaming proposals for far-future heights cannot fill memory.
const FUTURE_HEIGHTS_MAX: u64 = 8;
const FUTURE_PROPOSALS_MAX: usize = 64;

/// How a validator answers consensus.
pub struct App {
    node: Arc<Node>,
    keys: Keys,
    address: ValidatorAddress,
    validators: ValidatorSet,
    timeouts: LinearTimeouts,
    proposals: ProposalStore,
    /// How long a proposer waits for a first pending transaction before proposing an empty
    /// block (bounded by half the propose timeout).
    empty_block_wait: Duration,
    corrupt_proposals: bool,
    /// Values executed on top of the head, by block hash (several rounds may propose several).
    staged: BTreeMap<BlockHash, Executed>,
    /// Proposal streams being received, by (publisher, stream id).
    streams: BTreeMap<(Vec<u8>, Vec<u8>), PartStream>,
    /// Complete proposals for heights above the next one, considered when that height starts.
    future: Vec<StoredProposal>,
    stream_counter: u64,
}

struct Executed {
    /// `None` when the value does not re-execute to its header.
    staged: Option<StagedBlock>,
}

#[derive(Default)]
struct PartStream {
    parts: BTreeMap<u64, Option<ProposalPart>>,
    fin_sequence: Option<u64>,
    started: Option<Instant>,
}

/// The settings of [`App::new`].
pub struct AppConfig {
    /// This validator's signer.
    pub keys: Keys,
    /// Its address.
    pub address: ValidatorAddress,
    /// The validator set (from the genesis).
    pub validators: ValidatorSet,
    /// Consensus timeouts.
    pub timeouts: LinearTimeouts,
    /// Where undecided proposals are kept.
    pub proposals: ProposalStore,
    /// See [`App`]'s field.
    pub empty_block_wait: Duration,
    /// Tests only: propose blocks with a wrong state root (see `ValidatorConfig`).
    pub corrupt_proposals: bool,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl App {
    /// An application over `node`.
    pub fn new(node: Arc<Node>, config: AppConfig) -> App {
        App {
            node,
            keys: config.keys,
            address: config.address,
            validators: config.validators,
            timeouts: config.timeouts,
            proposals: config.proposals,
            empty_block_wait: config.empty_block_wait,
            corrupt_proposals: config.corrupt_proposals,
            staged: BTreeMap::new(),
            streams: BTreeMap::new(),
            future: Vec::new(),
            stream_counter: 0,
        }
    }

    fn head_height(&self) -> u64 {
        self.node.head().header.height
    }

    fn params(&self) -> HeightParams<Ctx> {
        HeightParams::new(self.validators.clone(), self.timeouts, None)
    }

    /// Answers consensus until its channel closes.
    ///
    /// # Errors
    /// When the network channel closes.
    pub async fn run(mut self, channels: &mut Channels<Ctx>) -> eyre::Result<()> {
        while let Some(msg) = channels.consensus.recv().await {
            self.handle(msg, channels).await?;
        }
        Ok(())
    }

    async fn handle(&mut self, msg: AppMsg<Ctx>, channels: &mut Channels<Ctx>) -> eyre::Result<()> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let start = Height(self.head_height() + 1);
                tracing::info!(%start, "consensus ready");
                let _ = reply.send((start, self.params()));
            }
            AppMsg::StartedRound {
                height,
                round,
                proposer,
                role,
                reply_value,
            } => {
                tracing::debug!(%height, %round, %proposer, ?role, "started round");
                let values = self.started_round(height, round);
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue {
                height,
                round,
                timeout,
                reply,
            } => {
                let stored = self.get_value(height, round, timeout).await?;
                let _ = reply.send(LocallyProposedValue::new(
                    height,
                    round,
                    BlockValue(stored.block_hash),
                ));
                self.publish(&stored, channels).await?;
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => {
                let _ = reply.send(extensions.into_iter().map(|(a, _)| (a, Ok(()))).collect());
            }
            AppMsg::RestreamProposal {
                height, value_id, ..
            } => {
                let stored = self
                    .proposals
                    .at_height(height.0)
                    .into_iter()
                    .find(|p| p.block_hash == value_id);
                match stored {
                    Some(stored) => self.publish(&stored, channels).await?,
                    None => {
                        tracing::warn!(%height, %value_id, "asked to restream a value not held")
                    }
                }
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(Height(1));
            }
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let publisher = published_by.unwrap_or(from).to_bytes();
                let value = self.received_part(publisher, part);
                let _ = reply.send(value);
            }
            AppMsg::Decided {
                certificate, reply, ..
            } => {
                if let Err(e) = self.decided(&certificate) {
                    tracing::error!(height = %certificate.height, "committing the decided block failed: {e}");
                }
                let _ = reply.send(());
            }
            AppMsg::Finalized {
                certificate, reply, ..
            } => {
                let head = self.head_height();
                let next = if head >= certificate.height.0 {
                    Next::Start(Height(head + 1), self.params())
                } else {
                    tracing::warn!(height = %certificate.height, "decided block not committed: restarting the height");
                    Next::Restart(Height(head + 1), self.params())
                };
                let _ = reply.send(next);
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let head = self.head_height();
                let from = range.start().0.max(1);
                let to = range
                    .end()
                    .0
                    .min(head)
                    .min(from.saturating_add(SYNC_BATCH_MAX - 1));
                let store = self.node.chain().store();
                let mut values = Vec::new();
                for height in from..=to {
                    let (Ok(Some(block)), Ok(Some(certificate))) =
                        (store.block(height), store.certificate(height))
                    else {
                        break;
                    };
                    let Ok(certificate) = decode_certificate(&certificate) else {
                        break;
                    };
                    values.push(raw_decided(
                        borsh::to_vec(&block).unwrap_or_default(),
                        &certificate,
                    ));
                }
                let _ = reply.send(values);
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let outcome = self.synced_value(height, round, proposer, &value_bytes);
                let _ = reply.send(outcome);
            }
        }
        Ok(())
    }

    /// The values already held for `(height, round)` (after a crash: the ones built or received
    /// before it), and the proposals that arrived early for this height.
    fn started_round(&mut self, height: Height, round: Round) -> Vec<ProposedValue<Ctx>> {
        let early: Vec<StoredProposal> = std::mem::take(&mut self.future);
        let (now, later): (Vec<_>, Vec<_>) = early.into_iter().partition(|p| p.height == height.0);
        self.future = later.into_iter().filter(|p| p.height > height.0).collect();
        for stored in now {
            if let Err(e) = self.proposals.put(&stored) {
                tracing::error!("storing a proposal: {e}");
            }
        }
        let Some(round) = round.as_u32() else {
            return Vec::new();
        };
        self.proposals
            .at_height(height.0)
            .into_iter()
            .filter(|p| p.round == round)
            .filter_map(|stored| self.consider(stored))
            .collect()
    }

    async fn get_value(
        &mut self,
        height: Height,
        round: Round,
        timeout: Duration,
    ) -> eyre::Result<StoredProposal> {
        let round_number = round.as_u32().unwrap_or(0);
        if let Some(stored) = self.proposals.mine_for(height.0, round_number) {
            tracing::info!(%height, %round, block = %stored.block_hash, "re-proposing the value built before");
            self.execute(&stored);
            return Ok(stored);
        }
        let wait = self.empty_block_wait.min(timeout / 2);
        let started = Instant::now();
        while self.node.mempool_len() == 0 && started.elapsed() < wait {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let last_commit = self.last_commit()?;
        let node = Arc::clone(&self.node);
        let staged =
            tokio::task::block_in_place(|| node.propose_block(now_ms(), true, last_commit))?
                .ok_or_else(|| eyre::eyre!("no block built"))?;
        let mut block = staged.block().clone();
        if block.header.height != height.0 {
            eyre::bail!(
                "asked to propose height {height} on head {}",
                block.header.height.saturating_sub(1)
            );
        }
        let mut staged = Some(staged);
        if self.corrupt_proposals {
            block.header.state_root.0[0] ^= 1;
            staged = None;
        }
        let block_hash = BlockHash::from(block.header.hash());
        let signature = self.keys.sign_bytes(&parts_bytes(
            self.keys.chain_id(),
            height.0,
            round_number,
            -1,
            self.address,
            block_hash,
        ))?;
        let stored = StoredProposal {
            height: height.0,
            round: round_number,
            pol_round: -1,
            proposer: self.address,
            block_hash,
            signature,
            block: borsh::to_vec(&block)?,
        };
        self.proposals.put(&stored)?;
        self.proposals
            .put_mine(height.0, round_number, &block_hash)?;
        tracing::info!(%height, %round, block = %block_hash, txs = block.header.tx_count, "proposing");
        self.staged.insert(block_hash, Executed { staged });
        Ok(stored)
    }

    /// The certificate that decided the head, as this validator stored it when it committed the
    /// head: what the block it proposes carries (`None` on the genesis).
    fn last_commit(&self) -> eyre::Result<Option<opmeter_ledger::consensus::CommitCertificate>> {
        let head = self.head_height();
        if head == 0 {
            return Ok(None);
        }
        let bytes = self
            .node
            .chain()
            .store()
            .certificate(head)?
            .ok_or_else(|| eyre::eyre!("no commit certificate stored for the head {head}"))?;
        Ok(Some(borsh::from_slice(&bytes)?))
    }

    async fn publish(
        &mut self,
        stored: &StoredProposal,
        channels: &mut Channels<Ctx>,
    ) -> eyre::Result<()> {
        self.stream_counter += 1;
        let stream_id = StreamId::new(Bytes::from(
            borsh::to_vec(&(stored.height, stored.round, self.stream_counter)).unwrap_or_default(),
        ));
        let mut parts = vec![ProposalPart::Init {
            height: stored.height,
            round: stored.round,
            pol_round: stored.pol_round,
            proposer: stored.proposer,
        }];
        parts.extend(
            stored
                .block
                .chunks(PART_DATA_BYTES)
                .map(|c| ProposalPart::Data(c.to_vec())),
        );
        parts.push(ProposalPart::Fin(stored.signature.clone()));
        let count = parts.len() as u64;
        for (sequence, part) in parts.into_iter().enumerate() {
            let message = StreamMessage::new(
                stream_id.clone(),
                sequence as u64,
                StreamContent::Data(part),
            );
            channels
                .network
                .send(NetworkMsg::PublishProposalPart(message))
                .await?;
        }
        channels
            .network
            .send(NetworkMsg::PublishProposalPart(StreamMessage::new(
                stream_id,
                count,
                StreamContent::Fin,
            )))
            .await?;
        Ok(())
    }

    fn received_part(
        &mut self,
        publisher: Vec<u8>,
        part: StreamMessage<ProposalPart>,
    ) -> Option<ProposedValue<Ctx>> {
        // Streams that never complete are dropped after a while: a peer cannot fill memory.
        self.streams.retain(|_, s| {
            s.started
                .is_none_or(|t| t.elapsed() < Duration::from_secs(60))
        });
        let key = (publisher, part.stream_id.to_bytes().to_vec());
        let stream = self.streams.entry(key.clone()).or_default();
        stream.started.get_or_insert_with(Instant::now);
        match part.content {
            StreamContent::Data(data) => {
                stream.parts.insert(part.sequence, Some(data));
            }
            StreamContent::Fin => stream.fin_sequence = Some(part.sequence),
        }
        let fin = stream.fin_sequence?;
        if stream.parts.len() as u64 != fin
            || stream.parts.keys().next_back() != fin.checked_sub(1).as_ref()
        {
            return None;
        }
        let stream = self.streams.remove(&key)?;
        let parts: Vec<ProposalPart> = stream.parts.into_values().flatten().collect();
        match self.assemble(parts) {
            Ok(stored) => {
                let next = self.head_height() + 1;
                if stored.height > next {
                    if stored.height - next <= FUTURE_HEIGHTS_MAX
                        && self.future.len() < FUTURE_PROPOSALS_MAX
                    {
                        self.future.push(stored);
                    }
                    return None;
                }
                if stored.height < next {
                    return None;
                }
                if let Err(e) = self.proposals.put(&stored) {
                    tracing::error!("storing a proposal: {e}");
                    return None;
                }
                self.consider(stored)
            }
            Err(reason) => {
                tracing::warn!("dropping a proposal stream: {reason}");
                None
            }
        }
    }

    /// Checks a complete stream: `Init`, data, `Fin` signed by a validator over what it holds.
    fn assemble(&self, parts: Vec<ProposalPart>) -> Result<StoredProposal, String> {
        let mut iter = parts.into_iter();
        let Some(ProposalPart::Init {
            height,
            round,
            pol_round,
            proposer,
        }) = iter.next()
        else {
            return Err("the stream does not open with Init".into());
        };
        let mut block = Vec::new();
        let mut signature: Option<Sig> = None;
        for part in iter {
            match (part, &signature) {
                (ProposalPart::Data(chunk), None) => block.extend(chunk),
                (ProposalPart::Fin(sig), None) => signature = Some(sig),
                _ => return Err("parts after Fin, or a second Init".into()),
            }
        }
        let signature = signature.ok_or("the stream has no Fin")?;
        let validator = self
            .validators
            .validators()
            .iter()
            .find(|v| v.address == proposer)
            .ok_or_else(|| format!("{proposer} is not a validator"))?;
        let decoded: Block = borsh::from_slice(&block).map_err(|e| format!("block: {e}"))?;
        let block_hash = BlockHash::from(decoded.header.hash());
        let signed = parts_bytes(
            self.keys.chain_id(),
            height,
            round,
            pol_round,
            proposer,
            block_hash,
        );
        if !Keys::verify_bytes(&signed, &signature, &validator.public_key) {
            return Err(format!("bad proposal signature by {proposer}"));
        }
        Ok(StoredProposal {
            height,
            round,
            pol_round,
            proposer,
            block_hash,
            signature,
            block,
        })
    }

    /// Executes `stored` (once per block hash) and says whether it re-executes to its header.
    fn execute(&mut self, stored: &StoredProposal) -> bool {
        if let Some(executed) = self.staged.get(&stored.block_hash) {
            return executed.staged.is_some();
        }
        let staged = match borsh::from_slice::<Block>(&stored.block) {
            Ok(block) if block.header.height == stored.height => {
                let node = Arc::clone(&self.node);
                match tokio::task::block_in_place(|| node.validate_block(&block)) {
                    Ok(staged) => Some(staged),
                    Err(e) => {
                        tracing::warn!(height = stored.height, block = %stored.block_hash, proposer = %stored.proposer, "invalid proposal: {e}");
                        None
                    }
                }
            }
            _ => None,
        };
        let valid = staged.is_some();
        self.staged.insert(stored.block_hash, Executed { staged });
        valid
    }

    fn consider(&mut self, stored: StoredProposal) -> Option<ProposedValue<Ctx>> {
        if stored.height != self.head_height() + 1 {
            return None;
        }
        let valid = self.execute(&stored);
        Some(ProposedValue {
            height: Height(stored.height),
            round: Round::new(stored.round),
            valid_round: Round::from(stored.pol_round),
            proposer: stored.proposer,
            value: BlockValue(stored.block_hash),
            validity: Validity::from_bool(valid),
        })
    }

    fn synced_value(
        &mut self,
        height: Height,
        round: Round,
        proposer: ValidatorAddress,
        value_bytes: &[u8],
    ) -> SyncedValueOutcome<Ctx> {
        let Ok(block) = borsh::from_slice::<Block>(value_bytes) else {
            return SyncedValueOutcome::PeerFault;
        };
        if block.header.height != height.0 {
            return SyncedValueOutcome::PeerFault;
        }
        if height.0 != self.head_height() + 1 {
            return SyncedValueOutcome::LocalTransientError;
        }
        let stored = StoredProposal {
            height: height.0,
            round: round.as_u32().unwrap_or(0),
            pol_round: -1,
            proposer,
            block_hash: block.header.hash().into(),
            // A synced value is vouched for by its commit certificate, not a part signature.
            signature: Sig([0; 64]),
            block: value_bytes.to_vec(),
        };
        let valid = self.execute(&stored);
        SyncedValueOutcome::Verdict(ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer,
            value: BlockValue(stored.block_hash),
            validity: Validity::from_bool(valid),
        })
    }

    /// Commits the decided block with its certificate, exactly once: a height already committed
    /// (a replay after a crash) is acknowledged without writing.
    fn decided(&mut self, certificate: &CommitCertificate<Ctx>) -> eyre::Result<()> {
        let height = certificate.height.0;
        if self.head_height() >= height {
            return Ok(());
        }
        let hash = certificate.value_id;
        let staged = match self.staged.remove(&hash).and_then(|e| e.staged) {
            Some(staged) => staged,
            None => {
                let stored = self
                    .proposals
                    .at_height(height)
                    .into_iter()
                    .find(|p| p.block_hash == hash)
                    .ok_or_else(|| eyre::eyre!("the decided block {hash} is not held"))?;
                self.execute(&stored);
                self.staged
                    .remove(&hash)
                    .and_then(|e| e.staged)
                    .ok_or_else(|| {
                        eyre::eyre!("the decided block {hash} does not execute to its header")
                    })?
            }
        };
        let node = Arc::clone(&self.node);
        let certificate_bytes = encode_certificate(certificate);
        tokio::task::block_in_place(|| node.commit_block(staged, Some(certificate_bytes)))?;
        self.staged.clear();
        self.proposals.prune_through(height);
        Ok(())
    }
}
