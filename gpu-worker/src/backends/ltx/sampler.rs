//! The flow-matching Euler sampler LTX-Video runs: diffusers'
//! `FlowMatchEulerDiscreteScheduler` as `LTXPipeline` drives it. The
//! pipeline asks for `linspace(1, 1/n, n)` sigmas and a shift `mu` that
//! grows with the video's latent sequence length; the scheduler warps them
//! (exponential or linear time shift, or a static shift), optionally
//! stretches them to end at `shift_terminal`, appends a final 0, and each
//! step moves the sample by `(sigma_next - sigma) * velocity`.
//!
//! Arithmetic follows the reference's precision: the linspace and `mu` in
//! f64 (NumPy/Python floats), everything after in f32 (NumPy float32 arrays
//! and torch tensors), so schedules match it to the last bit or so.

use serde::Deserialize;

/// Why a configuration cannot be sampled.
#[derive(Debug, thiserror::Error)]
#[error("scheduler: {0}")]
pub struct SamplerError(String);

/// `scheduler/scheduler_config.json`, with diffusers' names and defaults.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct SchedulerConfig {
    /// Training timesteps; a timestep is `sigma * num_train_timesteps`.
    pub num_train_timesteps: u32,
    /// Static shift, used when `use_dynamic_shifting` is off.
    pub shift: f64,
    /// Shift by `mu` from the sequence length instead of `shift`.
    pub use_dynamic_shifting: bool,
    /// `mu` at `base_image_seq_len`.
    pub base_shift: f64,
    /// `mu` at `max_image_seq_len`.
    pub max_shift: f64,
    /// Sequence length where `mu == base_shift`.
    pub base_image_seq_len: u64,
    /// Sequence length where `mu == max_shift`.
    pub max_image_seq_len: u64,
    /// Use `1 - sigma` (and end at 1).
    pub invert_sigmas: bool,
    /// Stretch the schedule so its last sigma is this (LTX: 0.1).
    pub shift_terminal: Option<f64>,
    /// Karras sigmas (unsupported: LTX does not use them).
    pub use_karras_sigmas: bool,
    /// Exponential sigmas (unsupported).
    pub use_exponential_sigmas: bool,
    /// Beta sigmas (unsupported).
    pub use_beta_sigmas: bool,
    /// `"exponential"` or `"linear"` dynamic shift.
    pub time_shift_type: String,
    /// Re-noise each step (unsupported: it needs torch's noise).
    pub stochastic_sampling: bool,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            num_train_timesteps: 1000,
            shift: 1.0,
            use_dynamic_shifting: false,
            base_shift: 0.5,
            max_shift: 1.15,
            base_image_seq_len: 256,
            max_image_seq_len: 4096,
            invert_sigmas: false,
            shift_terminal: None,
            use_karras_sigmas: false,
            use_exponential_sigmas: false,
            use_beta_sigmas: false,
            time_shift_type: "exponential".into(),
            stochastic_sampling: false,
        }
    }
}

impl SchedulerConfig {
    /// `LTXPipeline`'s `calculate_shift`: `mu` linear in the sequence length
    /// (latent frames x height x width).
    pub fn mu(&self, video_seq_len: usize) -> f64 {
        let m = (self.max_shift - self.base_shift)
            / (self.max_image_seq_len as f64 - self.base_image_seq_len as f64);
        let b = self.base_shift - m * self.base_image_seq_len as f64;
        video_seq_len as f64 * m + b
    }

    /// The `steps`-step schedule for a video of `video_seq_len` latent tokens.
    pub fn schedule(&self, steps: usize, video_seq_len: usize) -> Result<Schedule, SamplerError> {
        let unsupported = |what: &str| Err(SamplerError(format!("{what} is not supported")));
        if self.use_karras_sigmas || self.use_exponential_sigmas || self.use_beta_sigmas {
            return unsupported("karras/exponential/beta sigmas");
        }
        if self.stochastic_sampling {
            return unsupported("stochastic_sampling");
        }
        if steps == 0 {
            return Err(SamplerError("at least one step is needed".into()));
        }
        let exponential = match self.time_shift_type.as_str() {
            "exponential" => true,
            "linear" => false,
            other => return Err(SamplerError(format!("unknown time_shift_type {other:?}"))),
        };
        let mut sigmas: Vec<f32> = linspace(1.0, 1.0 / steps as f64, steps)
            .map(|s| s as f32)
            .collect();
        if self.use_dynamic_shifting {
            let mu = self.mu(video_seq_len);
            // The sigma exponent of the time shift is 1, so `(1/t - 1)^1`.
            let scale = if exponential { mu.exp() } else { mu } as f32;
            for s in &mut sigmas {
                *s = scale / (scale + (1.0 / *s - 1.0));
            }
        } else {
            let (shift, less_one) = (self.shift as f32, (self.shift - 1.0) as f32);
            for s in &mut sigmas {
                *s = shift * *s / (1.0 + less_one * *s);
            }
        }
        if let Some(terminal) = self.shift_terminal.filter(|&t| t != 0.0) {
            if steps == 1 {
                // The stretch divides by 1 - sigma_last = 0 (NaN in the reference).
                return Err(SamplerError("shift_terminal needs at least 2 steps".into()));
            }
            let last = 1.0 - sigmas[steps - 1];
            let scale = last / (1.0 - terminal) as f32;
            for s in &mut sigmas {
                *s = 1.0 - (1.0 - *s) / scale;
            }
        }
        let end = if self.invert_sigmas {
            for s in &mut sigmas {
                *s = 1.0 - *s;
            }
            1.0
        } else {
            0.0
        };
        let train = self.num_train_timesteps as f32;
        let timesteps = sigmas.iter().map(|s| s * train).collect();
        sigmas.push(end);
        Ok(Schedule { sigmas, timesteps })
    }
}

