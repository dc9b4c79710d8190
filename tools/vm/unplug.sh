# (d), sourced by init: cameras unplugged and replugged under the running
# daemon; the host checks the daemon's log (results/daemon.log) and the
# times written to results/unplug.times.
#
# v4l2loopback cannot be removed while a process holds its device open (the
# open file pins the module), so its camera is unplugged while the daemon is
# retrying it: plugged but without a picture (no writer yet), removed with
# rmmod between the daemon's attempts, re-added, and its writer started.
# vivid is unplugged while streaming: its "Disconnect" control unregisters
# the node as a USB disconnect does (ENODEV on the open handle), and the node
# returns once the last handle is closed.

# Waits up to $3 seconds for $2 lines matching $1 in the daemon's log.
wait_log() {
  i=0
  while [ "$(grep -c "$1" /results/daemon.log)" -lt "$2" ] && [ $i -lt $(($3 * 10)) ]; do
    sleep 0.1; i=$((i + 1))
  done
  [ "$(grep -c "$1" /results/daemon.log)" -ge "$2" ]
}

ip link set lo up
: > /results/unplug.times
# Made before the daemon starts: the backgrounded redirection below may not
# have created it yet when the first wait looks (a CI run failed so).
: > /results/daemon.log
confcamd run --config /etc/confcam/daemon.toml --data-dir /tmp/data --log-to stderr 2>/results/daemon.log &
daemon=$!
# vivid streams from the start: its first look sets the baseline without a
# state line when it already delivers, so its opening is what shows.
if ! wait_log 'capture failed; retrying.*camera-loopback' 1 60 || ! wait_log 'camera open.*/dev/video0' 1 60; then
  say FAIL unplug "the daemon did not start both cameras: $(tail -n5 /results/daemon.log | tr '\n' ' ')"
else
  # The loopback camera: remove, wait, re-add, start its writer.
  for i in $(seq 100); do rmmod v4l2loopback 2>/dev/null && break; sleep 0.1; done
  if grep -q '^v4l2loopback ' /proc/modules; then
    say FAIL unplug "cannot rmmod v4l2loopback under the daemon"
  else
    echo "loopback-removed $(now)" >> /results/unplug.times
    sleep 3
    load v4l2loopback $LOOPBACK && wait_for /dev/video10 5
    frame-feed /dev/video10 MJPG 640 480 5 /fixtures/picture.jpg 2>>/results/feed.err &
    feed=$!
    echo "loopback-replugged $(now)" >> /results/unplug.times
    wait_log 'capture resumed.*camera-loopback' 1 60
    echo "loopback-resumed $(now)" >> /results/unplug.times
  fi
  # vivid: pull the cable while it streams.
  echo "vivid-unplugged $(now)" >> /results/unplug.times
  vivid-unplug /dev/video0 || say FAIL unplug "vivid-unplug failed"
  wait_log 'capture resumed.*camera-vivid' 1 60
  echo "vivid-resumed $(now)" >> /results/unplug.times
  sleep 1
fi
kill $daemon; wait $daemon
[ -n "${feed:-}" ] && kill $feed
say unplug finished
