//! A monotone priority queue (radix heap) for integer keys, shared by the routing searches
//! (`route`) and the analytics' weighted shortest paths (`analytics`).
//!
//! Both are Dijkstra or A\* with a consistent bound, so keys never go below the last key
//! popped. The fee search pushes a heap entry for nearly every in-edge it scans but pops only
//! a few of them; Brandes' searches push one per improving relaxation. A radix heap makes a
//! push a bucket index and a `Vec` push, and moves each entry only when its bucket is the
//! lowest non-empty one, a few times at most (at most 64 in all).

/// Entries `(key, value)`, popped in non-decreasing key order (ties in no set order).
#[derive(Debug)]
pub(crate) struct RadixHeap {
    /// The last key popped: every entry's key is at least this.
    last: u64,
    len: usize,
    /// Bucket `b > 0` holds keys whose highest bit differing from `last` is bit `b - 1`;
    /// bucket 0 holds keys equal to `last`.
    buckets: [Vec<(u64, u32)>; 65],
}

impl Default for RadixHeap {
    fn default() -> Self {
        RadixHeap {
            last: 0,
            len: 0,
            buckets: std::array::from_fn(|_| Vec::new()),
        }
    }
}

impl RadixHeap {
    #[inline]
    fn bucket(last: u64, key: u64) -> usize {
        (64 - (key ^ last).leading_zeros()) as usize
    }

    /// Adds an entry. A key below the last one popped is raised to it, so the queue stays
    /// monotone; the searches only push keys that are lower bounds they re-check on pop.
    #[inline]
    pub(crate) fn push(&mut self, key: u64, value: u32) {
        let key = key.max(self.last);
        self.buckets[Self::bucket(self.last, key)].push((key, value));
        self.len += 1;
    }

    /// Removes an entry with the least key.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<(u64, u32)> {
        if self.buckets[0].is_empty() {
            if self.len == 0 {
                return None;
            }
            self.refill();
        }
        self.len -= 1;
        self.buckets[0].pop()
    }

    /// Moves the lowest non-empty bucket down, around its least key.
    fn refill(&mut self) {
        let Some(i) = (1..self.buckets.len()).find(|&i| !self.buckets[i].is_empty()) else {
            return;
        };
        let mut b = std::mem::take(&mut self.buckets[i]);
        self.last = b.iter().map(|e| e.0).min().unwrap_or(self.last);
        for &e in &b {
            self.buckets[Self::bucket(self.last, e.0)].push(e);
        }
        // Keep the allocation for the next time this bucket fills.
        b.clear();
        self.buckets[i] = b;
    }

    pub(crate) fn clear(&mut self) {
        if self.len > 0 {
            self.buckets.iter_mut().for_each(Vec::clear);
        }
        self.last = 0;
        self.len = 0;
    }

    /// Gives back memory past `cap` entries per bucket.
    pub(crate) fn shrink_to(&mut self, cap: usize) {
        self.buckets.iter_mut().for_each(|b| b.shrink_to(cap));
    }
}

#[cfg(test)]
mod tests {
    use super::RadixHeap;

    #[test]
    fn pops_in_key_order_with_interleaved_pushes() {
        let mut h = RadixHeap::default();
        let mut reference = std::collections::BinaryHeap::new();
        let mut x = 0x1234_5678_u64;
        let mut last = 0;
        for round in 0..2_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Keys at or above the last popped, spread over many magnitudes.
            let key = last + (x % (1 << (x % 40)));
            h.push(key, round);
            reference.push(std::cmp::Reverse(key));
            if x % 3 == 0 {
                let (k, _) = h.pop().expect("not empty");
                assert_eq!(std::cmp::Reverse(k), reference.pop().expect("not empty"));
                last = k;
            }
        }
        while let Some(std::cmp::Reverse(k)) = reference.pop() {
            assert_eq!(h.pop().map(|e| e.0), Some(k));
        }
        assert_eq!(h.pop(), None);
        h.push(3, 0);
        h.clear();
        assert_eq!(h.pop(), None);
    }
}
