//! Gas traces: where every unit of gas of one execution went, exactly.
//!
//! ```text
//! execute_traced ─▶ traced module (same charges + enter/exit/block hooks) ─▶ Tracer
//!                      enter(f) / exit()      ─▶ gas since the last hook → innermost function
//!                      host `charge`          ─▶ host entry of the innermost function
//!                      host `call`            ─▶ callee frame under that host entry
//!                      frame end (any status) ─▶ remainder → innermost open function
//! ```
//!
//! A trace is a calling-context tree: repeated calls of the same function, host function or
//! callee (contract, method, status) under the same parent are merged (`calls` counts them), so
//! a loop of a million calls is one entry. Its invariants, checked by the vm before it returns a
//! trace (a [`VmError::GasAccounting`] otherwise) and by the tests:
//!
//! 1. tracing never changes the [`crate::Outcome`];
//! 2. `root.gas_used == outcome.gas_used`; a frame's `gas_used` is the sum of its entries'
//!    [`TraceEntry::total_gas`]; a function's `gas` is `instructions_gas + memory_gas` plus its
//!    children's totals; a host entry's total is `gas + storage_bytes_gas` plus its callees';
//! 3. [`Trace::breakdown`] (the tree summed by category) equals `outcome.gas_breakdown`.
//!
//! What does not fit under [`TraceOptions::max_nodes`] (or deeper than [`MAX_TRACE_DEPTH`]) is
//! folded into a [`TraceEntry::Truncated`] of its parent, with its own breakdown, so all three
//! invariants still hold.

use std::collections::{BTreeMap, HashMap};

use crate::abi::{GasCategory, HostFn};
use crate::instrument::ChargeSite;
use crate::outcome::VmError;
use crate::types::{Address, CodeHash, Status};

/// Entries deeper than this in the tree (counting frames, functions and host entries) are
/// folded into their ancestor's [`TraceEntry::Truncated`]: it bounds the recursion of building,
/// comparing and dropping a trace (a guest recursing 1,024 deep in 8 nested calls).
pub const MAX_TRACE_DEPTH: u32 = 256;

/// What a traced execution records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceOptions {
    /// Also count hits of every metered block (a host call per block: slow).
    pub blocks: bool,
    /// Most entries in the whole tree (frames, functions, host entries, charges); the rest is
    /// folded into [`TraceEntry::Truncated`] entries (at most one more per parent).
    pub max_nodes: u32,
    /// Most [`BlockStat`]s returned (the most expensive ones).
    pub max_blocks: u32,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            blocks: false,
            max_nodes: 10_000,
            max_blocks: 1_000,
        }
    }
}

/// The gas trace of one execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// The top-level call (or deployment).
    pub root: FrameTrace,
    /// Some entries did not fit under `max_nodes` or [`MAX_TRACE_DEPTH`] (their gas is in
    /// [`TraceEntry::Truncated`] entries).
    pub truncated: bool,
    /// The per-block profile (empty unless [`TraceOptions::blocks`]), most gas first.
    pub blocks: Vec<BlockStat>,
    /// More blocks ran than `max_blocks`.
    pub blocks_truncated: bool,
}

impl Trace {
    /// The tree summed by gas category: equals the outcome's `gas_breakdown` (zero lines
    /// omitted). `None` when the tree does not add up (see [`Trace::verify`]).
    pub fn breakdown(&self) -> Option<BTreeMap<GasCategory, u64>> {
        let mut sums = Sums::default();
        sums.frame(&self.root).ok()?;
        sums.by_category.retain(|_, gas| *gas > 0);
        Some(sums.by_category)
    }

    /// Checks that the trace accounts for `outcome` exactly: every frame's gas is the sum of its
    /// entries, every function's is its own instructions and memory growth plus its children, a
    /// host call's is its own charges plus its callees, a truncated entry's is the sum of its
    /// breakdown; the root's gas and status are the outcome's; and the tree summed by category
    /// equals the outcome's breakdown. Returns the number of live nodes (entries and callee
    /// frames, not the `truncated` folds): what `max_nodes` bounds.
    ///
    /// # Errors
    /// [`TraceMismatch`] naming the first thing that does not add up.
    pub fn verify(&self, outcome: &crate::Outcome) -> Result<u32, TraceMismatch> {
        if self.root.gas_used != outcome.gas_used || self.root.status != outcome.status {
            return Err(TraceMismatch(format!(
                "the root used {} gas ({:?}), the outcome {} ({:?})",
                self.root.gas_used, self.root.status, outcome.gas_used, outcome.status
            )));
        }
        let mut sums = Sums::default();
        sums.frame(&self.root)?;
        sums.by_category.retain(|_, gas| *gas > 0);
        if sums.by_category != outcome.gas_breakdown {
            return Err(TraceMismatch(format!(
                "the tree by category is {:?}, the outcome's breakdown {:?}",
                sums.by_category, outcome.gas_breakdown
            )));
        }
        Ok(sums.nodes)
    }
}

/// Why a trace does not account for its outcome (a vm bug; the vm refuses such a trace).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the trace does not add up: {0}")]
pub struct TraceMismatch(pub String);

