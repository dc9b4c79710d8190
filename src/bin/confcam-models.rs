//! Turns an fp32 ONNX model into an fp32 `.tflite` file for the box, with a
//! fixed input shape (tools/fetch-models calls it; see that tool for why).
//!
//! `confcam-models <in.onnx> <out.tflite> <N,C,H,W>`

use std::process::ExitCode;

use tract_onnx::prelude::*;

fn convert(src: &str, dst: &str, shape: &str) -> TractResult<()> {
    let dims = shape
        .split(',')
        .map(|d| {
            d.trim().parse::<usize>().map_err(|e| TractError::msg(format!("bad dimension {d:?} in {shape:?}: {e}")))
        })
        .collect::<TractResult<Vec<_>>>()?;
    let model = tract_onnx::onnx()
        .model_for_path(src)?
        .with_input_fact(0, f32::fact(&dims).into())?
        .into_typed()?
        // Decluttered, not optimised: the writer takes portable ops only.
        .into_decluttered()?;
    let mut out = Vec::new();
    tract_tflite::tflite().write(&model, &mut out)?;
    std::fs::write(dst, out)?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [src, dst, shape] = args.as_slice() else {
        eprintln!("usage: confcam-models <in.onnx> <out.tflite> <N,C,H,W>");
        return ExitCode::from(2);
    };
    match convert(src, dst, shape) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("confcam-models: {src}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
