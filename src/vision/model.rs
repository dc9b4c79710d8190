//! A `.tflite` model run by tract, with the input shape it was written for.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_tflite::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("no face model at {0} (run tools/fetch-models; check-in stays off without it)")]
    Missing(PathBuf),
    #[error("face model {path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error("face model {name}: {message}")]
    Run { name: &'static str, message: String },
}

/// A loaded model, optimised for this CPU.
pub struct Model {
    pub name: &'static str,
    plan: Arc<TypedRunnableModel>,
    /// N, C, H, W.
    pub input_shape: [usize; 4],
    /// Output names in output order, to find outputs by name.
    outputs: Vec<String>,
}

impl Model {
    pub fn load(name: &'static str, path: &Path) -> Result<Model, ModelError> {
        if !path.is_file() {
            return Err(ModelError::Missing(path.into()));
        }
        let load = |e: TractError| ModelError::Load { path: path.into(), message: format!("{e:#}") };
        let model = tract_tflite::tflite().model_for_path(path).map_err(load)?;
        let fact = model.input_fact(0).map_err(load)?;
        let dims: Vec<usize> = fact.shape.as_concrete().map(<[usize]>::to_vec).unwrap_or_default();
        let input_shape: [usize; 4] = dims.try_into().map_err(|d| ModelError::Load {
            path: path.into(),
            message: format!("expected a fixed N,C,H,W input, found {d:?}"),
        })?;
        let outputs = model.outputs.iter().map(|o| model.node(o.node).name.clone()).collect();
        let plan = model.into_optimized().map_err(load)?.into_runnable().map_err(load)?;
        Ok(Model { name, plan, input_shape, outputs })
    }

    /// Runs the model on one NCHW f32 input; outputs as flat f32 vectors.
    pub fn run(&self, input: Tensor) -> Result<Vec<Vec<f32>>, ModelError> {
        let run = |e: TractError| ModelError::Run { name: self.name, message: format!("{e:#}") };
        let outputs = self.plan.run(tvec!(input.into())).map_err(run)?;
        outputs
            .iter()
            .map(|o| Ok(o.try_as_plain_ram().map_err(run)?.as_slice::<f32>().map_err(run)?.to_vec()))
            .collect()
    }

    /// Output names, in output order, as the reference runtimes name them
    /// (without tract's `.0`).
    pub fn output_names(&self) -> Vec<&str> {
        self.outputs.iter().map(|o| o.strip_suffix(".0").unwrap_or(o)).collect()
    }

    /// Index of the output called `name` (tract names a node's first
    /// output `name.0` when it reads the file back).
    pub fn output(&self, name: &str) -> Result<usize, ModelError> {
        let named = |o: &String| o.strip_prefix(name).is_some_and(|rest| rest.is_empty() || rest == ".0");
        self.outputs.iter().position(named).ok_or_else(|| ModelError::Run {
            name: self.name,
            message: format!("no output named {name} (outputs: {:?})", self.outputs),
        })
    }
}
