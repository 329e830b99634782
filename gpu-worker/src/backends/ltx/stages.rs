//! The exported graphs as ONNX Runtime sessions: text encoder, transformer
//! (one guidance pair per call), VAE encoder (image conditioning; absent from
//! exports made before it) and VAE decoder.

use std::path::Path;
use std::sync::Mutex;

use ort::execution_providers::{CPUExecutionProvider, CUDAExecutionProvider};
use ort::session::Session;
use ort::value::Tensor;

/// Where the graphs run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// CUDA when the loaded runtime has it (the `onnxruntime-gpu` wheel), else CPU.
    Auto,
    /// CUDA or fail: a GPU host must not silently fall back.
    Cuda,
    /// CPU only.
    Cpu,
}

impl Device {
    /// Reads `DREAMREEL_LTX_DEVICE` ("cuda", "cpu"; anything else or unset: auto).
    pub fn from_env() -> Self {
        match std::env::var("DREAMREEL_LTX_DEVICE").as_deref() {
            Ok("cuda") => Device::Cuda,
            Ok("cpu") => Device::Cpu,
            _ => Device::Auto,
        }
    }
}

/// A dense f32 tensor: shape outermost first, values row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values.
    pub values: Vec<f32>,
}

/// The loaded graphs. `Session::run` needs `&mut`, so each sits behind a lock;
/// the worker runs one job per process, so the locks are never contended.
pub struct Stages {
    text_encoder: Mutex<Session>,
    transformer: Mutex<Session>,
    vae_encoder: Option<Mutex<Session>>,
    vae_decoder: Mutex<Session>,
    vae_takes_timestep: bool,
    /// Older exports take one timestep per video ([B]), newer ones one per token ([B, N]).
    timestep_per_token: bool,
}

/// The VAE posterior of a picture: `mean + std * noise` samples it.
pub struct Posterior {
    /// Mean [1, C, 1, h, w].
    pub mean: Array,
    /// Standard deviation, the mean's shape.
    pub std: Array,
}

fn err(what: &str) -> impl Fn(ort::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn session(dir: &Path, file: &str, device: Device) -> Result<Session, String> {
    let path = dir.join(file);
    if !path.is_file() {
        return Err(format!("{} is missing", path.display()));
    }
    let cuda = CUDAExecutionProvider::default().build();
    let providers = match device {
        Device::Cpu => vec![CPUExecutionProvider::default().build()],
        Device::Cuda => vec![cuda.error_on_failure()],
        Device::Auto => vec![cuda, CPUExecutionProvider::default().build()],
    };
    Session::builder()
        .and_then(|b| b.with_execution_providers(providers))
        .and_then(|b| b.commit_from_file(&path))
        .map_err(err(file))
}

fn output(outputs: &ort::session::SessionOutputs<'_>, name: &str) -> Result<Array, String> {
    let value = outputs
        .get(name)
        .ok_or_else(|| format!("graph has no output {name}"))?;
    let (shape, values) = value.try_extract_tensor::<f32>().map_err(err(name))?;
    Ok(Array {
        shape: shape.iter().map(|d| *d as usize).collect(),
        values: values.to_vec(),
    })
}

fn tensor<T: ort::tensor::PrimitiveTensorElementType + Clone + std::fmt::Debug + 'static>(
    shape: &[usize],
    values: Vec<T>,
) -> Result<Tensor<T>, String> {
    let shape: Vec<i64> = shape.iter().map(|d| *d as i64).collect();
    Tensor::from_array((shape, values)).map_err(err("input"))
}

impl Stages {
    /// Opens `text_encoder.onnx`, `transformer.onnx`, `vae_decoder.onnx` and,
    /// when the export has it, `vae_encoder.onnx` in `dir`.
    pub fn load(dir: &Path, device: Device) -> Result<Self, String> {
        crate::onnx_runtime::init().map_err(|e| e.to_string())?;
        let vae_decoder = session(dir, "vae_decoder.onnx", device)?;
        let vae_takes_timestep = vae_decoder.inputs.iter().any(|i| i.name == "timestep");
        let transformer = session(dir, "transformer.onnx", device)?;
        let timestep_per_token = transformer.inputs.iter().any(|i| {
            i.name == "timestep" && i.input_type.tensor_shape().is_some_and(|s| s.len() == 2)
        });
        // Text-only exports stay usable: only a job with a reference needs it.
        let vae_encoder = match dir.join("vae_encoder.onnx").is_file() {
            true => Some(Mutex::new(session(dir, "vae_encoder.onnx", device)?)),
            false => None,
        };
        Ok(Stages {
            text_encoder: Mutex::new(session(dir, "text_encoder.onnx", device)?),
            transformer: Mutex::new(transformer),
            vae_encoder,
            vae_decoder: Mutex::new(vae_decoder),
            vae_takes_timestep,
            timestep_per_token,
        })
    }

