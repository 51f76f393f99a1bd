//! Cache prefetch hints: the crate's only `unsafe` code.
//!
//! The crate root denies `unsafe_code`; this module alone is allowed it (the workspace is to
//! forbid it everywhere else). It holds nothing but the hint: callers pass a reference, so
//! nothing here can read or write memory the program sees.

/// Asks the CPU to bring the cache line holding `x` closer ahead of its use (a search
/// scanning in-edges asks for the records a few edges ahead, so their misses overlap).
#[inline(always)]
pub(crate) fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it reads nothing the program sees and cannot fault,
    // and `x` is a live reference anyway.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((x as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}
