//! Key files: named signing keys under `~/.opmeter/keys` (mode 0600), the built-in `dev` key,
//! and `opmeter keys new|show`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use ed25519_dalek::SigningKey;
use opmeter_ledger::encoding::to_hex0x;
use opmeter_ledger::name::Name;
use opmeter_rpc::AddressOrName;
use opmeter_vm::Address;
use serde_json::json;

use crate::client::ClientOpts;

/// A key file: `~/.opmeter/keys/NAME.json`, readable by its owner only.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyFile {
    name: String,
    address: Address,
    public_key: String,
    secret_key: String,
}

pub(crate) fn keys_dir(opts: &ClientOpts) -> PathBuf {
    opts.keys_dir.clone().unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".opmeter")
            .join("keys")
    })
}

fn key_path(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("key names use letters, digits, `-` and `_` (got `{name}`)");
    }
    Ok(dir.join(format!("{name}.json")))
}

/// Loads the key `name` (`dev` is the development account's well-known key).
pub(crate) fn load_key(opts: &ClientOpts, name: &str) -> anyhow::Result<SigningKey> {
    if name == "dev" {
        return Ok(opmeter_node::genesis::dev_key());
    }
    let path = key_path(&keys_dir(opts), name)?;
    let text = std::fs::read_to_string(&path).map_err(|_| {
        anyhow!(
            "no key `{name}` in {}: create it with `opmeter keys new {name}`, or pass --key dev",
            keys_dir(opts).display()
        )
    })?;
    let file: KeyFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a key file", path.display()))?;
    let bytes: [u8; 32] = hex::decode(file.secret_key.trim_start_matches("0x"))
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow!("{}: secretKey is not 32 bytes of hex", path.display()))?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// The address of `key`'s account.
pub(crate) fn address_of(key: &SigningKey) -> Address {
    Address::for_public_key(&key.verifying_key().to_bytes())
}

/// `opmeter keys new NAME`: a fresh random key written with mode 0600.
pub(crate) fn new(opts: &ClientOpts, name: &str) -> anyhow::Result<()> {
    if name == "dev" {
        bail!("`dev` is the built-in development key; choose another name");
    }
    let dir = keys_dir(opts);
    let path = key_path(&dir, name)?;
    if path.exists() {
        bail!(
            "key `{name}` already exists at {}; choose another name",
            path.display()
        );
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow!("no randomness for a key: {e}"))?;
    let key = SigningKey::from_bytes(&secret);
    let file = KeyFile {
        name: name.into(),
        address: address_of(&key),
        public_key: to_hex0x(&key.verifying_key().to_bytes()),
        secret_key: to_hex0x(&secret),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    write_private(&path, serde_json::to_string_pretty(&file)?.as_bytes())?;
    if opts.json {
        println!(
            "{}",
            json!({"name": name, "address": file.address, "publicKey": file.public_key, "path": path})
        );
    } else {
        println!("key `{name}` saved to {}", path.display());
        println!("  address     {}", file.address);
        println!("  public key  {}", file.public_key);
        println!(
            "fund it with: opmeter transfer {} 1000000000 --key dev",
            file.address
        );
    }
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// `opmeter keys show [NAME]`.
pub(crate) fn show(opts: &ClientOpts, name: Option<&str>) -> anyhow::Result<()> {
    let name = name.unwrap_or(&opts.key);
    let key = load_key(opts, name)?;
    let address = address_of(&key);
    let public_key = to_hex0x(&key.verifying_key().to_bytes());
    if opts.json {
        println!(
            "{}",
            json!({"name": name, "address": address, "publicKey": public_key})
        );
    } else {
        println!("key `{name}`");
        println!("  address     {address}");
        println!("  public key  {public_key}");
    }
    Ok(())
}

/// A target given as `0x…`, as a key name (when such a key exists), or as a registered name
/// (resolved by the node, in the state the request reads).
pub(crate) fn resolve_target(opts: &ClientOpts, text: &str) -> anyhow::Result<AddressOrName> {
    if text.starts_with("0x") {
        return resolve_address(opts, text).map(AddressOrName::Address);
    }
    let key_error = match load_key(opts, text) {
        Ok(key) => return Ok(AddressOrName::Address(address_of(&key))),
        Err(e) => e,
    };
    Name::parse(text).map(AddressOrName::Name).map_err(|rule| {
        anyhow!("`{text}` is neither a 0x address, a key nor a name ({rule}): {key_error:#}")
    })
}

/// An address given as `0x…` or as a key name.
pub(crate) fn resolve_address(opts: &ClientOpts, text: &str) -> anyhow::Result<Address> {
    if text.starts_with("0x") {
        return Address::from_hex(text)
            .map_err(|e| anyhow!("`{text}` is not a 32-byte 0x address: {e}"));
    }
    Ok(address_of(&load_key(opts, text)?))
}