    /// Whether this export can condition on a picture (VAE encoder and a
    /// per-token timestep in the transformer).
    pub fn conditions_on_images(&self) -> bool {
        self.vae_encoder.is_some() && self.timestep_per_token
    }

    /// T5's last hidden state [B, L, D] for `ids` [B, L].
    pub fn encode_text(&self, ids: &[i64], batch: usize) -> Result<Array, String> {
        let len = ids.len() / batch.max(1);
        let input = tensor(&[batch, len], ids.to_vec())?;
        let mut session = self
            .text_encoder
            .lock()
            .map_err(|_| "text encoder poisoned")?;
        let outputs = session
            .run(ort::inputs!["input_ids" => input])
            .map_err(err("text encoder"))?;
        output(&outputs, "last_hidden_state")
    }

    /// Velocity [2, N, D] for the guidance pair: `latents` [2, N, D], text
    /// states [2, L, E], `timesteps` per token [N] (the same for both videos of
    /// the pair), mask [2, L], RoPE coords [2, 3, N].
    pub fn velocity(
        &self,
        latents: &Array,
        text: &Array,
        timesteps: &[f32],
        mask: &Array,
        coords: &Array,
    ) -> Result<Array, String> {
        let batch = latents.shape[0];
        let timestep = if self.timestep_per_token {
            tensor(&[batch, timesteps.len()], timesteps.repeat(batch))?
        } else {
            // An export from before image conditioning: one timestep per video.
            let t = timesteps.first().copied().unwrap_or_default();
            if timesteps.iter().any(|&x| x != t) {
                return Err("this transformer export takes one timestep per video; \
                    re-export it for image conditioning"
                    .into());
            }
            tensor(&[batch], vec![t; batch])?
        };
        let inputs = ort::inputs![
            "hidden_states" => tensor(&latents.shape, latents.values.clone())?,
            "encoder_hidden_states" => tensor(&text.shape, text.values.clone())?,
            "timestep" => timestep,
            "encoder_attention_mask" => tensor(&mask.shape, mask.values.clone())?,
            "video_coords" => tensor(&coords.shape, coords.values.clone())?,
        ];
        let mut session = self
            .transformer
            .lock()
            .map_err(|_| "transformer poisoned")?;
        let outputs = session.run(inputs).map_err(err("transformer"))?;
        output(&outputs, "velocity")
    }

    /// The VAE posterior of `image` [1, 3, 1, H, W] (pixels in -1..1).
    pub fn encode_image(&self, image: &Array) -> Result<Posterior, String> {
        let encoder = self
            .vae_encoder
            .as_ref()
            .ok_or("this export has no vae_encoder.onnx")?;
        let input = tensor(&image.shape, image.values.clone())?;
        let mut session = encoder.lock().map_err(|_| "VAE encoder poisoned")?;
        let outputs = session
            .run(ort::inputs!["image" => input])
            .map_err(err("VAE encoder"))?;
        Ok(Posterior {
            mean: output(&outputs, "posterior_mean")?,
            std: output(&outputs, "posterior_std")?,
        })
    }

    /// Pixels [1, 3, F', H', W'] (about -1..1) for denormalised `latents` [1, C, F, H, W].
    pub fn decode(&self, latents: &Array, timestep: f32) -> Result<Array, String> {
        let mut inputs = ort::inputs!["latents" => tensor(&latents.shape, latents.values.clone())?];
        if self.vae_takes_timestep {
            inputs.push(("timestep".into(), tensor(&[1], vec![timestep])?.into()));
        }
        let mut session = self.vae_decoder.lock().map_err(|_| "VAE poisoned")?;
        let outputs = session.run(inputs).map_err(err("VAE decoder"))?;
        output(&outputs, "video")
    }
}