/// The tree walked once: totals checked node by node, gas summed by category, nodes counted.
#[derive(Default)]
struct Sums {
    by_category: BTreeMap<GasCategory, u64>,
    nodes: u32,
}

impl Sums {
    fn add(&mut self, category: GasCategory, gas: u64) -> Result<u64, TraceMismatch> {
        let line = self.by_category.entry(category).or_insert(0);
        *line = line
            .checked_add(gas)
            .ok_or_else(|| TraceMismatch(format!("{} overflows u64", category.key())))?;
        Ok(gas)
    }

    fn total(parts: impl IntoIterator<Item = u64>) -> Result<u64, TraceMismatch> {
        parts.into_iter().try_fold(0u64, |sum, gas| {
            sum.checked_add(gas)
                .ok_or_else(|| TraceMismatch("a total overflows u64".into()))
        })
    }

    fn expect(what: &str, recorded: u64, summed: u64) -> Result<u64, TraceMismatch> {
        if recorded == summed {
            Ok(recorded)
        } else {
            Err(TraceMismatch(format!(
                "{what} records {recorded} gas, its parts sum to {summed}"
            )))
        }
    }

    fn frame(&mut self, frame: &FrameTrace) -> Result<u64, TraceMismatch> {
        let parts = frame
            .entries
            .iter()
            .map(|e| self.entry(e))
            .collect::<Result<Vec<u64>, _>>()?;
        let what = format!("frame {}.{}", frame.contract.to_hex(), frame.method);
        Sums::expect(&what, frame.gas_used, Sums::total(parts)?)
    }

    fn entry(&mut self, entry: &TraceEntry) -> Result<u64, TraceMismatch> {
        if !matches!(entry, TraceEntry::Truncated { .. }) {
            self.nodes = self.nodes.saturating_add(1);
        }
        match entry {
            TraceEntry::Charge { category, gas } => self.add(*category, *gas),
            TraceEntry::Function(f) => {
                let own = [
                    self.add(GasCategory::Instructions, f.instructions_gas)?,
                    self.add(GasCategory::MemoryGrowth, f.memory_gas)?,
                ];
                let children = f
                    .children
                    .iter()
                    .map(|e| self.entry(e))
                    .collect::<Result<Vec<u64>, _>>()?;
                let summed = Sums::total(own.into_iter().chain(children))?;
                Sums::expect(&format!("function {}", f.name), f.gas, summed)
            }
            TraceEntry::Host(h) => {
                let own = [
                    self.add(GasCategory::Host(h.function), h.gas)?,
                    self.add(GasCategory::StorageBytes, h.storage_bytes_gas)?,
                ];
                let mut callees = Vec::with_capacity(h.callees.len());
                for callee in &h.callees {
                    self.nodes = self.nodes.saturating_add(1);
                    callees.push(self.frame(callee)?);
                }
                let summed = Sums::total(own.into_iter().chain(callees))?;
                Sums::expect(
                    &format!("host {}", h.function.name()),
                    entry.total_gas(),
                    summed,
                )
            }
            TraceEntry::Truncated { gas, breakdown } => {
                let parts = breakdown
                    .iter()
                    .map(|(category, g)| self.add(*category, *g))
                    .collect::<Result<Vec<u64>, _>>()?;
                Sums::expect("a truncated entry", *gas, Sums::total(parts)?)
            }
        }
    }
}

/// One call frame (a contract instance running one method), or several merged ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameTrace {
    /// The contract called (for a deployment, the new contract).
    pub contract: Address,
    /// The method called (`init` for a deployment that runs it, empty for one that does not).
    pub method: String,
    /// The contract's code, when it exists.
    pub code_hash: Option<CodeHash>,
    /// Call depth (1 for the top-level call).
    pub depth: u32,
    /// How the frame(s) ended (frames with different statuses are never merged).
    pub status: Status,
    /// Frames merged into this entry (1 for the root).
    pub calls: u64,
    /// Gas used by these frames, callees included: the sum of `entries`' totals.
    pub gas_used: u64,
    /// Where it went, in first-call order.
    pub entries: Vec<TraceEntry>,
}

/// One line of a frame or function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceEntry {
    /// A flat charge of the frame: `deploy`, `instantiation` (and, in the rare case that no
    /// function is open, `instructions` or `memory_growth`).
    Charge {
        /// The breakdown line.
        category: GasCategory,
        /// Gas charged.
        gas: u64,
    },
    /// A wasm function and everything it called.
    Function(FunctionTrace),
    /// A host function's calls (and, for `call`, the callee frames).
    Host(HostTrace),
    /// Everything under this parent that did not fit in the tree.
    Truncated {
        /// Its gas (the sum of `breakdown`).
        gas: u64,
        /// Its gas by category, so the trace's breakdown stays exact.
        breakdown: BTreeMap<GasCategory, u64>,
    },
}

impl TraceEntry {
    /// Gas of this entry, everything under it included.
    pub fn total_gas(&self) -> u64 {
        match self {
            TraceEntry::Charge { gas, .. } | TraceEntry::Truncated { gas, .. } => *gas,
            TraceEntry::Function(f) => f.gas,
            TraceEntry::Host(h) => h.total_gas(),
        }
    }
}

