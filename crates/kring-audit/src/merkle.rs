//! The log's hash tree, exactly as RFC 6962 (Certificate Transparency) defines it: leaf hash
//! `SHA-256(0x00 ‖ entry)`, node hash `SHA-256(0x01 ‖ left ‖ right)`, the tree over `n` leaves
//! split at the largest power of two below `n`.
//!
//! Owns: the hashes, the [`Frontier`] that keeps a growing tree's root in O(log n), the plans of
//! inclusion and consistency proofs (which subtrees a proof consists of), and their verification
//! (RFC 9162 §2.1.3.2 and §2.1.4.2). Pure: where the subtree hashes come from is the caller's.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A complete subtree: `2^level` leaves starting at leaf `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subtree {
    pub level: u32,
    pub index: u64,
}

impl Subtree {
    pub fn first_leaf(self) -> u64 {
        self.index << self.level
    }
    pub fn leaves(self) -> u64 {
        1 << self.level
    }
}

/// The right edge of a growing tree: one complete subtree per set bit of its size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    /// Hashes of the complete subtrees, largest (leftmost) first.
    stack: Vec<Hash>,
}

impl Frontier {
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// Rebuilds the frontier of a tree of `size` leaves from its complete subtrees, as listed
    /// by [`Frontier::subtrees_of`] (in that order).
    pub fn from_subtrees(size: u64, hashes: Vec<Hash>) -> Frontier {
        debug_assert_eq!(hashes.len(), size.count_ones() as usize);
        Frontier {
            size,
            stack: hashes,
        }
    }

    /// The complete subtrees the frontier of a tree of `size` leaves consists of, left first.
    pub fn subtrees_of(size: u64) -> Vec<Subtree> {
        let mut out = Vec::new();
        let mut start = 0u64;
        for level in (0..64).rev() {
            if size & (1 << level) != 0 {
                out.push(Subtree {
                    level,
                    index: start >> level,
                });
                start += 1 << level;
            }
        }
        out
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; calls `completed` for every subtree of two or more leaves that
    /// this leaf completes (so a store can keep the ones it wants).
    pub fn push(&mut self, leaf: Hash, mut completed: impl FnMut(Subtree, &Hash)) {
        let mut hash = leaf;
        let mut level = 0u32;
        let position = self.size;
        while (position >> level) & 1 == 1 {
            let left = self.stack.pop().expect("a set bit has its subtree");
            hash = node_hash(&left, &hash);
            level += 1;
            completed(
                Subtree {
                    level,
                    index: position >> level,
                },
                &hash,
            );
        }
        self.stack.push(hash);
        self.size += 1;
    }

    /// The tree's root (Merkle Tree Hash).
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(last) => it.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n > 1);
    1 << (63 - (n - 1).leading_zeros())
}

/// The Merkle Tree Hash of leaves `[lo, hi)` as complete subtrees, left first: the hash is
/// `fold_right` over them (see [`combine`]). Valid for the ranges proofs and roots use, where
/// `lo` is aligned to the largest power of two that fits.
pub fn range_subtrees(lo: u64, hi: u64) -> Vec<Subtree> {
    let mut out = Vec::new();
    let mut lo = lo;
    while lo < hi {
        let n = hi - lo;
        let k = if n.is_power_of_two() {
            n
        } else {
            largest_power_of_two_below(n)
        };
        let level = k.trailing_zeros();
        debug_assert_eq!(lo % k, 0, "range not aligned");
        out.push(Subtree {
            level,
            index: lo >> level,
        });
        lo += k;
    }
    out
}

/// Combines the hashes of [`range_subtrees`] into the range's hash.
pub fn combine(hashes: &[Hash]) -> Hash {
    let mut it = hashes.iter().rev();
    match it.next() {
        None => empty_root(),
        Some(last) => it.fold(*last, |acc, left| node_hash(left, &acc)),
    }
}

/// The leaf ranges whose hashes make up the inclusion proof of leaf `m` in a tree of `n`
/// leaves (RFC 6962 §2.1.1 PATH), in proof order.
pub fn inclusion_plan(m: u64, n: u64) -> Vec<(u64, u64)> {
    fn path(m: u64, lo: u64, hi: u64, out: &mut Vec<(u64, u64)>) {
        if hi - lo <= 1 {
            return;
        }
        let k = largest_power_of_two_below(hi - lo);
        if m < lo + k {
            path(m, lo, lo + k, out);
            out.push((lo + k, hi));
        } else {
            path(m, lo + k, hi, out);
            out.push((lo, lo + k));
        }
    }
    let mut out = Vec::new();
    if m < n {
        path(m, 0, n, &mut out);
    }
    out
}

