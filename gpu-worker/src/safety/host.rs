//! Loads a policy directory and runs its module on a clip's samples.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_nn::wit::{ExecutionTarget, GraphEncoding, WasiNnCtx, WasiNnView};
use wasmtime_wasi_nn::{Graph, GraphRegistry};

use super::{FrameSafetyError, FrameSampler, Sampling};
use crate::spec::GenerationSpec;

mod bindings {
    wasmtime::component::bindgen!({ world: "checker", path: "../safety-policy/wit" });
}

use bindings::exports::dreamreel::safety::frames as wit;

/// Fuel (wasm operators) one check may burn: a tight loop spends it in about
/// 0.2 s here. The default module uses under 3% of it for a 10 s clip; graph
/// time in ONNX Runtime is the host's and not counted.
pub const DEFAULT_FUEL: u64 = 2_000_000_000;
/// Linear memory one check may use.
pub const DEFAULT_MEMORY: usize = 256 << 20;

/// What the module decided about a clip.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// `Some` when the clip may not be published.
    pub blocked: Option<Blocked>,
    /// The module's measurements, for the job log.
    pub scores: Vec<(String, f32)>,
    /// Fuel the module burnt (see [`DEFAULT_FUEL`]).
    pub fuel_used: u64,
}

/// A block: the category the edge is told, and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// Short stable name, e.g. `photosensitive`.
    pub category: String,
    /// One human sentence.
    pub reason: String,
}

/// A loaded policy directory: compiled module, graphs, thresholds.
pub struct FramePolicy {
    dir: PathBuf,
    engine: Engine,
    pre: bindings::CheckerPre<State>,
    graphs: HashMap<String, Graph>,
    policy_json: String,
    sampling: Sampling,
    fuel: u64,
    memory: usize,
}

impl std::fmt::Debug for FramePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut graphs: Vec<_> = self.graphs.keys().collect();
        graphs.sort();
        f.debug_struct("FramePolicy")
            .field("dir", &self.dir)
            .field("graphs", &graphs)
            .field("sampling", &self.sampling)
            .finish_non_exhaustive()
    }
}

fn load_error(path: &Path, detail: impl ToString) -> FrameSafetyError {
    FrameSafetyError::Load {
        path: path.to_owned(),
        detail: detail.to_string(),
    }
}

impl FramePolicy {
    /// Loads `dir`: `policy.wasm`, `policy.json` and every `<graph>/model.onnx`.
    pub fn load(dir: &Path) -> Result<Self, FrameSafetyError> {
        Self::load_with_module(dir, &dir.join("policy.wasm"))
    }

    /// Loads `dir`'s graphs and policy.json with the module at `module`
    /// (the workspace builds it under `target/`).
    pub fn load_with_module(dir: &Path, module: &Path) -> Result<Self, FrameSafetyError> {
        crate::onnx_runtime::init()?;
        let json_path = dir.join("policy.json");
        let policy_json =
            std::fs::read_to_string(&json_path).map_err(|e| load_error(&json_path, e))?;
        let sampling = sampling_of(&policy_json).map_err(|e| load_error(&json_path, e))?;
        let graphs = load_graphs(dir)?;

        let mut config = Config::new();
        config.consume_fuel(true);
        let engine = Engine::new(&config).map_err(|e| load_error(module, e))?;
        let bytes = std::fs::read(module).map_err(|e| load_error(module, e))?;
        let component = Component::new(&engine, &bytes)
            .map_err(|e| load_error(module, format!("not a usable component: {e:#}")))?;
        let mut linker = Linker::<State>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| load_error(module, e))?;
        wasmtime_wasi_nn::wit::add_to_linker(&mut linker, |s: &mut State| {
            WasiNnView::new(&mut s.table, &mut s.nn)
        })
        .map_err(|e| load_error(module, e))?;
        // Imports and the export's type are checked here, once, not per job.
        let pre = linker
            .instantiate_pre(&component)
            .and_then(bindings::CheckerPre::new)
            .map_err(|e| load_error(module, format!("{e:#}")))?;
        Ok(FramePolicy {
            dir: dir.to_owned(),
            engine,
            pre,
            graphs,
            policy_json,
            sampling,
            fuel: DEFAULT_FUEL,
            memory: DEFAULT_MEMORY,
        })
    }

    /// One loaded policy per directory per process (compiling costs a second).
    pub fn shared(dir: &Path) -> Result<Arc<Self>, FrameSafetyError> {
        static LOADED: OnceLock<Mutex<HashMap<PathBuf, Arc<FramePolicy>>>> = OnceLock::new();
        let mut loaded = LOADED
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(policy) = loaded.get(dir) {
            return Ok(policy.clone());
        }
        let policy = Arc::new(Self::load(dir)?);
        loaded.insert(dir.to_owned(), policy.clone());
        Ok(policy)
    }

    /// The same policy with other bounds (fuel units, memory bytes).
    pub fn with_limits(mut self, fuel: u64, memory: usize) -> Self {
        self.fuel = fuel;
        self.memory = memory;
        self
    }

    /// The graphs the module may load by name.
    pub fn graph_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.graphs.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// An empty sampler sized as policy.json asks, for a clip of `spec`.
    pub fn sampler(&self, spec: &GenerationSpec) -> FrameSampler {
        FrameSampler::new(self.sampling, spec.fps)
    }

    /// Runs the module on `samples` of a clip rendered from `spec`, in a
    /// fresh instance bounded by the policy's fuel and memory.
    pub fn check(
        &self,
        spec: &GenerationSpec,
        samples: &FrameSampler,
    ) -> Result<Verdict, FrameSafetyError> {
        if samples.overflowed() {
            return Err(FrameSafetyError::TooManyFrames(
                super::sampler::MAX_SAMPLE_BYTES,
            ));
        }
        let backends = wasmtime_wasi_nn::backend::list();
        let registry = Graphs(self.graphs.clone());
        let state = State {
            table: ResourceTable::new(),
            wasi: WasiCtx::builder().build(),
            nn: WasiNnCtx::new(backends, registry.into()),
            limits: Limits {
                memory: self.memory,
                hit: false,
            },
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store
            .set_fuel(self.fuel)
            .map_err(|e| FrameSafetyError::Trap(e.to_string()))?;

        let clip = wit::ClipInfo {
            width: spec.width,
            height: spec.height,
            fps: spec.fps,
            frames: samples.seen(),
        };
        let frames = |list: &[super::SampledFrame]| -> Vec<wit::Frame> {
            list.iter()
                .map(|f| wit::Frame {
                    index: f.index,
                    width: f.width,
                    height: f.height,
                    rgb: f.rgb.clone(),
                })
                .collect()
        };
        let result = self.pre.instantiate(&mut store).and_then(|instance| {
            instance.dreamreel_safety_frames().call_check(
                &mut store,
                clip,
                &frames(&samples.motion),
                &frames(&samples.stills),
                &self.policy_json,
            )
        });
        let fuel_used = self.fuel - store.get_fuel().unwrap_or(0);
        let verdict = match result {
            Ok(Ok(verdict)) => verdict,
            Ok(Err(message)) => return Err(FrameSafetyError::Module(message)),
            Err(e) if store.data().limits.hit => {
                drop(e);
                return Err(FrameSafetyError::OutOfMemory(self.memory));
            }
            Err(e) => {
                return Err(match e.downcast_ref::<wasmtime::Trap>() {
                    Some(wasmtime::Trap::OutOfFuel) => FrameSafetyError::OutOfFuel(self.fuel),
                    _ => FrameSafetyError::Trap(format!("{e:#}")),
                });
            }
        };
        Ok(Verdict {
            blocked: match verdict.decision {
                wit::Decision::Allow => None,
                wit::Decision::Block(b) => Some(Blocked {
                    category: b.category,
                    reason: b.reason,
                }),
            },
            scores: verdict
                .scores
                .into_iter()
                .map(|s| (s.name, s.value))
                .collect(),
            fuel_used,
        })
    }
}