impl Trace {
    /// Names the functions of `code_hash` from a side table: `opmeter build` strips the `name`
    /// section from the code it deploys (code bytes are billed) and writes the names beside it
    /// (`NAME.names.json`), so deployed code traces as `func[N]` until named here. Functions
    /// without an entry in `names` keep their name. Only labels change: gas, structure and
    /// totals are untouched.
    pub fn name_functions(&mut self, code_hash: &CodeHash, names: &BTreeMap<u32, String>) {
        name_frame(&mut self.root, code_hash, names);
        for block in &mut self.blocks {
            if block.code_hash == *code_hash {
                if let Some(name) = names.get(&block.function) {
                    block.name.clone_from(name);
                }
            }
        }
    }
}

fn name_frame(frame: &mut FrameTrace, code_hash: &CodeHash, names: &BTreeMap<u32, String>) {
    let own = frame.code_hash == Some(*code_hash);
    for entry in &mut frame.entries {
        name_entry(entry, own, code_hash, names);
    }
}

fn name_entry(
    entry: &mut TraceEntry,
    own: bool,
    code_hash: &CodeHash,
    names: &BTreeMap<u32, String>,
) {
    match entry {
        TraceEntry::Function(function) => {
            if own {
                if let Some(name) = names.get(&function.index) {
                    function.name.clone_from(name);
                }
            }
            for child in &mut function.children {
                name_entry(child, own, code_hash, names);
            }
        }
        TraceEntry::Host(host) => {
            for callee in &mut host.callees {
                name_frame(callee, code_hash, names);
            }
        }
        TraceEntry::Charge { .. } | TraceEntry::Truncated { .. } => {}
    }
}

/// A wasm function in one calling context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionTrace {
    /// Function index in the original module.
    pub index: u32,
    /// From the module's `name` section (or [`Trace::name_functions`]), else `func[N]`.
    pub name: String,
    /// Calls merged into this entry.
    pub calls: u64,
    /// Inclusive gas: `instructions_gas + memory_gas` + the children's totals.
    pub gas: u64,
    /// Metered blocks charged in this function itself.
    pub instructions_gas: u64,
    /// `memory.grow` per-page charges of this function itself.
    pub memory_gas: u64,
    /// Functions and host functions it called, in first-call order.
    pub children: Vec<TraceEntry>,
}

/// A host function in one calling context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostTrace {
    /// Which one.
    pub function: HostFn,
    /// Calls merged into this entry.
    pub calls: u64,
    /// Its own charges (breakdown line: the host function).
    pub gas: u64,
    /// Its `storage_bytes` charges (only `storage_write` has any).
    pub storage_bytes_gas: u64,
    /// Contract calls made by `call`, merged by (contract, method, status).
    pub callees: Vec<FrameTrace>,
}

impl HostTrace {
    /// `gas + storage_bytes_gas` + the callees' gas (saturating; exact in any trace the vm
    /// returned, whose totals are checked).
    pub fn total_gas(&self) -> u64 {
        self.callees
            .iter()
            .fold(self.gas.saturating_add(self.storage_bytes_gas), |acc, c| {
                acc.saturating_add(c.gas_used)
            })
    }
}

/// One metered block (charge site) of the per-block profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockStat {
    /// The code the block belongs to.
    pub code_hash: CodeHash,
    /// Function index in the original module.
    pub function: u32,
    /// The function's name (as in [`FunctionTrace::name`]).
    pub name: String,
    /// The site id: charge sites of a module numbered in code order from 0.
    pub site: u32,
    /// Gas the site charges each time it runs.
    pub cost_per_hit: u64,
    /// Times it ran.
    pub hits: u64,
    /// `cost_per_hit × hits`.
    pub gas: u64,
    /// Original instructions from this charge site to the next one (or the end of the
    /// function) in code order.
    pub instructions: u32,
}

// ---------------------------------------------------------------------------------------------
// The recorder
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Frame(Address, String, Status),
    Function(u32),
    Host(HostFn),
    Charge(GasCategory),
}

#[derive(Debug)]
enum Kind {
    Frame {
        contract: Address,
        method: String,
        code_hash: Option<CodeHash>,
        depth: u32,
        status: Status,
    },
    Function {
        index: u32,
        name: String,
    },
    Host(HostFn),
    Charge(GasCategory),
}

impl Kind {
    fn key(&self) -> Key {
        match self {
            Kind::Frame {
                contract,
                method,
                status,
                ..
            } => Key::Frame(*contract, method.clone(), *status),
            Kind::Function { index, .. } => Key::Function(*index),
            Kind::Host(f) => Key::Host(*f),
            Kind::Charge(category) => Key::Charge(*category),
        }
    }
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    calls: u64,
    /// Frame: gas used; host: own charges; charge: gas.
    gas: u64,
    instructions_gas: u64,
    /// Function: memory growth; host: storage bytes.
    extra_gas: u64,
    truncated: BTreeMap<GasCategory, u64>,
    children: Vec<usize>,
    index: HashMap<Key, usize>,
}

