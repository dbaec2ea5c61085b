//! Checkpoint chains: a sequence of model files stored as keyframes and
//! deltas (docs/ARCHIVE.md, "Chains").
//!
//! A chain is a folder holding one archive per step (`step-000000.z4`,
//! `step-000001.z4`, ...) and a manifest, `chain.json`. Step `n` is a
//! *keyframe* (a standalone archive) when `n` is a multiple of the keyframe
//! interval, else a *delta* archive (version 2) against step `n - 1`.
//! Restoring step `k` opens step `k` with step `k - 1` attached as its
//! reference, and so on back to the nearest keyframe; tensors are then
//! decoded one at a time, each from the keyframe's tensor forward, so that
//! memory is bounded by a few tensors, not by the chain. The manifest
//! records each step's original size and XXH3-128; the restored file is
//! checked against it.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use xxhash_rust::xxh3::Xxh3;

use super::reader::Archive;
use super::reference::Reference;
use super::{compress_path, compress_path_delta, ArchiveOptions, ArchiveStats};
use crate::error::{Error, Result};
use crate::options::DecodeOptions;

/// File name of a chain's manifest.
pub const MANIFEST: &str = "chain.json";
/// The `format` field of a manifest.
const FORMAT: &str = "z4ai-chain";
/// Manifest version this build writes and reads.
const MANIFEST_VERSION: u64 = 1;
/// Most steps a chain may hold (bounds what a manifest can make us do).
const MAX_STEPS: usize = 1 << 20;
/// Largest keyframe interval: restoring a step decodes at most this many
/// archives per tensor (and recurses that deep).
pub const MAX_KEYFRAME_INTERVAL: u32 = 256;

/// Whether a step is stored standalone or against the previous step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// A standalone archive.
    Key,
    /// A delta archive against the previous step.
    Delta,
}

impl StepKind {
    /// `key` or `delta`.
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Key => "key",
            StepKind::Delta => "delta",
        }
    }
}

/// One step of a chain, as the manifest records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Keyframe or delta.
    pub kind: StepKind,
    /// The archive's file name inside the chain folder.
    pub archive: String,
    /// The file name the checkpoint had when it was added.
    pub source: String,
    /// Bytes of the checkpoint.
    pub size: u64,
    /// XXH3-128 of the checkpoint.
    pub hash: u128,
    /// Bytes of the archive.
    pub stored: u64,
}

impl Step {
    /// Checkpoint size / archive size.
    pub fn ratio(&self) -> f64 {
        self.size as f64 / self.stored.max(1) as f64
    }
}

/// A checkpoint chain folder.
pub struct Chain {
    dir: PathBuf,
    keyframe_interval: u32,
    steps: Vec<Step>,
    dopts: DecodeOptions,
}

fn bad(detail: impl Into<String>) -> Error {
    Error::Malformed {
        what: "chain manifest",
        detail: detail.into(),
    }
}

fn archive_name(n: usize) -> String {
    format!("step-{n:06}.z4")
}

