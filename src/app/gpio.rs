use std::time::Duration;

use tokio::sync::watch;

use crate::hw::{Button, ButtonEvent, Leds, PrivacySwitch, ring_colors};
use crate::supervisor::{Progress, Supervisor};

/// Starts the thread that owns the button and the LED ring: a press toggles
/// mute; the ring shows the mute state and, when live, the talker's
/// direction (`talker`, degrees); it goes off once stopped.
pub fn spawn_gpio(
    supervisor: &Supervisor,
    mut button: Box<dyn Button>,
    mut leds: Box<dyn Leds>,
    muted: watch::Sender<bool>,
    mut talker: watch::Receiver<Option<f32>>,
    mut privacy_switch: Box<dyn PrivacySwitch>,
    privacy: watch::Sender<bool>,
) -> std::io::Result<()> {
    supervisor.thread("gpio", Progress::NotWatched, move |part| {
        let mut rx = muted.subscribe();
        let show = |leds: &mut Box<dyn Leds>, is_muted: bool, direction: Option<f32>| {
            if let Err(e) = leds.show(&ring_colors(is_muted, leds.count(), direction)) {
                tracing::warn!(error = %e, "cannot update the LED ring");
            }
        };
        show(&mut leds, *rx.borrow_and_update(), *talker.borrow_and_update());
        while !part.stopping() {
            part.alive();
            // Short waits: the ring follows the talker within a tick.
            match button.next_event(Duration::from_millis(20)) {
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
            match privacy_switch.engaged() {
                Ok(engaged) => {
                    privacy.send_if_modified(|p| std::mem::replace(p, engaged) != engaged);
                }
                // Unreadable: engaged, the safe side for people's faces.
                Err(_) => {
                    privacy.send_if_modified(|p| !std::mem::replace(p, true));
                }
            }
            // Mute may also change elsewhere (admin page, later).
            if rx.has_changed().unwrap_or(false) || talker.has_changed().unwrap_or(false) {
                show(&mut leds, *rx.borrow_and_update(), *talker.borrow_and_update());
            }
        }
        let off = vec![Default::default(); leds.count()];
        let _ = leds.show(&off);
        Ok(())
    })
}
