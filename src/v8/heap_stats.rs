//! `v8::HeapStatistics` read without trusting its compiled size.
//!
//! The struct grew by 8 bytes in V8 14 (Node 26) and V8 writes its own full size, so a buffer
//! sized from older headers would be overrun. We hand V8 a zeroed, over-sized, 8-aligned block,
//! read only the offsets measured on every supported version, and read newer fields only when the
//! running V8 is new enough to have written them.

use memstats::HeapFigures;

use super::symbols::{HeapStatsApi, Isolate};

/// Far larger than any measured `sizeof(HeapStatistics)` (112 on V8 11–13, 120 on V8 14).
const BUFFER_WORDS: usize = 64;

/// Word offsets (8-byte units) into the struct; identical on V8 11.3–14.6.
mod offset {
    pub const TOTAL_HEAP_SIZE: usize = 0;
    pub const TOTAL_HEAP_SIZE_EXECUTABLE: usize = 1;
    pub const TOTAL_PHYSICAL_SIZE: usize = 2;
    pub const TOTAL_AVAILABLE_SIZE: usize = 3;
    pub const USED_HEAP_SIZE: usize = 4;
    pub const HEAP_SIZE_LIMIT: usize = 5;
    pub const MALLOCED_MEMORY: usize = 6;
    pub const EXTERNAL_MEMORY: usize = 7;
    pub const PEAK_MALLOCED_MEMORY: usize = 8;
    // word 9 holds the `does_zap_garbage` bool and padding
    pub const NATIVE_CONTEXTS: usize = 10;
    pub const DETACHED_CONTEXTS: usize = 11;
    pub const TOTAL_ALLOCATED_BYTES: usize = 14;
}

/// Reads the isolate's heap statistics. Allocation-free and JS-free, so it is safe inside a GC
/// epilogue callback.
///
/// # Safety
/// `isolate` must be the live isolate of the calling thread.
pub unsafe fn read(api: &HeapStatsApi, v8_major: u32, isolate: *mut Isolate) -> HeapFigures {
    let mut buf = [0u64; BUFFER_WORDS];
    let p = buf.as_mut_ptr().cast();
    (api.ctor)(p);
    (api.get)(isolate, p);
    HeapFigures {
        total_heap_size: buf[offset::TOTAL_HEAP_SIZE],
        total_heap_size_executable: buf[offset::TOTAL_HEAP_SIZE_EXECUTABLE],
        total_physical_size: buf[offset::TOTAL_PHYSICAL_SIZE],
        total_available_size: buf[offset::TOTAL_AVAILABLE_SIZE],
        used_heap_size: buf[offset::USED_HEAP_SIZE],
        heap_size_limit: buf[offset::HEAP_SIZE_LIMIT],
        malloced_memory: buf[offset::MALLOCED_MEMORY],
        external_memory: buf[offset::EXTERNAL_MEMORY],
        peak_malloced_memory: buf[offset::PEAK_MALLOCED_MEMORY],
        number_of_native_contexts: buf[offset::NATIVE_CONTEXTS],
        number_of_detached_contexts: buf[offset::DETACHED_CONTEXTS],
        total_allocated_bytes: (v8_major >= 14).then_some(buf[offset::TOTAL_ALLOCATED_BYTES]),
        rss: None,
    }
}
