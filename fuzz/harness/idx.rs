// IDX files (MNIST), gzipped or not: the input is a 4-byte little-endian length, an image
// file of that length, then a label file. Each is parsed, and the pair made into a dataset;
// errors are fine, panics are not.
//
// Shared by the fuzz target fuzz/fuzz_targets/idx.rs and
// the corpus replay in the tests (crates/*/tests/fuzz_corpus.rs).
use nascent_train::data::idx;
use std::path::Path;

/// Feeds one input to the parser; panics only on a bug.
pub fn run(data: &[u8]) {
    let (ip, lp) = (Path::new("images.idx"), Path::new("labels.idx"));
    let _ = idx::parse_idx(ip, data);
    let Some((len, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let cut = (u32::from_le_bytes(*len) as usize).min(rest.len());
    let (im, lb) = rest.split_at(cut);
    let parse = |p: &Path, b: &[u8]| idx::parse_idx(p, &idx::decode_maybe_gz(p, b.to_vec())?);
    if let (Ok(im), Ok(lb)) = (parse(ip, im), parse(lp, lb)) {
        let _ = idx::pair_dataset(ip, im.clone(), lp, lb.clone(), None);
        let _ = idx::pair_dataset(ip, im, lp, lb, Some(10));
    }
}
