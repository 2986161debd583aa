//! Embeds every `scenarios/*.toml` and `lessons/NN-*.md` file of the workspace into the
//! library, so an installed `kafkalab` binary carries its built-in scenarios and lessons.
//! Adding a file is enough: no list to edit.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    embed(
        "scenarios",
        |p| p.extension().is_some_and(|e| e == "toml"),
        "/// Built-in scenarios: (name, TOML text), sorted by name.\npub static BUILTIN",
        "builtin_scenarios.rs",
    );
    // Lessons are `NN-name.md`: the number orders the course (the folder's README is not one).
    embed(
        "lessons",
        |p| {
            p.extension().is_some_and(|e| e == "md")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.as_bytes().first().is_some_and(u8::is_ascii_digit))
        },
        "/// Built-in lessons: (file stem, Markdown text), in course order.\npub static LESSONS",
        "builtin_lessons.rs",
    );
}

fn embed(folder: &str, keep: impl Fn(&PathBuf) -> bool, header: &str, out_name: &str) {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dir = manifest.join("..").join(folder);
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    entries.retain(|p| keep(p));
    entries.sort();
    let mut code = format!("{header}: &[(&str, &str)] = &[\n");
    for path in &entries {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 file name");
        let abs = path.canonicalize().expect("embedded file path");
        writeln!(
            code,
            "    ({name:?}, include_str!({:?})),",
            abs.display().to_string()
        )
        .expect("write to String");
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join(out_name);
    std::fs::write(out, code).expect("write the generated list");
}