impl Node {
    fn new(kind: Kind) -> Node {
        Node {
            kind,
            calls: 0,
            gas: 0,
            instructions_gas: 0,
            extra_gas: 0,
            truncated: BTreeMap::new(),
            children: Vec::new(),
            index: HashMap::new(),
        }
    }
}

/// An open context: `node` receives gas; when it is `None` (it did not fit), the gas goes to
/// `holder`'s truncated line.
#[derive(Clone, Copy, Debug)]
struct Open {
    node: Option<usize>,
    holder: usize,
    depth: u32,
}

/// Per-frame synchronisation with the frame's gas counter.
#[derive(Debug)]
struct FrameSync {
    /// Index of the frame's own [`Open`] in the stack.
    base: usize,
    last_left: i64,
    last_grow: i64,
    final_grow: i64,
    /// Gas attributed in this frame so far (callees included).
    accounted: u64,
    /// The host function running in this frame.
    host: Option<Open>,
    module: Option<usize>,
}

/// A traced module of this execution (compiled once per code per execution).
pub(crate) struct TracedModule {
    pub(crate) code_hash: CodeHash,
    pub(crate) module: wasmi::Module,
    names: Vec<String>,
    sites: Vec<ChargeSite>,
    hits: Vec<u64>,
}

fn accounting(message: impl Into<String>) -> VmError {
    VmError::GasAccounting(format!("trace: {}", message.into()))
}

fn checked_add(a: u64, b: u64) -> Result<u64, VmError> {
    a.checked_add(b)
        .ok_or_else(|| accounting("gas sum overflows"))
}

/// Records one traced execution (crate-internal; owned by the execution state).
pub(crate) struct Tracer {
    options: TraceOptions,
    nodes: Vec<Node>,
    free: Vec<usize>,
    live_nodes: u32,
    truncated: bool,
    stack: Vec<Open>,
    frames: Vec<FrameSync>,
    modules: Vec<TracedModule>,
}

impl Tracer {
    /// A tracer whose root frame is `contract.method`.
    pub(crate) fn new(
        options: &TraceOptions,
        contract: Address,
        method: String,
        code_hash: Option<CodeHash>,
    ) -> Tracer {
        let root = Node::new(Kind::Frame {
            contract,
            method,
            code_hash,
            depth: 1,
            status: Status::Success,
        });
        Tracer {
            options: *options,
            nodes: vec![root],
            free: Vec::new(),
            live_nodes: 0,
            truncated: false,
            stack: Vec::new(),
            frames: Vec::new(),
            modules: Vec::new(),
        }
    }

    /// Whether the per-block profile is recorded.
    pub(crate) fn blocks(&self) -> bool {
        self.options.blocks
    }

    fn alloc(&mut self, kind: Kind) -> usize {
        self.live_nodes += 1;
        match self.free.pop() {
            Some(slot) => {
                self.nodes[slot] = Node::new(kind);
                slot
            }
            None => {
                self.nodes.push(Node::new(kind));
                self.nodes.len() - 1
            }
        }
    }

    fn room(&mut self, depth: u32) -> bool {
        let fits = self.live_nodes < self.options.max_nodes && depth <= MAX_TRACE_DEPTH;
        if !fits {
            self.truncated = true;
        }
        fits
    }

    /// The child of `parent` with `kind`'s key, created when new and there is room.
    fn child(&mut self, parent: usize, kind: Kind, depth: u32) -> Option<usize> {
        let key = kind.key();
        if let Some(&existing) = self.nodes[parent].index.get(&key) {
            return Some(existing);
        }
        if !self.room(depth) {
            return None;
        }
        let node = self.alloc(kind);
        self.nodes[parent].children.push(node);
        self.nodes[parent].index.insert(key, node);
        Some(node)
    }

    fn node(&mut self, index: usize) -> Result<&mut Node, VmError> {
        self.nodes
            .get_mut(index)
            .ok_or_else(|| accounting("dangling node"))
    }

    fn truncate(&mut self, holder: usize, category: GasCategory, gas: u64) -> Result<(), VmError> {
        let line = self.node(holder)?.truncated.entry(category).or_insert(0);
        *line = checked_add(*line, gas)?;
        Ok(())
    }

    /// Attributes gas to an open context.
    fn attribute(&mut self, open: Open, category: GasCategory, gas: u64) -> Result<(), VmError> {
        if gas == 0 {
            return Ok(());
        }
        let Some(index) = open.node else {
            return self.truncate(open.holder, category, gas);
        };
        let node = self.node(index)?;
        match (&node.kind, category) {
            (Kind::Function { .. }, GasCategory::Instructions) => {
                node.instructions_gas = checked_add(node.instructions_gas, gas)?;
                Ok(())
            }
            (Kind::Function { .. }, GasCategory::MemoryGrowth) => {
                node.extra_gas = checked_add(node.extra_gas, gas)?;
                Ok(())
            }
            (Kind::Frame { .. }, _) => {
                match self.child(index, Kind::Charge(category), open.depth + 1) {
                    Some(charge) => {
                        let node = self.node(charge)?;
                        node.calls = node.calls.saturating_add(1);
                        node.gas = checked_add(node.gas, gas)?;
                        Ok(())
                    }
                    None => self.truncate(index, category, gas),
                }
            }
            (kind, _) => Err(accounting(format!(
                "{} attributed to {kind:?}",
                category.key()
            ))),
        }
    }

