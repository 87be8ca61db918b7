//! Taking a V8 heap snapshot and streaming its JSON to Rust without a C++ compiler.
//!
//! `HeapSnapshot::Serialize` writes into a `v8::OutputStream`, an abstract C++ class. We build
//! an object whose first word points into a hand-made vtable with the slot order measured on
//! V8 11–14 (complete dtor, deleting dtor, EndOfStream, GetChunkSize, WriteAsciiChunk,
//! WriteHeapStatsChunk). V8 only ever calls slots 2–4 while serializing. MSVC (Windows) gives a
//! virtual destructor one slot, not two, so there the table starts at the deleting destructor
//! and the same functions sit one slot earlier (run under wine on V8 11 and 12: docs/platforms.md).
//! Each chunk is handed to a Rust sink, so the document never exists as one string: the parser
//! consumes it as it comes.

use std::ffi::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::isolate::JsIsolate;
use super::symbols::{Isolate, SnapshotApi};

/// Bytes per `WriteAsciiChunk` call. V8 honours what `GetChunkSize` returns; larger chunks mean
/// fewer crossings, and this is still small next to the snapshot V8 itself holds.
const CHUNK_SIZE: c_int = 256 * 1024;

/// `v8::OutputStream::WriteResult`.
const K_CONTINUE: c_int = 0;
const K_ABORT: c_int = 1;

/// A sink returns `false` to stop the serialization (e.g. the parser already failed).
pub type Sink<'a> = dyn FnMut(&[u8]) -> bool + 'a;

#[repr(C)]
struct RustOutputStream<'a, 'b> {
    /// Must be the first field: V8 reads the vptr at offset 0.
    vptr: *const unsafe extern "C" fn(),
    sink: &'a mut Sink<'b>,
    aborted: bool,
    panicked: bool,
}

unsafe extern "C" fn noop_dtor(_this: *mut c_void) {}

unsafe extern "C" fn end_of_stream(_this: *mut c_void) {}

unsafe extern "C" fn get_chunk_size(_this: *mut c_void) -> c_int {
    CHUNK_SIZE
}

unsafe extern "C" fn write_ascii_chunk(this: *mut c_void, data: *mut c_char, size: c_int) -> c_int {
    // SAFETY: `this` is the RustOutputStream we passed to Serialize; V8 calls back on the same
    // thread while Serialize runs, so the borrow is live and exclusive.
    let stream = unsafe { &mut *(this as *mut RustOutputStream) };
    if stream.aborted {
        return K_ABORT;
    }
    let bytes: &[u8] = if data.is_null() || size <= 0 {
        &[]
    } else {
        // SAFETY: V8 guarantees `size` readable bytes at `data` for the duration of the call.
        unsafe { std::slice::from_raw_parts(data as *const u8, size as usize) }
    };
    // A panic must never unwind into V8's C++ frames.
    match catch_unwind(AssertUnwindSafe(|| (stream.sink)(bytes))) {
        Ok(true) => K_CONTINUE,
        Ok(false) => {
            stream.aborted = true;
            K_ABORT
        }
        Err(_) => {
            stream.aborted = true;
            stream.panicked = true;
            K_ABORT
        }
    }
}

unsafe extern "C" fn write_heap_stats_chunk(
    _this: *mut c_void,
    _d: *mut c_void,
    _n: c_int,
) -> c_int {
    K_ABORT
}

/// The vtable's entries as the ABI orders them; the vptr points at the first (the two Itanium
/// header words are never read).
type Slot = unsafe extern "C" fn();

#[cfg(not(windows))]
const DTOR_SLOTS: usize = 2;
#[cfg(windows)]
const DTOR_SLOTS: usize = 1;

struct VTable([Slot; DTOR_SLOTS + 4]);
// SAFETY: function pointers are immutable data.
unsafe impl Sync for VTable {}

const DTOR: Slot =
    unsafe { std::mem::transmute::<unsafe extern "C" fn(*mut c_void), Slot>(noop_dtor) };

static VTABLE: VTable = VTable(unsafe {
    [
        DTOR,
        #[cfg(not(windows))]
        DTOR,
        std::mem::transmute::<unsafe extern "C" fn(*mut c_void), Slot>(end_of_stream),
        std::mem::transmute::<unsafe extern "C" fn(*mut c_void) -> c_int, Slot>(get_chunk_size),
        std::mem::transmute::<unsafe extern "C" fn(*mut c_void, *mut c_char, c_int) -> c_int, Slot>(
            write_ascii_chunk,
        ),
        std::mem::transmute::<unsafe extern "C" fn(*mut c_void, *mut c_void, c_int) -> c_int, Slot>(
            write_heap_stats_chunk,
        ),
    ]
});

/// Why a snapshot could not be streamed.
#[derive(Debug)]
pub enum SnapshotError {
    /// V8 returned no snapshot (e.g. out of memory while building it).
    NotTaken,
    /// The sink asked to stop; its own error explains why.
    Aborted,
    /// The sink panicked; the panic was contained.
    SinkPanicked,
}

/// Takes a snapshot of `isolate`'s heap, streams its JSON through `sink`, and frees it. Under
/// [`JsIsolate`]'s contract: on the isolate's own thread, outside any GC callback, isolate live.
pub fn take_and_stream(
    api: &SnapshotApi,
    isolate: JsIsolate<'_>,
    sink: &mut Sink<'_>,
) -> Result<(), SnapshotError> {
    // SAFETY: on the isolate's own thread, outside any GC callback, with the isolate live
    // (`JsIsolate`'s contract); the signatures match (symbols.rs). The options block and the
    // stream outlive the calls that read them, and the snapshot is deleted once, after use.
    unsafe { take_and_stream_raw(api, isolate.as_ptr(), sink) }
}

/// # Safety
/// As `take_and_stream`: `isolate` is the calling thread's live isolate, outside GC callbacks.
unsafe fn take_and_stream_raw(
    api: &SnapshotApi,
    isolate: *mut Isolate,
    sink: &mut Sink<'_>,
) -> Result<(), SnapshotError> {
    let profiler = (api.get_heap_profiler)(isolate);
    if profiler.is_null() {
        return Err(SnapshotError::NotTaken);
    }
    // HeapSnapshotOptions grew from 24 to 32 bytes in V8 12; every field's default is zero, so
    // 64 zero bytes reproduce V8's defaults on every version without reading past our buffer.
    let options = [0u64; 8];
    let snapshot = (api.take)(profiler, options.as_ptr().cast());
    if snapshot.is_null() {
        return Err(SnapshotError::NotTaken);
    }
    let mut stream = RustOutputStream {
        vptr: VTABLE.0.as_ptr(),
        sink,
        aborted: false,
        panicked: false,
    };
    (api.serialize)(snapshot, (&mut stream as *mut RustOutputStream).cast(), 0);
    (api.delete)(snapshot as *mut c_void);
    if stream.panicked {
        Err(SnapshotError::SinkPanicked)
    } else if stream.aborted {
        Err(SnapshotError::Aborted)
    } else {
        Ok(())
    }
}
