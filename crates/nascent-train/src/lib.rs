//! probe
pub fn probe() -> f64 {
    let t = tch::Tensor::from_slice(&[1.0f32, 2.0, 3.0]);
    t.sum(tch::Kind::Float).double_value(&[])
}
#[cfg(test)]
mod tests { #[test] fn p() { assert_eq!(super::probe(), 6.0); } }