    fn frame(&mut self) -> Result<&mut FrameSync, VmError> {
        self.frames
            .last_mut()
            .ok_or_else(|| accounting("no frame open"))
    }

    fn top(&self) -> Result<Open, VmError> {
        self.stack
            .last()
            .copied()
            .ok_or_else(|| accounting("nothing open"))
    }

    /// A deployment's flat charge, on the root before its `init` frame runs.
    pub(crate) fn root_charge(&mut self, category: GasCategory, gas: u64) -> Result<(), VmError> {
        let root = Open {
            node: Some(0),
            holder: 0,
            depth: 0,
        };
        self.attribute(root, category, gas)
    }

    /// A call frame starts (the root's first, then callees of the open `call` host entry).
    pub(crate) fn begin_frame(
        &mut self,
        contract: Address,
        method: &str,
        depth: u32,
    ) -> Result<(), VmError> {
        let open = match self.stack.last().copied() {
            None if self.frames.is_empty() => Open {
                node: Some(0),
                holder: 0,
                depth: 0,
            },
            None => return Err(accounting("a frame without a caller")),
            Some(parent) => match parent.node {
                Some(host) if matches!(self.node(host)?.kind, Kind::Host(HostFn::Call)) => {
                    if self.room(parent.depth + 1) {
                        let frame = self.alloc(Kind::Frame {
                            contract,
                            method: method.to_owned(),
                            code_hash: None,
                            depth,
                            status: Status::Success,
                        });
                        Open {
                            node: Some(frame),
                            holder: frame,
                            depth: parent.depth + 1,
                        }
                    } else {
                        Open {
                            node: None,
                            holder: parent.holder,
                            depth: parent.depth + 1,
                        }
                    }
                }
                None => Open {
                    node: None,
                    holder: parent.holder,
                    depth: parent.depth + 1,
                },
                Some(_) => return Err(accounting("a callee frame outside `call`")),
            },
        };
        self.frames.push(FrameSync {
            base: self.stack.len(),
            last_left: 0,
            last_grow: 0,
            final_grow: 0,
            accounted: 0,
            host: None,
            module: None,
        });
        self.stack.push(open);
        Ok(())
    }

    /// The frame's code was found (and, when traced, its module is `module`).
    pub(crate) fn frame_code(
        &mut self,
        code_hash: CodeHash,
        module: Option<usize>,
    ) -> Result<(), VmError> {
        let frame = self.frame()?;
        frame.module = module;
        let base = frame.base;
        if let Some(index) = self.stack.get(base).and_then(|open| open.node) {
            if let Kind::Frame {
                code_hash: slot, ..
            } = &mut self.node(index)?.kind
            {
                *slot = Some(code_hash);
            }
        }
        Ok(())
    }

    /// A flat charge of the current frame (instantiation).
    pub(crate) fn frame_charge(&mut self, category: GasCategory, gas: u64) -> Result<(), VmError> {
        let frame = self.frame()?;
        frame.accounted = checked_add(frame.accounted, gas)?;
        let base = frame.base;
        let open = *self
            .stack
            .get(base)
            .ok_or_else(|| accounting("frame not open"))?;
        self.attribute(open, category, gas)
    }

    /// The frame's gas counter was set to `left` (the grow accumulator starts at 0).
    pub(crate) fn counters_start(&mut self, left: u64) -> Result<(), VmError> {
        let frame = self.frame()?;
        frame.last_left = i64::try_from(left).map_err(|_| accounting("gas left over i64"))?;
        frame.last_grow = 0;
        frame.final_grow = 0;
        Ok(())
    }

    /// Attributes the gas charged since the last hook (metered blocks and memory growth) to
    /// the innermost open function.
    ///
    /// A negative counter (straight-line code overdrew it; the frame will stop out of gas) is
    /// read as 0: out of gas bills exactly the limit, so the overdraw is never attributed.
    fn sync(&mut self, left: i64, grow: i64) -> Result<(), VmError> {
        let left = left.max(0);
        let frame = self.frame()?;
        let spent = frame
            .last_left
            .checked_sub(left)
            .and_then(|s| u64::try_from(s).ok())
            .ok_or_else(|| accounting("gas counter went up"))?;
        let memory = grow
            .checked_sub(frame.last_grow)
            .and_then(|s| u64::try_from(s).ok())
            .ok_or_else(|| accounting("memory growth gas went down"))?;
        let instructions = spent
            .checked_sub(memory)
            .ok_or_else(|| accounting("memory growth over the gas spent"))?;
        frame.accounted = checked_add(frame.accounted, spent)?;
        frame.last_left = left;
        frame.last_grow = grow;
        let top = self.top()?;
        self.attribute(top, GasCategory::Instructions, instructions)?;
        self.attribute(top, GasCategory::MemoryGrowth, memory)
    }

