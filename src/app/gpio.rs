use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

use crate::hw::{Button, ButtonEvent, Leds, ring_colors};

/// The thread that owns the button and the LED ring: a press toggles mute,
/// and the ring always shows the current mute state.
pub struct GpioThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GpioThread {
    pub fn spawn(
        mut button: Box<dyn Button>,
        mut leds: Box<dyn Leds>,
        muted: watch::Sender<bool>,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new().name("gpio".into()).spawn(move || {
            let mut rx = muted.subscribe();
            let show = |leds: &mut Box<dyn Leds>, is_muted: bool| {
                if let Err(e) = leds.show(&ring_colors(is_muted, leds.count())) {
                    tracing::warn!(error = %e, "cannot update the LED ring");
                }
            };
            show(&mut leds, *rx.borrow_and_update());
            while !stopping.load(Ordering::Relaxed) {
                match button.next_event(Duration::from_millis(50)) {
                    Ok(Some(ButtonEvent::Pressed)) => {
                        muted.send_modify(|m| *m = !*m);
                        tracing::info!(muted = *muted.borrow(), "mute button");
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "mute button unreadable");
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
                // Mute may also change elsewhere (admin page, later).
                if rx.has_changed().unwrap_or(false) {
                    show(&mut leds, *rx.borrow_and_update());
                }
            }
            let off = vec![Default::default(); leds.count()];
            let _ = leds.show(&off);
        })?;
        Ok(GpioThread { stop, thread: Some(thread) })
    }

    /// Asks the thread to stop; it does within one button poll.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Stops the thread, which turns the ring off, and waits for it.
    pub fn join(mut self) {
        self.request_stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for GpioThread {
    /// A dropped handle (a failed start) still stops the thread.
    fn drop(&mut self) {
        self.request_stop();
    }
}
