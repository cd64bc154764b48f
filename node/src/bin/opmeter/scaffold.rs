//! `opmeter new NAME`: a contract crate to start from.
//!
//! ```text
//! NAME/
//! ├── Cargo.toml   package NAME: cdylib + rlib, opmeter-sdk by path, a [workspace] of its own
//! ├── src/lib.rs   a counter: init, increment (emits `Incremented`), get; with unit tests
//! ├── .gitignore   target/
//! └── README.md    the next commands: cargo test, opmeter build / exec / deploy / send / call
//! ```
//!
//! The crate needs no release profile: `opmeter build` (`opmeter_sdk_build`) passes the flags on
//! the command line and writes `target/wasm32v1-none/release/LIB.wasm` (or under
//! `opmeter_sdk_build::contracts_target_dir`), where `LIB` is the name with `-` replaced by `_`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use opmeter_sdk_build::CONTRACT_TARGET;

/// Longest accepted name, in bytes: crates.io's limit for package names.
pub(crate) const MAX_NAME_LEN: usize = 64;

/// Why a crate could not be scaffolded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScaffoldError {
    /// The name is not a usable package name.
    #[error(
        "invalid contract name `{0}`: use 1 to {MAX_NAME_LEN} ASCII letters, digits, `-` or `_`, \
         starting with a letter; Rust keywords (`fn`, `self`, …) and reserved names (`core`, \
         `std`, `alloc`, `test`, `build`, `deps`, `opmeter-sdk`, `nul`, …) are not allowed"
    )]
    InvalidName(String),
    /// Something already exists at the crate's path; nothing was written.
    #[error("{0} already exists: choose another name or remove it")]
    AlreadyExists(PathBuf),
    /// The sdk directory has no `Cargo.toml` of the `opmeter-sdk` package.
    #[error(
        "no opmeter sdk at {0}: pass `--sdk PATH` to the `sdk` directory of the opmeter repository"
    )]
    NoSdk(PathBuf),
    /// A directory or file could not be created.
    #[error("cannot create {0}: {1}")]
    Io(PathBuf, #[source] io::Error),
}

/// The sdk of the repository this binary was built from (`sdk/` beside `node/`), canonicalised
/// when it exists.
///
/// The path is fixed at compile time: it is right for an `opmeter` built from a clone (`cargo
/// install --path node` included) as long as the clone stays; elsewhere pass the sdk explicitly.
pub(crate) fn default_sdk_path() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    path.canonicalize().unwrap_or(path)
}

/// Checks that `name` can name a contract crate: 1 to [`MAX_NAME_LEN`] ASCII letters, digits,
/// `-` or `_`, starting with a letter, and neither a Rust keyword nor a reserved name (the std
/// crates, cargo's build directories, the sdk's own crates, Windows device names).
///
/// # Errors
/// [`ScaffoldError::InvalidName`] otherwise.
pub(crate) fn validate_name(name: &str) -> Result<(), ScaffoldError> {
    let invalid = || ScaffoldError::InvalidName(name.to_string());
    let mut chars = name.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic()) || name.len() > MAX_NAME_LEN {
        return Err(invalid());
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(invalid());
    }
    let lib = lib_name(name);
    if KEYWORDS.contains(&lib.as_str()) || RESERVED.contains(&lib.to_ascii_lowercase().as_str()) {
        return Err(invalid());
    }
    Ok(())
}

/// Creates the contract crate `parent/name/` whose `opmeter-sdk` dependency points at
/// `sdk_path` (stored canonicalised), and returns its directory. `parent` is created if missing.
///
/// Nothing is ever overwritten: the crate directory must not exist. If writing a file fails, the
/// directory just created is removed again.
///
/// # Errors
/// [`ScaffoldError::InvalidName`] (see [`validate_name`]), [`ScaffoldError::NoSdk`] when
/// `sdk_path` holds no `opmeter-sdk` manifest, [`ScaffoldError::AlreadyExists`] when
/// `parent/name` exists (a file or a directory), [`ScaffoldError::Io`] when the file system
/// refuses.
pub(crate) fn scaffold(
    parent: &Path,
    name: &str,
    sdk_path: &Path,
) -> Result<PathBuf, ScaffoldError> {
    validate_name(name)?;
    let sdk = find_sdk(sdk_path)?;
    let dir = parent.join(name);
    fs::create_dir_all(parent).map_err(|e| ScaffoldError::Io(parent.to_path_buf(), e))?;
    // `create_dir` fails on anything already there: no check-then-create race.
    match fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(ScaffoldError::AlreadyExists(dir))
        }
        Err(e) => return Err(ScaffoldError::Io(dir, e)),
    }
    if let Err(error) = write_files(&dir, name, &sdk) {
        // Only what this call created a moment ago.
        let _ = fs::remove_dir_all(&dir);
        return Err(error);
    }
    Ok(dir)
}

