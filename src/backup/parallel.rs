//! Checking many backup files at once: one thread per core takes the next item, so a backup
//! of thousands of collections does not start thousands of threads, and the error reported
//! is the first one in the items' order, whichever thread found it.

use anyhow::{Result, anyhow};

/// Runs `f` over `items` in their order; the first error in that order.
pub fn first_error<T: Sync>(items: &[T], f: impl Fn(&T) -> Result<()> + Sync) -> Result<()> {
    let order: Vec<usize> = (0..items.len()).collect();
    first_error_in_order(items, &order, f)
}

/// As [`first_error`], with the items taken in `order` (e.g. largest first, so one big file
/// does not start last); errors are still judged in `items`' order.
pub fn first_error_in_order<T: Sync>(
    items: &[T],
    order: &[usize],
    f: impl Fn(&T) -> Result<()> + Sync,
) -> Result<()> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(order.len().max(1));
    let mut results: Vec<(usize, Result<()>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&i) = order.get(k) else { break };
                        done.push((i, f(&items[i])));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|_| vec![(0, Err(anyhow!("a checking thread panicked")))])
            })
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().try_for_each(|(_, r)| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_error_is_the_first_in_item_order_whatever_the_work_order() {
        let items: Vec<u32> = (0..50).collect();
        let check = |n: &u32| {
            if n % 10 == 7 {
                Err(anyhow!("bad {n}"))
            } else {
                Ok(())
            }
        };
        let reversed: Vec<usize> = (0..50).rev().collect();
        let e = first_error_in_order(&items, &reversed, check).unwrap_err();
        assert_eq!(e.to_string(), "bad 7");
        assert_eq!(first_error(&items, check).unwrap_err().to_string(), "bad 7");
        assert!(first_error(&items, |_| Ok(())).is_ok());
        assert!(first_error::<u32>(&[], |_| Ok(())).is_ok());
    }
}
