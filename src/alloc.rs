//! Counts the bytes heapdiff's own Rust code holds.
//!
//! The module lives inside production services, so "it gives back everything it takes" has to
//! be checkable from outside: `memwatch.status().nativeBytes` reports what is live now and the
//! tests assert it returns to its baseline after diffs, failed parses and worker exits. The
//! peak lets benchmarks report heapdiff's own memory apart from the Node process around it.
//! Two relaxed atomic operations per allocation; the parser allocates in large blocks, so this
//! does not show in any measurement.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

pub struct Counting;

fn grew(bytes: usize) {
    let now = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(bytes: usize) {
    LIVE.fetch_sub(bytes, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes currently allocated by heapdiff's native code (all threads).
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// The most ever allocated at once since the module loaded.
pub fn peak_bytes() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Gives the pages that freed allocations left in glibc's arenas back to the OS.
///
/// A heap snapshot makes V8 allocate several times the JS heap in small blocks; freed, they stay
/// in the arenas of the threads that made them, so a 100 MB process measured 990 MB of RSS after
/// one `HeapDiff` and kept it (as it does after `v8.writeHeapSnapshot()`). Called once after each
/// snapshot and each file job; it costs 1–2% of taking the snapshot.
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas, under their locks; any thread may call it.
    unsafe {
        libc::malloc_trim(0);
    }
}