/// Rust keywords of every edition (strict and reserved): not usable as crate names.
const KEYWORDS: &[&str] = &[
    "Self", "abstract", "as", "async", "await", "become", "box", "break", "const", "continue",
    "crate", "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if",
    "impl", "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub",
    "ref", "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Reserved library names, compared in lower case after `-` → `_`: the std crates (a crate
/// named like one shadows it), cargo's directories in `target/` (cargo refuses them), the sdk's
/// own crates (a dependency cycle) and Windows device names (such a directory cannot exist there).
const RESERVED: &[&str] = &[
    "core",
    "std",
    "alloc",
    "proc_macro",
    "test",
    "build",
    "deps",
    "examples",
    "incremental",
    "opmeter_sdk",
    "opmeter_sdk_macros",
    "con",
    "prn",
    "aux",
    "nul",
    "com1",
    "com2",
    "com3",
    "com4",
    "com5",
    "com6",
    "com7",
    "com8",
    "com9",
    "lpt1",
    "lpt2",
    "lpt3",
    "lpt4",
    "lpt5",
    "lpt6",
    "lpt7",
    "lpt8",
    "lpt9",
];

/// Names the template uses or imports through the preludes: a contract type named like one
/// would shadow it (or clash), so the type gets a `Contract` suffix instead.
const TAKEN_TYPE_NAMES: &[&str] = &[
    "Self",
    "COUNT",
    "Incremented",
    "Address",
    "CallError",
    "CallStatus",
    "Event",
    "Item",
    "Json",
    "Map",
    "U256",
    "String",
    "ToString",
    "Vec",
    "Box",
    "Option",
    "Some",
    "None",
    "Result",
    "Ok",
    "Err",
];

/// The library (and `.wasm` file) name: `-` becomes `_`.
fn lib_name(name: &str) -> String {
    name.replace('-', "_")
}

/// The contract's type: the name in CamelCase (`my-token` → `MyToken`), with a `Contract` suffix
/// when that would clash with a name the template uses.
fn type_name(name: &str) -> String {
    let mut camel = String::with_capacity(name.len());
    for part in name.split(['-', '_']) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            camel.push(first.to_ascii_uppercase());
            camel.extend(chars);
        }
    }
    if TAKEN_TYPE_NAMES.contains(&camel.as_str()) {
        camel.push_str("Contract");
    }
    camel
}

