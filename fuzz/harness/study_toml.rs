// Study files and `--set` overrides: layering (file over the defaults, overrides merged into
// their tables), the typed parse and `check()` never panic; settings that pass `check()`
// print as TOML (`--dry-run`) and read back as the same settings.
//
// Input: the study file's text, then optionally a line `%%SET%%` and one `KEY=VALUE` override
// per line. Shared by the fuzz target fuzz/fuzz_targets/study_toml.rs and the corpus replay in
// crates/nascent-cli/tests/fuzz_corpus.rs; the layering is the CLI's own
// (crates/nascent-cli/src/layered.rs, included as a module by both).
use nascent_study::{Catalog, SpaceInfo, StudySettings};

/// The catalog of the libtorch backend, written out (the harness does not link libtorch).
fn catalog() -> Catalog {
    let space = |name: &str, scalable: bool| SpaceInfo {
        name: name.into(),
        summary: String::new(),
        scalable,
    };
    Catalog {
        spaces: vec![
            space("nb201", true),
            space("darts", true),
            space("chain", false),
        ],
        proxies: ["synflow", "naswot", "zico", "meco", "snip", "params", "flops"]
            .iter()
            .map(|p| p.to_string())
            .collect(),
    }
}

/// Feeds one input to the settings' parsers; panics only on a bug.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (file, sets) = match text.split_once("\n%%SET%%\n") {
        Some((f, s)) => (f, s),
        None => (text, ""),
    };
    let sets: Vec<String> = sets.lines().map(String::from).collect();
    let Ok(layered) = layered::Layered::from_text(file, "study.toml", &[], &sets) else {
        return;
    };
    let Ok(settings) = layered.parse::<StudySettings>() else {
        return;
    };
    let Ok(config) = settings.check(&catalog()) else {
        return;
    };
    let printed = toml::to_string_pretty(config.settings()).expect("checked settings print");
    let back: StudySettings = toml::from_str(&printed).expect("printed settings read back");
    assert_eq!(&back, config.settings(), "{printed}");
}
