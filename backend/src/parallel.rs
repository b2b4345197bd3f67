//! Work on many independent items (a batch's events, its runs' steps) on
//! every core, in order.

use rayon::prelude::*;

/// Fewer items than this are mapped on the calling thread: handing them to
/// the pool would cost more than it saves.
const MANY: usize = 64;

/// `f(index, item)` of each of `items`, in their order: on every core when
/// there are many of them.
pub(crate) fn map<T, R, F>(items: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(usize, &T) -> R + Sync + Send,
{
    if items.len() < MANY {
        return items
            .iter()
            .enumerate()
            .map(|(i, item)| f(i, item))
            .collect();
    }
    items
        .par_iter()
        .enumerate()
        .map(|(i, item)| f(i, item))
        .collect()
}
