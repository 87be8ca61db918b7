//! Work for the libuv thread pool, and the progress of file work, readable while it runs.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// An analysis error as the promise's rejection: the analysis' own message.
pub(super) fn failed(e: impl std::fmt::Display) -> Error {
    Error::from_reason(e.to_string())
}

/// A closure run on the thread pool; its result resolves the promise.
pub struct Work<T> {
    job: Option<Box<dyn FnOnce() -> Result<T> + Send>>,
}

impl<T: ToNapiValue + TypeName + Send + 'static> Work<T> {
    pub(super) fn spawn(job: impl FnOnce() -> Result<T> + Send + 'static) -> AsyncTask<Self> {
        AsyncTask::new(Work {
            job: Some(Box::new(job)),
        })
    }
}

impl<T: ToNapiValue + TypeName + Send + 'static> Task for Work<T> {
    type Output = T;
    type JsValue = T;

    fn compute(&mut self) -> Result<T> {
        let job = self
            .job
            .take()
            .ok_or_else(|| Error::from_reason("internal error: work ran twice"))?;
        let result = panic_as_error(job);
        // File jobs free their parse buffers and the tables they no longer need here.
        crate::alloc::return_freed_memory();
        result
    }

    fn resolve(&mut self, _env: Env, output: T) -> Result<T> {
        Ok(output)
    }
}

/// A panic on a thread-pool thread would abort the host process; it becomes a JS error instead.
fn panic_as_error<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Error::from_reason(
            "internal error: heapdiff panicked (please report)",
        ))
    })
}

/// Bytes of the input files read so far (file bytes, also for gzip files).
#[napi(object)]
pub struct Progress {
    pub bytes_read: f64,
    pub total_bytes: f64,
}

impl From<&[heapsnap::Progress]> for Progress {
    fn from(parts: &[heapsnap::Progress]) -> Self {
        let (read, total) = heapsnap::Progress::sum(parts);
        Progress {
            bytes_read: read as f64,
            total_bytes: total as f64,
        }
    }
}

/// Progress of a job's files, shared between the job object on the JS thread and its work on
/// the pool.
pub(super) fn shared_progress(files: usize) -> Arc<[heapsnap::Progress]> {
    (0..files).map(|_| heapsnap::Progress::default()).collect()
}