/// NumPy's `linspace(start, stop, n)` (endpoint included, exact at both ends).
fn linspace(start: f64, stop: f64, n: usize) -> impl Iterator<Item = f64> {
    let step = if n > 1 {
        (stop - start) / (n - 1) as f64
    } else {
        0.0
    };
    (0..n).map(move |i| {
        if n > 1 && i == n - 1 {
            stop
        } else {
            i as f64 * step + start
        }
    })
}

/// One run's noise levels.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// `steps + 1` noise levels, the last 0 (1 with `invert_sigmas`).
    pub sigmas: Vec<f32>,
    /// `steps` timesteps given to the transformer: `sigma * num_train_timesteps`.
    pub timesteps: Vec<f32>,
}

impl Schedule {
    /// Denoising steps in this schedule.
    pub fn steps(&self) -> usize {
        self.timesteps.len()
    }

    /// Step `index`'s Euler update, in place: `sample += (sigma[i+1] - sigma[i]) * velocity`.
    ///
    /// # Panics
    /// When `index` is past the schedule or the slices differ in length.
    pub fn step(&self, index: usize, sample: &mut [f32], velocity: &[f32]) {
        assert!(index < self.steps(), "step {index} of {}", self.steps());
        assert_eq!(sample.len(), velocity.len(), "sample and velocity lengths");
        let dt = self.sigmas[index + 1] - self.sigmas[index];
        for (x, v) in sample.iter_mut().zip(velocity) {
            *x += dt * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ltx() -> SchedulerConfig {
        serde_json::from_str(
            r#"{"_class_name": "FlowMatchEulerDiscreteScheduler", "base_image_seq_len": 1024,
                "base_shift": 0.95, "max_image_seq_len": 4096, "max_shift": 2.05,
                "shift_terminal": 0.1, "use_dynamic_shifting": true}"#,
        )
        .unwrap()
    }

    #[test]
    fn mu_runs_from_base_to_max_shift() {
        let c = ltx();
        assert!((c.mu(1024) - 0.95).abs() < 1e-12);
        assert!((c.mu(4096) - 2.05).abs() < 1e-12);
    }

    #[test]
    fn ltx_schedule_falls_from_one_to_the_terminal_then_zero() {
        let s = ltx().schedule(8, 1536).unwrap();
        assert_eq!(s.sigmas.len(), 9);
        assert_eq!(s.sigmas[0], 1.0);
        assert!((s.sigmas[7] - 0.1).abs() < 1e-6);
        assert_eq!(s.sigmas[8], 0.0);
        assert!(s.sigmas.windows(2).all(|w| w[0] > w[1]));
        assert_eq!(s.timesteps[0], 1000.0);
    }

    #[test]
    fn default_config_is_a_plain_linspace() {
        let s = SchedulerConfig::default().schedule(4, 0).unwrap();
        assert_eq!(s.sigmas, [1.0, 0.75, 0.5, 0.25, 0.0]);
        assert_eq!(s.timesteps, [1000.0, 750.0, 500.0, 250.0]);
    }

    #[test]
    fn euler_step_moves_by_the_sigma_gap() {
        let s = SchedulerConfig::default().schedule(4, 0).unwrap();
        let mut x = [1.0, 2.0];
        s.step(1, &mut x, &[4.0, -4.0]);
        assert_eq!(x, [0.0, 3.0]);
    }

    #[test]
    fn unsupported_options_are_errors() {
        let karras = SchedulerConfig {
            use_karras_sigmas: true,
            ..SchedulerConfig::default()
        };
        assert!(karras.schedule(4, 0).is_err());
        assert!(SchedulerConfig::default().schedule(0, 0).is_err());
    }
}