/// The canonical sdk directory as text (it goes into `Cargo.toml`), if it holds the
/// `opmeter-sdk` package's manifest.
fn find_sdk(sdk_path: &Path) -> Result<String, ScaffoldError> {
    let no_sdk = || ScaffoldError::NoSdk(sdk_path.to_path_buf());
    let dir = sdk_path.canonicalize().map_err(|_| no_sdk())?;
    let manifest = fs::read_to_string(dir.join("Cargo.toml")).map_err(|_| no_sdk())?;
    let is_sdk = manifest
        .lines()
        .any(|line| line.split_whitespace().collect::<String>() == r#"name="opmeter-sdk""#);
    match dir.into_os_string().into_string() {
        Ok(text) if is_sdk => Ok(text),
        _ => Err(no_sdk()),
    }
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The templates' placeholders.
const PLACEHOLDERS: [&str; 5] = ["__NAME__", "__LIB__", "__TYPE__", "__SDK__", "__TARGET__"];

/// `template` with each placeholder replaced by its value, in one pass (a value is never
/// scanned again: a name like `a__LIB__` stays intact).
fn fill(template: &str, values: &[String; PLACEHOLDERS.len()]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    'scan: while let Some(c) = rest.chars().next() {
        for (placeholder, value) in PLACEHOLDERS.iter().zip(values) {
            if let Some(tail) = rest.strip_prefix(placeholder) {
                out.push_str(value);
                rest = tail;
                continue 'scan;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Writes every file of the crate into the new, empty `dir`.
fn write_files(dir: &Path, name: &str, sdk: &str) -> Result<(), ScaffoldError> {
    let values = [
        name.to_string(),
        lib_name(name),
        type_name(name),
        toml_string(sdk),
        CONTRACT_TARGET.to_string(),
    ];
    let src = dir.join("src");
    fs::create_dir(&src).map_err(|e| ScaffoldError::Io(src.clone(), e))?;
    for (file, template) in [
        ("Cargo.toml", CARGO_TOML),
        ("src/lib.rs", LIB_RS),
        (".gitignore", GITIGNORE),
        ("README.md", README_MD),
    ] {
        let path = dir.join(file);
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| f.write_all(fill(template, &values).as_bytes()))
            .map_err(|e| ScaffoldError::Io(path, e))?;
    }
    Ok(())
}

const CARGO_TOML: &str = r##"[package]
name = "__NAME__"
version = "0.1.0"
edition = "2021"
publish = false

# `opmeter build` compiles for __TARGET__ with the flags Opmeter needs (opt-level 3, LTO,
# panic = "abort", a 64 KiB stack), so no release profile is needed here.

[lib]
# cdylib: the .wasm module; rlib: native unit tests (`cargo test`).
crate-type = ["cdylib", "rlib"]

[dependencies]
opmeter-sdk = { path = __SDK__ }

# A workspace of its own: the crate builds standalone, even inside another cargo workspace.
[workspace]
"##;

const LIB_RS: &str = r##"//! __NAME__: an Opmeter contract. `init(start)`, `increment(by?)` (emits `Incremented`), `get()`.
//!
//! Arguments arrive as a JSON object of named parameters (`{"by": 2}`), results leave as JSON.

#![no_std]

use opmeter_sdk::prelude::*;

/// The count, in the contract's storage under the key `count`.
const COUNT: Item<u64> = Item::new("count");

/// Emitted by every increment.
#[derive(Event)]
pub struct Incremented {
    /// Who incremented: a topic, so clients can filter events by it.
    #[topic]
    pub caller: Address,
    /// By how much.
    pub by: u64,
    /// The new count.
    pub count: u64,
}

/// The contract: each `pub fn` of the `#[contract]` block is an entry point.
pub struct __TYPE__;

#[contract]
impl __TYPE__ {
    /// Runs once, at deployment: `{"start": 0}`.
    pub fn init(start: u64) {
        COUNT.save(&start);
    }

    /// Adds `by` (default 1) and returns the new count: `{"by": 2}`.
    ///
    /// # Errors
    ///
    /// `counter overflow` past `u64::MAX`: the call reverts and changes nothing.
    pub fn increment(by: Option<u64>) -> Result<u64, &'static str> {
        let by = by.unwrap_or(1);
        let count = COUNT
            .load_or_default()
            .checked_add(by)
            .ok_or("counter overflow")?;
        COUNT.save(&count);
        Incremented {
            caller: env::caller(),
            by,
            count,
        }
        .emit();
        Ok(count)
    }

    /// The current count (read-only).
    pub fn get() -> u64 {
        COUNT.load_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opmeter_sdk::testing;

    #[test]
    fn increments_and_emits() {
        __TYPE__::init(5);
        assert_eq!(__TYPE__::increment(None), Ok(6));
        assert_eq!(__TYPE__::increment(Some(4)), Ok(10));
        assert_eq!(__TYPE__::get(), 10);
        assert!(testing::has_event(&Incremented {
            caller: testing::DEFAULT_CALLER,
            by: 4,
            count: 10,
        }));
        assert_eq!(testing::events().len(), 2);
    }

    #[test]
    fn speaks_json_like_the_host() {
        assert_eq!(__TYPE__::__dispatch("init", br#"{"start":1}"#), Ok(vec![]));
        assert_eq!(
            __TYPE__::__dispatch("increment", br#"{"by":2}"#),
            Ok(b"3".to_vec())
        );
        assert_eq!(__TYPE__::__dispatch("get", b""), Ok(b"3".to_vec()));
        assert_eq!(
            __TYPE__::__dispatch("init", br#"{"start":1}"#),
            Err(b"already initialized".to_vec())
        );
    }

    #[test]
    fn overflow_reverts_and_changes_nothing() {
        __TYPE__::__dispatch("init", br#"{"start":18446744073709551615}"#).unwrap();
        assert_eq!(
            __TYPE__::__dispatch("increment", b""),
            Err(b"counter overflow".to_vec())
        );
        assert_eq!(__TYPE__::get(), u64::MAX);
        assert!(testing::events().is_empty());
    }
}
"##;

const GITIGNORE: &str = "target/\n";

const README_MD: &str = r##"# __NAME__

An Opmeter contract: `init(start)`, `increment(by?)` (emits `Incremented`), `get()`. The code is
in `src/lib.rs`.

```sh
cargo test                      # unit tests, natively, against the sdk's mock host
opmeter build                   # prints the .wasm path, its size and code hash
```

`opmeter build` writes `target/__TARGET__/release/__LIB__.wasm` (under
`$CARGO_TARGET_DIR/opmeter-contracts/` instead when `CARGO_TARGET_DIR` is set: use the path it
prints). Then:

```sh
# one call against a fresh in-memory state, without a node
opmeter exec target/__TARGET__/release/__LIB__.wasm --init '{"start": 0}' --method increment --args '{"by": 2}'

# on a running node (`opmeter node`)
opmeter deploy target/__TARGET__/release/__LIB__.wasm --init '{"start": 0}'   # prints the address
opmeter send ADDRESS increment '{"by": 2}'   # a transaction: emits Incremented
opmeter call ADDRESS get                      # a read-only query: 2
```
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_rejected_one_per_class() {
        for (class, name) in [
            ("empty", String::new()),
            ("too long", "a".repeat(MAX_NAME_LEN + 1)),
            ("starts with a digit", "1counter".into()),
            ("starts with `-`", "-counter".into()),
            ("starts with `_`", "_counter".into()),
            ("a path", "../counter".into()),
            ("a space", "my counter".into()),
            ("a dot", "my.counter".into()),
            ("non-ASCII", "compteur-été".into()),
            ("keyword", "fn".into()),
            ("keyword Self", "Self".into()),
            ("std crate, any case", "Core".into()),
            ("std crate, `-`", "proc-macro".into()),
            ("test harness crate", "test".into()),
            ("cargo directory", "deps".into()),
            ("the sdk", "opmeter-sdk".into()),
            ("Windows device, any case", "NUL".into()),
        ] {
            match validate_name(&name) {
                Err(ScaffoldError::InvalidName(n)) => assert_eq!(n, name),
                other => panic!("{class}: `{name}` gave {other:?}"),
            }
        }
    }

    #[test]
    fn names_accepted() {
        for name in [
            "a",
            "counter",
            "my-token",
            "My_Token2",
            "self_",
            "stdlib",
            "core-utils",
            &"a".repeat(MAX_NAME_LEN),
        ] {
            assert!(validate_name(name).is_ok(), "`{name}`");
        }
    }

    #[test]
    fn the_message_says_what_is_allowed() {
        let message = validate_name("1x").unwrap_err().to_string();
        assert!(message.contains("`1x`"), "{message}");
        assert!(
            message.contains("ASCII letters, digits, `-` or `_`"),
            "{message}"
        );
        assert!(message.contains("starting with a letter"), "{message}");
    }

    #[test]
    fn type_names_are_camel_case_and_never_shadow_the_template() {
        for (name, expected) in [
            ("counter", "Counter"),
            ("my-token", "MyToken"),
            ("My_Token2", "MyToken2"),
            ("a--b", "AB"),
            ("event", "EventContract"),
            ("self_", "SelfContract"),
            ("COUNT", "COUNTContract"),
            ("incremented", "IncrementedContract"),
        ] {
            assert_eq!(type_name(name), expected, "{name}");
        }
    }

    #[test]
    fn writes_the_four_files() {
        let parent = tempfile::tempdir().unwrap();
        let dir = scaffold(parent.path(), "my-token", &default_sdk_path()).unwrap();
        assert_eq!(dir, parent.path().join("my-token"));
        let mut files = Vec::new();
        for entry in fs::read_dir(&dir)
            .unwrap()
            .chain(fs::read_dir(dir.join("src")).unwrap())
        {
            let path = entry.unwrap().path();
            if path.is_file() {
                files.push(path.strip_prefix(&dir).unwrap().display().to_string());
            }
        }
        files.sort();
        assert_eq!(
            files,
            [".gitignore", "Cargo.toml", "README.md", "src/lib.rs"]
        );

        let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"my-token\"\n"), "{manifest}");
        let sdk = default_sdk_path();
        assert!(sdk.is_absolute());
        assert!(
            manifest.contains(&format!("opmeter-sdk = {{ path = \"{}\" }}", sdk.display())),
            "{manifest}"
        );
        assert!(manifest.contains("crate-type = [\"cdylib\", \"rlib\"]"));
        assert!(manifest.ends_with("[workspace]\n"));
        let lib = fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains("pub struct MyToken;"));
        let readme = fs::read_to_string(dir.join("README.md")).unwrap();
        assert!(readme.contains("target/wasm32v1-none/release/my_token.wasm"));
        for (file, text) in [
            ("Cargo.toml", &manifest),
            ("lib.rs", &lib),
            ("README.md", &readme),
        ] {
            for placeholder in PLACEHOLDERS {
                assert!(!text.contains(placeholder), "{placeholder} left in {file}");
            }
        }
    }

    #[test]
    fn refuses_to_overwrite() {
        let parent = tempfile::tempdir().unwrap();
        let existing = parent.path().join("counter");
        fs::create_dir(&existing).unwrap();
        fs::write(existing.join("Cargo.toml"), "mine").unwrap();
        match scaffold(parent.path(), "counter", &default_sdk_path()) {
            Err(ScaffoldError::AlreadyExists(path)) => assert_eq!(path, existing),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            fs::read_to_string(existing.join("Cargo.toml")).unwrap(),
            "mine"
        );
        assert_eq!(fs::read_dir(&existing).unwrap().count(), 1);

        let file = parent.path().join("token");
        fs::write(&file, "a file").unwrap();
        let error = scaffold(parent.path(), "token", &default_sdk_path()).unwrap_err();
        assert!(matches!(error, ScaffoldError::AlreadyExists(_)));
        assert!(error
            .to_string()
            .contains("choose another name or remove it"));
        assert_eq!(fs::read_to_string(&file).unwrap(), "a file");
    }

    #[test]
    fn needs_the_sdk_package() {
        let parent = tempfile::tempdir().unwrap();
        let repo_root = default_sdk_path().join("..");
        for sdk in [
            parent.path().join("missing"),
            parent.path().into(),
            repo_root,
        ] {
            let error = scaffold(parent.path(), "counter", &sdk).unwrap_err();
            assert!(
                matches!(&error, ScaffoldError::NoSdk(p) if *p == sdk),
                "{error:?}"
            );
            assert!(error.to_string().contains("--sdk PATH"));
        }
        assert!(!parent.path().join("counter").exists());
    }

    #[test]
    fn placeholders_are_filled_in_one_pass() {
        let values = ["a__LIB__", "b", "C", "\"/sdk\"", "wasm"].map(String::from);
        assert_eq!(
            fill(
                "__NAME__ __LIB__ __dispatch __TYPE____SDK__ é__TARGET__",
                &values
            ),
            "a__LIB__ b __dispatch C\"/sdk\" éwasm"
        );
    }

    #[test]
    fn sdk_paths_are_toml_strings() {
        assert_eq!(toml_string("/a/b"), r#""/a/b""#);
        assert_eq!(toml_string(r#"C:\x "y""#), r#""C:\\x \"y\"""#);
        assert_eq!(toml_string("a\nb"), r#""a\u000Ab""#);
    }
}
