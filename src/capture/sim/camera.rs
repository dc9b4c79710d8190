use std::time::{Duration, Instant, SystemTime};

use super::{Pacer, SimControl, TestScene};
use crate::capture::{BufferPool, CaptureError, Frame, PixelFormat, SourceInfo, VideoSource};

/// A camera that shows the [`TestScene`] at a fixed frame rate, paced in real
/// time like a sensor.
pub struct SimulatedCamera {
    name: String,
    scene: TestScene,
    width: u32,
    height: u32,
    fps: u32,
    pacer: Pacer,
    control: SimControl,
    buffers: BufferPool,
}

impl SimulatedCamera {
    pub fn new(name: &str, width: u32, height: u32, fps: u32) -> Self {
        SimulatedCamera {
            name: name.into(),
            scene: TestScene::new(width, height),
            width,
            height,
            fps,
            pacer: Pacer::new(Instant::now(), Duration::from_secs(1) / fps),
            control: SimControl::default(),
            buffers: BufferPool::default(),
        }
    }

    /// Shows the bars mirrored (a second camera looks different).
    pub fn mirrored(mut self) -> Self {
        self.scene = self.scene.mirrored();
        self
    }

    /// A handle to stall or unplug this camera.
    pub fn control(&self) -> SimControl {
        self.control.clone()
    }
}

impl VideoSource for SimulatedCamera {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            backend: "simulated",
            device: format!("sim:{}", self.name),
            description: format!("test scene {}x{} I420 at {} fps", self.width, self.height, self.fps),
        }
    }

    fn next_frame(&mut self) -> Result<Frame, CaptureError> {
        self.control.check(&format!("sim:{}", self.name), Duration::from_millis(100))?;
        let (seq, due) = self.pacer.wait();
        let mut data = self.buffers.take();
        self.scene.render(seq, SystemTime::now(), &mut data);
        if let Some(person) = self.control.person() {
            self.scene.paste(&person, &mut data);
        }
        Ok(Frame { seq, captured_at: due, width: self.width, height: self.height, format: PixelFormat::I420, data })
    }
}