impl Chain {
    /// Opens the chain in `dir`, reading and validating its manifest.
    pub fn open(dir: impl AsRef<Path>) -> Result<Chain> {
        let dir = dir.as_ref().to_path_buf();
        let path = dir.join(MANIFEST);
        let meta = fs::metadata(&path)?;
        if meta.len() > 256 << 20 {
            return Err(bad("manifest larger than 256 MiB"));
        }
        let text = fs::read(&path)?;
        let v: Value = serde_json::from_slice(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let (keyframe_interval, steps) = parse_manifest(&v)?;
        Ok(Chain {
            dir,
            keyframe_interval,
            steps,
            dopts: DecodeOptions::default(),
        })
    }

    /// Opens the chain in `dir`, or starts an empty one there (creating
    /// the folder) with `keyframe_interval` (≥ 1; 1 stores every step
    /// standalone). An existing chain keeps its interval; asking for
    /// another one is an error.
    pub fn open_or_create(dir: impl AsRef<Path>, keyframe_interval: Option<u32>) -> Result<Chain> {
        let dir = dir.as_ref();
        if dir.join(MANIFEST).exists() {
            let c = Chain::open(dir)?;
            if let Some(k) = keyframe_interval.filter(|&k| k != c.keyframe_interval) {
                return Err(Error::InvalidOption(format!(
                    "{}: the chain's keyframe interval is {}, not {k}",
                    dir.display(),
                    c.keyframe_interval
                )));
            }
            return Ok(c);
        }
        let k = keyframe_interval.unwrap_or(DEFAULT_KEYFRAME_INTERVAL);
        if !(1..=MAX_KEYFRAME_INTERVAL).contains(&k) {
            return Err(Error::InvalidOption(format!(
                "keyframe interval must be 1 ..= {MAX_KEYFRAME_INTERVAL}"
            )));
        }
        fs::create_dir_all(dir)?;
        let c = Chain {
            dir: dir.to_path_buf(),
            keyframe_interval: k,
            steps: Vec::new(),
            dopts: DecodeOptions::default(),
        };
        c.save()?;
        Ok(c)
    }

    /// Sets decode threads / kernel level for [`Chain::restore`].
    pub fn with_decode_options(mut self, opts: DecodeOptions) -> Chain {
        self.dopts = opts;
        self
    }

    /// Every step, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// A keyframe every this many steps.
    pub fn keyframe_interval(&self) -> u32 {
        self.keyframe_interval
    }

    /// The chain's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends the model file at `path` as the next step: a keyframe when
    /// its number is a multiple of the keyframe interval, else a delta
    /// against the previous step. The archive is written to a temporary
    /// file and renamed into place before the manifest is updated.
    pub fn add(&mut self, path: &Path, opts: &ArchiveOptions) -> Result<(Step, ArchiveStats)> {
        let n = self.steps.len();
        if n >= MAX_STEPS {
            return Err(Error::InvalidOption("the chain is full".into()));
        }
        let kind = if n.is_multiple_of(self.keyframe_interval as usize) {
            StepKind::Key
        } else {
            StepKind::Delta
        };
        let own = Reference::open(path)?.id()?;
        let name = archive_name(n);
        let target = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}.tmp{}", std::process::id()));
        let result = (|| -> Result<ArchiveStats> {
            let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
            let stats = match kind {
                StepKind::Key => compress_path(path, &mut w, opts)?,
                StepKind::Delta => {
                    let prev = self.reference(n - 1)?;
                    compress_path_delta(path, &prev, &mut w, opts)?
                }
            };
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            fs::rename(&tmp, &target)?;
            Ok(stats)
        })();
        let stats = match result {
            Ok(s) => s,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let step = Step {
            kind,
            archive: name,
            source: path
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            size: own.size,
            hash: own.hash,
            stored: stats.archive_bytes,
        };
        self.steps.push(step.clone());
        if let Err(e) = self.save() {
            self.steps.pop();
            return Err(e);
        }
        Ok((step, stats))
    }

    /// Step `k` as an archive, with the previous steps back to the nearest
    /// keyframe attached as references. Each archive must hold the
    /// checkpoint the manifest lists and record the reference it says.
    pub fn open_step(&self, k: usize) -> Result<Archive> {
        if k >= self.steps.len() {
            return Err(Error::InvalidOption(format!(
                "no step {k} in the chain ({} steps)",
                self.steps.len()
            )));
        }
        let key = (0..=k)
            .rev()
            .find(|&j| self.steps[j].kind == StepKind::Key)
            .ok_or_else(|| bad("no keyframe before the step"))?;
        let mut a = self.open_one(key)?;
        for j in key + 1..=k {
            let prev = Reference::from_archive(a)?.with_known_hash(self.steps[j - 1].hash);
            a = self.open_one(j)?.with_reference(prev)?;
        }
        Ok(a)
    }

    /// Opens the archive of step `k` alone and checks it against the
    /// manifest.
    fn open_one(&self, k: usize) -> Result<Archive> {
        let step = &self.steps[k];
        let a = Archive::open(self.dir.join(&step.archive))?;
        let files = a.files();
        if files.len() != 1 || files[0].size != step.size {
            return Err(bad(format!(
                "{} does not hold the {}-byte checkpoint the manifest lists",
                step.archive, step.size
            )));
        }
        match (step.kind, a.needs_reference()) {
            (StepKind::Key, None) => Ok(a),
            (StepKind::Delta, Some(r)) => {
                let prev = &self.steps[k - 1];
                if r.size != prev.size || r.hash != prev.hash {
                    return Err(bad(format!(
                        "{} was not made against step {}",
                        step.archive,
                        k - 1
                    )));
                }
                Ok(a)
            }
            (kind, _) => Err(bad(format!(
                "{} is not a {} archive",
                step.archive,
                kind.name()
            ))),
        }
    }

    /// Step `k` as a reference for step `k + 1`.
    fn reference(&self, k: usize) -> Result<Reference> {
        let hash = self.steps[k].hash;
        Ok(Reference::from_archive(self.open_step(k)?)?.with_known_hash(hash))
    }

    /// Restores step `k` byte for byte into `w`; returns its size. The
    /// result is checked against the size and XXH3-128 the manifest
    /// records.
    pub fn restore<W: Write>(&self, k: usize, w: W) -> Result<u64> {
        let a = self.open_step(k)?.with_decode_options(self.dopts);
        let mut hw = HashingWriter {
            inner: w,
            h: Xxh3::new(),
        };
        let n = a.write_file(0, &mut hw)?;
        let step = &self.steps[k];
        if n != step.size || hw.h.digest128() != step.hash {
            return Err(Error::ChecksumMismatch {
                what: "restored chain step",
                chunk: None,
            });
        }
        Ok(n)
    }

    fn save(&self) -> Result<()> {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                json!({
                    "kind": s.kind.name(), "archive": s.archive, "source": s.source,
                    "size": s.size, "xxh3_128": format!("{:032x}", s.hash), "stored": s.stored,
                })
            })
            .collect();
        let v = json!({
            "format": FORMAT, "version": MANIFEST_VERSION,
            "keyframe_interval": self.keyframe_interval, "steps": steps,
        });
        let text = serde_json::to_vec_pretty(&v).map_err(|e| Error::Io(e.into()))?;
        let tmp = self
            .dir
            .join(format!(".{MANIFEST}.tmp{}", std::process::id()));
        let result = (|| -> Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            fs::rename(&tmp, self.dir.join(MANIFEST))?;
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

/// Keyframe interval of a new chain when none is given.
pub const DEFAULT_KEYFRAME_INTERVAL: u32 = 8;

fn parse_manifest(v: &Value) -> Result<(u32, Vec<Step>)> {
    if v["format"] != FORMAT {
        return Err(bad("not a z4ai chain manifest"));
    }
    if v["version"].as_u64() != Some(MANIFEST_VERSION) {
        return Err(bad(format!(
            "unsupported manifest version {}",
            v["version"]
        )));
    }
    let k = v["keyframe_interval"]
        .as_u64()
        .filter(|&k| (1..=u64::from(MAX_KEYFRAME_INTERVAL)).contains(&k))
        .ok_or_else(|| {
            bad(format!(
                "keyframe_interval must be 1 ..= {MAX_KEYFRAME_INTERVAL}"
            ))
        })? as u32;
    let list = v["steps"]
        .as_array()
        .ok_or_else(|| bad("steps must be a list"))?;
    if list.len() > MAX_STEPS {
        return Err(bad("too many steps"));
    }
    let mut steps = Vec::with_capacity(list.len());
    let mut since_key = 0usize;
    for (n, s) in list.iter().enumerate() {
        let field = |name: &str| bad(format!("step {n}: bad or missing '{name}'"));
        let kind = match s["kind"].as_str() {
            Some("key") => StepKind::Key,
            Some("delta") if n > 0 => StepKind::Delta,
            _ => return Err(field("kind")),
        };
        since_key = if kind == StepKind::Key {
            0
        } else {
            since_key + 1
        };
        if since_key >= k as usize {
            return Err(bad(format!(
                "step {n}: more than {k} steps since the last keyframe"
            )));
        }
        let archive = s["archive"].as_str().ok_or_else(|| field("archive"))?;
        // Names are fixed, so a manifest cannot point outside the folder.
        if archive != archive_name(n) {
            return Err(bad(format!(
                "step {n}: archive must be named {}",
                archive_name(n)
            )));
        }
        let hash = s["xxh3_128"]
            .as_str()
            .filter(|h| h.len() == 32)
            .and_then(|h| u128::from_str_radix(h, 16).ok())
            .ok_or_else(|| field("xxh3_128"))?;
        steps.push(Step {
            kind,
            archive: archive.to_string(),
            source: s["source"].as_str().unwrap_or_default().to_string(),
            size: s["size"].as_u64().ok_or_else(|| field("size"))?,
            hash,
            stored: s["stored"].as_u64().ok_or_else(|| field("stored"))?,
        });
    }
    Ok((k, steps))
}

/// Passes bytes through and hashes them.
struct HashingWriter<W: Write> {
    inner: W,
    h: Xxh3,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(b)?;
        self.h.update(&b[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
