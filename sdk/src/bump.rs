//! A bump allocator for wasm32 (the default `#[global_allocator]`, feature `bump-allocator`).
//!
//! Every call runs in a fresh instance whose memory is dropped afterwards, so the allocator never
//! needs to free: it hands out memory upwards from `__heap_base` and grows linear memory with
//! `memory.grow` when it runs out. Freeing or growing the *last* allocation is done in place, which
//! covers the common push-then-drop patterns; everything else is leaked until the call ends.
//! Growth past the host's page limit traps with `MemoryLimit` inside `memory.grow`; should
//! `memory.grow` ever fail instead (or a size overflow), the allocation traps (`unreachable`)
//! rather than returning null. Allocation and reallocation are out of line and return `NonNull`,
//! so the compiler drops most of their callers' allocation-failure paths (liballoc's shared one,
//! `raw_vec::handle_error`, stays: its message still links `core::fmt`'s integer formatting).
//! Memory growth is metered per page, so a contract that allocates a lot pays for it.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::ptr;

const PAGE_BYTES: usize = 64 * 1024;

extern "C" {
    /// First byte after the module's static data, defined by the linker.
    static __heap_base: u8;
}

/// The bump allocator. Single-threaded: wasm32 contracts have one thread.
pub struct BumpAllocator {
    /// Next free address; 0 until the first allocation.
    next: Cell<usize>,
    /// Everything at or above this address has never been handed out, so it is still zero.
    untouched: Cell<usize>,
}

// SAFETY: wasm32 contracts run on a single thread; nothing is ever shared across threads.
unsafe impl Sync for BumpAllocator {}

impl BumpAllocator {
    /// An allocator that starts at the heap base on first use.
    pub const fn new() -> BumpAllocator {
        BumpAllocator {
            next: Cell::new(0),
            untouched: Cell::new(0),
        }
    }

    fn next(&self) -> usize {
        match self.next.get() {
            // Only the address of the linker-defined symbol is taken; it is never read.
            0 => ptr::addr_of!(__heap_base) as usize,
            next => next,
        }
    }

    /// Moves the bump pointer to `end`, growing memory as needed; traps if memory cannot grow.
    fn bump_to(&self, end: usize) {
        let memory_end = core::arch::wasm32::memory_size(0) * PAGE_BYTES;
        if end > memory_end {
            let pages = (end - memory_end).div_ceil(PAGE_BYTES);
            if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                core::arch::wasm32::unreachable();
            }
        }
        self.next.set(end);
    }
}

impl BumpAllocator {
    /// A block for `layout`. Never null, and the compiler knows it: a `NonNull` result is
    /// `nonnull` to LLVM (out of line, so that inlining does not lose it), so callers drop most
    /// of their allocation-failure paths.
    #[inline(never)]
    fn allocate(&self, layout: Layout) -> ptr::NonNull<u8> {
        let Some((start, end)) = self
            .next()
            .checked_next_multiple_of(layout.align())
            .and_then(|start| Some((start, start.checked_add(layout.size())?)))
        else {
            core::arch::wasm32::unreachable()
        };
        self.bump_to(end);
        self.untouched.set(self.untouched.get().max(end));
        non_null(start as *mut u8)
    }

    /// [`GlobalAlloc::realloc`], never null either (see [`BumpAllocator::allocate`]).
    ///
    /// # Safety
    /// As [`GlobalAlloc::realloc`].
    #[inline(never)]
    unsafe fn reallocate(
        &self,
        block: *mut u8,
        layout: Layout,
        new_size: usize,
    ) -> ptr::NonNull<u8> {
        // The last block grows or shrinks in place.
        if block as usize + layout.size() == self.next() {
            let Some(end) = (block as usize).checked_add(new_size) else {
                core::arch::wasm32::unreachable()
            };
            self.bump_to(end);
            self.untouched.set(self.untouched.get().max(end));
            return non_null(block);
        }
        if new_size <= layout.size() {
            return non_null(block);
        }
        // SAFETY: `new_size` with the old alignment is a valid layout (the caller guarantees it).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new_block = self.allocate(new_layout);
        // SAFETY: both blocks are live, disjoint and at least `layout.size()` bytes.
        unsafe { ptr::copy_nonoverlapping(block, new_block.as_ptr(), layout.size()) };
        new_block
    }
}

/// `block` as `NonNull`; traps if it is null (it never is: blocks start above the stack and the
/// static data).
fn non_null(block: *mut u8) -> ptr::NonNull<u8> {
    match ptr::NonNull::new(block) {
        Some(block) => block,
        None => core::arch::wasm32::unreachable(),
    }
}

impl Default for BumpAllocator {
    fn default() -> BumpAllocator {
        BumpAllocator::new()
    }
}

// SAFETY: blocks never overlap: each one starts at or above the end of the previous live block,
// and the only block ever reused in place is the last one.
unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.allocate(layout).as_ptr()
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let untouched = self.untouched.get().max(self.next());
        // SAFETY: forwarded from the caller.
        let block = unsafe { self.alloc(layout) };
        // Fresh memory (never handed out, or just grown) is already zero: skip the memset.
        if (block as usize) < untouched {
            let dirty = (untouched - block as usize).min(layout.size());
            // SAFETY: the block is `layout.size()` bytes and `dirty` is at most that.
            unsafe { ptr::write_bytes(block, 0, dirty) };
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // Freeing the last block gives its memory back; other blocks are leaked. A block exists,
        // so `next` was set: compared as it is (inlined at every drop, so kept short).
        if block as usize + layout.size() == self.next.get() {
            self.next.set(block as usize);
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        unsafe { self.reallocate(block, layout, new_size) }.as_ptr()
    }
}