    /// Hook `enter(index)`: a guest function starts.
    pub(crate) fn enter(&mut self, index: u32, left: i64, grow: i64) -> Result<(), VmError> {
        self.sync(left, grow)?;
        let top = self.top()?;
        let depth = top.depth + 1;
        let open = match top.node {
            Some(parent) => {
                let name = self
                    .frame()?
                    .module
                    .and_then(|m| self.modules.get(m))
                    .and_then(|m| m.names.get(index as usize).cloned())
                    .unwrap_or_else(|| format!("func[{index}]"));
                // A function holds its own gas.
                self.open_child(parent, Kind::Function { index, name }, depth, true)?
            }
            None => Open {
                node: None,
                holder: top.holder,
                depth,
            },
        };
        self.stack.push(open);
        Ok(())
    }

    /// Opens (or re-enters, counting the call) the child `kind` of `parent`. Its gas holder is
    /// the child when `child_holds`, else the parent; when the tree is full there is no child and
    /// the parent holds everything.
    fn open_child(
        &mut self,
        parent: usize,
        kind: Kind,
        depth: u32,
        child_holds: bool,
    ) -> Result<Open, VmError> {
        Ok(match self.child(parent, kind, depth) {
            Some(node) => {
                let n = self.node(node)?;
                n.calls = n.calls.saturating_add(1);
                Open {
                    node: Some(node),
                    holder: if child_holds { node } else { parent },
                    depth,
                }
            }
            None => Open {
                node: None,
                holder: parent,
                depth,
            },
        })
    }

    /// Hook `exit()`: the innermost guest function returns.
    pub(crate) fn exit(&mut self, left: i64, grow: i64) -> Result<(), VmError> {
        self.sync(left, grow)?;
        let base = self.frame()?.base;
        if self.stack.len() <= base + 1 {
            return Err(accounting("exit without enter"));
        }
        self.stack.pop();
        Ok(())
    }

    /// Hook `block(site)`: a metered block of the current frame's module ran.
    pub(crate) fn block(&mut self, site: u32) -> Result<(), VmError> {
        let module = self
            .frame()?
            .module
            .ok_or_else(|| accounting("block hook in an untraced module"))?;
        let hits = self
            .modules
            .get_mut(module)
            .and_then(|m| m.hits.get_mut(site as usize))
            .ok_or_else(|| accounting("unknown charge site"))?;
        *hits = hits
            .checked_add(1)
            .ok_or_else(|| accounting("block hits overflow"))?;
        Ok(())
    }

    /// A host function starts (before its first charge).
    pub(crate) fn host_begin(&mut self, function: HostFn) -> Result<(), VmError> {
        let top = self.top()?;
        let depth = top.depth + 1;
        let open = match top.node {
            // A host function's gas goes to its own entry through `attribute`, not as a holder.
            Some(parent) => self.open_child(parent, Kind::Host(function), depth, false)?,
            None => Open {
                node: None,
                holder: top.holder,
                depth,
            },
        };
        self.frame()?.host = Some(open);
        Ok(())
    }

    /// A host charge of `paid` (of `category`) with `left` gas before it.
    pub(crate) fn host_charge(
        &mut self,
        category: GasCategory,
        left: u64,
        paid: u64,
        grow: i64,
    ) -> Result<(), VmError> {
        let left = i64::try_from(left).map_err(|_| accounting("gas left over i64"))?;
        self.sync(left, grow)?;
        let frame = self.frame()?;
        frame.accounted = checked_add(frame.accounted, paid)?;
        frame.last_left = left
            .checked_sub_unsigned(paid)
            .ok_or_else(|| accounting("host charge over gas left"))?;
        let host = frame
            .host
            .ok_or_else(|| accounting("host charge outside a host function"))?;
        let Some(index) = host.node else {
            return self.truncate(host.holder, category, paid);
        };
        let node = self.node(index)?;
        match category {
            GasCategory::Host(_) => node.gas = checked_add(node.gas, paid)?,
            GasCategory::StorageBytes => node.extra_gas = checked_add(node.extra_gas, paid)?,
            other => return Err(accounting(format!("host charge of {}", other.key()))),
        }
        Ok(())
    }

    /// `call` is about to run a callee: callee frames go under its host entry.
    pub(crate) fn call_begin(&mut self) -> Result<(), VmError> {
        let host = self
            .frame()?
            .host
            .ok_or_else(|| accounting("call outside a host function"))?;
        self.stack.push(host);
        Ok(())
    }

    /// The callee used `callee_gas`; the caller's counter is now `left`.
    pub(crate) fn call_end(&mut self, callee_gas: u64, left: u64) -> Result<(), VmError> {
        self.stack.pop();
        let frame = self.frame()?;
        frame.accounted = checked_add(frame.accounted, callee_gas)?;
        frame.last_left = i64::try_from(left).map_err(|_| accounting("gas left over i64"))?;
        Ok(())
    }

    /// The memory-growth accumulator of the frame when it stopped.
    pub(crate) fn frame_memory(&mut self, grow: u64) -> Result<(), VmError> {
        self.frame()?.final_grow =
            i64::try_from(grow).map_err(|_| accounting("memory growth over i64"))?;
        Ok(())
    }