/// The leaf ranges whose hashes make up the consistency proof between the trees of `m` and
/// `n` leaves (RFC 6962 §2.1.2 PROOF), in proof order.
pub fn consistency_plan(m: u64, n: u64) -> Vec<(u64, u64)> {
    fn sub(m: u64, lo: u64, hi: u64, whole: bool, out: &mut Vec<(u64, u64)>) {
        let n = hi - lo;
        if m == n {
            if !whole {
                out.push((lo, hi));
            }
            return;
        }
        let k = largest_power_of_two_below(n);
        if m <= k {
            sub(m, lo, lo + k, whole, out);
            out.push((lo + k, hi));
        } else {
            sub(m - k, lo + k, hi, false, out);
            out.push((lo, lo + k));
        }
    }
    let mut out = Vec::new();
    if 0 < m && m < n {
        sub(m, 0, n, true, &mut out);
    }
    out
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves with `root` (RFC 9162
/// §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && &r == root
}

/// Checks that the tree of `first` leaves with `first_root` is a prefix of the tree of
/// `second` leaves with `second_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 {
        return proof.is_empty();
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((head, rest)) = path.split_first() else {
        return false;
    };
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*head, *head);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    &fr == first_root && &sr == second_root && s == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The RFC's recursive definition, as the reference.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = largest_power_of_two_below(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn range_hash(all: &[Hash], lo: u64, hi: u64) -> Hash {
        let hashes: Vec<Hash> = range_subtrees(lo, hi)
            .into_iter()
            .map(|t| mth(&all[t.first_leaf() as usize..(t.first_leaf() + t.leaves()) as usize]))
            .collect();
        combine(&hashes)
    }

    #[test]
    fn known_answer_for_the_empty_tree_and_one_leaf() {
        assert_eq!(
            hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // RFC 6962 test vector: the leaf hash of the empty entry.
        assert_eq!(
            hex(&leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    fn hex(h: &Hash) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }

    proptest! {
        #[test]
        fn frontier_root_matches_the_definition(n in 0u64..300) {
            let all = leaves(n);
            let mut f = Frontier::new();
            let mut completed = Vec::new();
            for l in &all {
                f.push(*l, |t, h| completed.push((t, *h)));
            }
            prop_assert_eq!(f.root(), mth(&all));
            for (t, h) in completed {
                let lo = t.first_leaf() as usize;
                prop_assert_eq!(h, mth(&all[lo..lo + t.leaves() as usize]));
            }
            // Rebuilt from its subtrees, the frontier is the same.
            let subs: Vec<Hash> = Frontier::subtrees_of(n).into_iter()
                .map(|t| mth(&all[t.first_leaf() as usize..(t.first_leaf() + t.leaves()) as usize]))
                .collect();
            prop_assert_eq!(Frontier::from_subtrees(n, subs), f);
        }

        #[test]
        fn inclusion_proofs_verify_and_wrong_ones_do_not(n in 1u64..200, m in 0u64..200) {
            let m = m % n;
            let all = leaves(n);
            let root = mth(&all);
            let proof: Vec<Hash> = inclusion_plan(m, n).into_iter()
                .map(|(lo, hi)| range_hash(&all, lo, hi)).collect();
            prop_assert!(verify_inclusion(&all[m as usize], m, n, &proof, &root));
            let other = leaf_hash(b"forged");
            prop_assert!(!verify_inclusion(&other, m, n, &proof, &root));
            if n > 1 {
                prop_assert!(!verify_inclusion(&all[m as usize], (m + 1) % n, n, &proof, &root));
            }
        }

        #[test]
        fn consistency_proofs_verify_and_wrong_ones_do_not(n in 2u64..200, m in 1u64..200) {
            let m = 1 + m % (n - 1);
            let all = leaves(n);
            let (r1, r2) = (mth(&all[..m as usize]), mth(&all));
            let proof: Vec<Hash> = consistency_plan(m, n).into_iter()
                .map(|(lo, hi)| range_hash(&all, lo, hi)).collect();
            prop_assert!(verify_consistency(m, n, &r1, &r2, &proof));
            let mut forged = all.clone();
            forged[(m - 1) as usize] = leaf_hash(b"forged");
            prop_assert!(!verify_consistency(m, n, &mth(&forged[..m as usize]), &r2, &proof));
        }
    }
}