/// policy.json's `sampling` section (defaults when absent).
fn sampling_of(json: &str) -> Result<Sampling, String> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let sampling = match value.get("sampling") {
        None => Sampling::default(),
        Some(s) => serde_json::from_value(s.clone()).map_err(|e| format!("sampling: {e}"))?,
    };
    sampling.validate()?;
    Ok(sampling)
}

/// Every `<name>/model.onnx` under `dir`, loaded on the CPU, by name.
fn load_graphs(dir: &Path) -> Result<HashMap<String, Graph>, FrameSafetyError> {
    let entries = std::fs::read_dir(dir).map_err(|e| load_error(dir, e))?;
    let mut backend = wasmtime_wasi_nn::backend::list()
        .into_iter()
        .find(|b| b.encoding() == GraphEncoding::Onnx)
        .ok_or_else(|| load_error(dir, "this build has no ONNX backend"))?;
    let loader = backend
        .as_dir_loadable()
        .ok_or_else(|| load_error(dir, "the ONNX backend cannot load directories"))?;
    let mut graphs = HashMap::new();
    for entry in entries {
        let path = entry.map_err(|e| load_error(dir, e))?.path();
        if !path.join("model.onnx").is_file() {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| load_error(&path, "graph folder names must be UTF-8"))?
            .to_owned();
        let graph = loader
            .load_from_dir(&path, ExecutionTarget::Cpu)
            .map_err(|e| load_error(&path.join("model.onnx"), e))?;
        graphs.insert(name, graph);
    }
    Ok(graphs)
}

/// The graphs one instance may load by name (cheap clones of shared sessions).
struct Graphs(HashMap<String, Graph>);

impl GraphRegistry for Graphs {
    fn get(&self, name: &str) -> Option<&Graph> {
        self.0.get(name)
    }
    fn get_mut(&mut self, name: &str) -> Option<&mut Graph> {
        self.0.get_mut(name)
    }
}

/// One check's instance state.
struct State {
    table: ResourceTable,
    wasi: WasiCtx,
    nn: WasiNnCtx,
    limits: Limits,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory and remembers that the cap was hit (to name the error).
struct Limits {
    memory: usize,
    hit: bool,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.hit |= desired > self.memory;
        Ok(desired <= self.memory)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_comes_from_policy_json() {
        assert_eq!(sampling_of("{}").unwrap(), Sampling::default());
        let s = sampling_of(r#"{"sampling": {"motion": {"width": 16, "height": 9}}}"#).unwrap();
        assert_eq!((s.motion.width, s.motion.height), (16, 9));
        assert_eq!(s.stills, Sampling::default().stills);
        for bad in [
            "not json",
            r#"{"sampling": {"motion": {"width": 0, "height": 9}}}"#,
            r#"{"sampling": {"moton": {}}}"#,
        ] {
            assert!(sampling_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_missing_directory_is_a_load_error() {
        let err = FramePolicy::load(Path::new("/nonexistent/frame-policy")).unwrap_err();
        assert!(
            matches!(&err, FrameSafetyError::Load { path, .. } if path.ends_with("policy.json")),
            "{err}"
        );
    }
}