    /// The frame stopped having used `gas_used`: what was not attributed yet (gas since the
    /// last hook, an overdraw, an out-of-gas remainder) goes to the innermost open function.
    pub(crate) fn end_frame(&mut self, status: Status, gas_used: u64) -> Result<(), VmError> {
        let frame = self
            .frames
            .pop()
            .ok_or_else(|| accounting("no frame to end"))?;
        let memory = frame
            .final_grow
            .checked_sub(frame.last_grow)
            .and_then(|m| u64::try_from(m).ok())
            .ok_or_else(|| accounting("memory growth gas went down"))?;
        let instructions = gas_used
            .checked_sub(frame.accounted)
            .and_then(|g| g.checked_sub(memory))
            .ok_or_else(|| {
                accounting(format!(
                    "frame used {gas_used} but {} + memory {memory} was attributed",
                    frame.accounted
                ))
            })?;
        let top = self.top()?;
        self.attribute(top, GasCategory::Instructions, instructions)?;
        self.attribute(top, GasCategory::MemoryGrowth, memory)?;
        self.stack.truncate(frame.base + 1);
        let open = self
            .stack
            .pop()
            .ok_or_else(|| accounting("frame not open"))?;
        let Some(index) = open.node else {
            return Ok(());
        };
        let node = self.node(index)?;
        node.calls = node.calls.saturating_add(1);
        node.gas = checked_add(node.gas, gas_used)?;
        if let Kind::Frame { status: slot, .. } = &mut node.kind {
            *slot = status;
        }
        if index == 0 {
            return Ok(());
        }
        let host = self
            .top()?
            .node
            .ok_or_else(|| accounting("callee frame under a truncated entry"))?;
        self.attach(host, index)
    }

    /// Puts the finished frame `node` under `parent`, merging it with an equal one.
    fn attach(&mut self, parent: usize, node: usize) -> Result<(), VmError> {
        let key = self.node(node)?.kind.key();
        match self.node(parent)?.index.get(&key).copied() {
            Some(existing) => self.merge(existing, node),
            None => {
                let p = self.node(parent)?;
                p.children.push(node);
                p.index.insert(key, node);
                Ok(())
            }
        }
    }

    /// Adds `src` (and its subtree) into `dst` (same key) and frees `src`.
    fn merge(&mut self, dst: usize, src: usize) -> Result<(), VmError> {
        let source = std::mem::replace(
            self.node(src)?,
            Node::new(Kind::Charge(GasCategory::Deploy)),
        );
        self.free.push(src);
        self.live_nodes = self.live_nodes.saturating_sub(1);
        let target = self.node(dst)?;
        target.calls = target.calls.saturating_add(source.calls);
        target.gas = checked_add(target.gas, source.gas)?;
        target.instructions_gas = checked_add(target.instructions_gas, source.instructions_gas)?;
        target.extra_gas = checked_add(target.extra_gas, source.extra_gas)?;
        for (category, gas) in source.truncated {
            let line = target.truncated.entry(category).or_insert(0);
            *line = checked_add(*line, gas)?;
        }
        for child in source.children {
            self.attach(dst, child)?;
        }
        Ok(())
    }

    /// Registers a module compiled for this execution; returns its slot.
    pub(crate) fn add_module(
        &mut self,
        code_hash: CodeHash,
        module: wasmi::Module,
        names: Vec<String>,
        sites: Vec<ChargeSite>,
    ) -> usize {
        self.modules.push(TracedModule {
            code_hash,
            module,
            names,
            hits: vec![0; sites.len()],
            sites,
        });
        self.modules.len() - 1
    }

    /// The slot of `code_hash`'s module, when already compiled in this execution.
    pub(crate) fn module(&self, code_hash: &CodeHash) -> Option<(usize, &wasmi::Module)> {
        self.modules
            .iter()
            .enumerate()
            .find(|(_, m)| m.code_hash == *code_hash)
            .map(|(slot, m)| (slot, &m.module))
    }

    /// The finished trace; the root frame is given the outcome's status and gas.
    ///
    /// # Errors
    /// [`VmError::GasAccounting`] when a frame's entries do not sum to its gas.
    pub(crate) fn finish(mut self, status: Status, gas_used: u64) -> Result<Trace, VmError> {
        let root = self.node(0)?;
        root.calls = 1;
        root.gas = gas_used;
        if let Kind::Frame { status: slot, .. } = &mut root.kind {
            *slot = status;
        }
        let root = match self.convert(0)? {
            Converted::Frame(frame) => frame,
            Converted::Entry(_) => return Err(accounting("root is not a frame")),
        };
        let (blocks, blocks_truncated) = self.block_stats()?;
        Ok(Trace {
            root,
            truncated: self.truncated,
            blocks,
            blocks_truncated,
        })
    }

    fn block_stats(&self) -> Result<(Vec<BlockStat>, bool), VmError> {
        let mut stats = Vec::new();
        for module in &self.modules {
            for (site, (info, hits)) in module.sites.iter().zip(&module.hits).enumerate() {
                if *hits == 0 {
                    continue;
                }
                stats.push(BlockStat {
                    code_hash: module.code_hash,
                    function: info.function,
                    name: module
                        .names
                        .get(info.function as usize)
                        .cloned()
                        .unwrap_or_else(|| format!("func[{}]", info.function)),
                    site: u32::try_from(site).map_err(|_| accounting("too many sites"))?,
                    cost_per_hit: info.cost_gas,
                    hits: *hits,
                    gas: info
                        .cost_gas
                        .checked_mul(*hits)
                        .ok_or_else(|| accounting("block gas overflows"))?,
                    instructions: info.instructions,
                });
            }
        }
        stats.sort_by(|a, b| {
            b.gas
                .cmp(&a.gas)
                .then_with(|| a.code_hash.0.cmp(&b.code_hash.0))
                .then_with(|| a.site.cmp(&b.site))
        });
        let truncated = stats.len() > self.options.max_blocks as usize;
        stats.truncate(self.options.max_blocks as usize);
        Ok((stats, truncated))
    }

    fn entries(&self, node: &Node) -> Result<Vec<TraceEntry>, VmError> {
        let mut entries = Vec::with_capacity(node.children.len() + 1);
        for &child in &node.children {
            match self.convert(child)? {
                Converted::Entry(entry) => entries.push(entry),
                Converted::Frame(_) => return Err(accounting("frame outside a call entry")),
            }
        }
        if !node.truncated.is_empty() {
            let gas = node
                .truncated
                .values()
                .try_fold(0u64, |acc, g| checked_add(acc, *g))?;
            entries.push(TraceEntry::Truncated {
                gas,
                breakdown: node.truncated.clone(),
            });
        }
        Ok(entries)
    }

    fn convert(&self, index: usize) -> Result<Converted, VmError> {
        let node = self
            .nodes
            .get(index)
            .ok_or_else(|| accounting("dangling node"))?;
        Ok(match &node.kind {
            Kind::Frame {
                contract,
                method,
                code_hash,
                depth,
                status,
            } => {
                let entries = self.entries(node)?;
                let sum = entries
                    .iter()
                    .try_fold(0u64, |acc, e| checked_add(acc, e.total_gas()))?;
                if sum != node.gas {
                    return Err(accounting(format!(
                        "frame {method} used {} but its entries sum to {sum}",
                        node.gas
                    )));
                }
                Converted::Frame(FrameTrace {
                    contract: *contract,
                    method: method.clone(),
                    code_hash: *code_hash,
                    depth: *depth,
                    status: *status,
                    calls: node.calls,
                    gas_used: node.gas,
                    entries,
                })
            }
            Kind::Function { index, name } => {
                let children = self.entries(node)?;
                let gas = children.iter().try_fold(
                    checked_add(node.instructions_gas, node.extra_gas)?,
                    |acc, e| checked_add(acc, e.total_gas()),
                )?;
                Converted::Entry(TraceEntry::Function(FunctionTrace {
                    index: *index,
                    name: name.clone(),
                    calls: node.calls,
                    gas,
                    instructions_gas: node.instructions_gas,
                    memory_gas: node.extra_gas,
                    children,
                }))
            }
            Kind::Host(function) => {
                let mut callees = Vec::with_capacity(node.children.len());
                for &child in &node.children {
                    match self.convert(child)? {
                        Converted::Frame(frame) => callees.push(frame),
                        Converted::Entry(_) => return Err(accounting("entry under a host call")),
                    }
                }
                Converted::Entry(TraceEntry::Host(HostTrace {
                    function: *function,
                    calls: node.calls,
                    gas: node.gas,
                    storage_bytes_gas: node.extra_gas,
                    callees,
                }))
            }
            Kind::Charge(category) => Converted::Entry(TraceEntry::Charge {
                category: *category,
                gas: node.gas,
            }),
        })
    }
}

enum Converted {
    Frame(FrameTrace),
    Entry(TraceEntry),
}

/// Function names of a module: its `name` section, else `func[N]` (imports included).
pub(crate) fn function_names(wasm: &[u8]) -> Vec<String> {
    let mut count: u32 = 0;
    let mut named: Vec<(u32, String)> = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm).flatten() {
        match payload {
            wasmparser::Payload::ImportSection(reader) => {
                count += reader
                    .into_iter()
                    .flatten()
                    .filter(|i| matches!(i.ty, wasmparser::TypeRef::Func(_)))
                    .count() as u32;
            }
            wasmparser::Payload::FunctionSection(reader) => count += reader.count(),
            wasmparser::Payload::CustomSection(reader) => {
                if let wasmparser::KnownCustom::Name(names) = reader.as_known() {
                    for name in names.into_iter().flatten() {
                        if let wasmparser::Name::Function(map) = name {
                            named.extend(
                                map.into_iter()
                                    .flatten()
                                    .map(|n| (n.index, n.name.to_owned())),
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut names: Vec<String> = (0..count).map(|i| format!("func[{i}]")).collect();
    for (index, name) in named {
        if let Some(slot) = names.get_mut(index as usize) {
            *slot = name;
        }
    }
    names
}
