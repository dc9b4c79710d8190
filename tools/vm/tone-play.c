/* tone-play: plays a 1 kHz sine into an ALSA playback device (the
 * snd-aloop side the box's microphone capture listens on), so the real
 * ALSA capture path gets paced, known audio. Runs inside the VM test
 * (tools/vm-test); linked against the same libasound as confcamd.
 *
 *   tone-play DEVICE CHANNELS RATE SECONDS */
#include <alsa/asoundlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: tone-play DEVICE CHANNELS RATE SECONDS\n");
    return 2;
  }
  unsigned channels = atoi(argv[2]), rate = atoi(argv[3]);
  long total = (long)(atof(argv[4]) * rate);
  snd_pcm_t *pcm;
  int err = snd_pcm_open(&pcm, argv[1], SND_PCM_STREAM_PLAYBACK, 0);
  if (err >= 0)
    err = snd_pcm_set_params(pcm, SND_PCM_FORMAT_S16_LE, SND_PCM_ACCESS_RW_INTERLEAVED, channels, rate, 0, 100000);
  if (err < 0) {
    fprintf(stderr, "tone-play: %s: %s\n", argv[1], snd_strerror(err));
    return 1;
  }
  enum { PERIOD = 480 };
  short *buf = malloc(sizeof(short) * PERIOD * channels);
  for (long done = 0; done < total;) {
    for (int i = 0; i < PERIOD; i++)
      for (unsigned c = 0; c < channels; c++)
        buf[i * channels + c] = (short)(8000 * sin(2 * M_PI * 1000.0 * (done + i) / rate));
    snd_pcm_sframes_t n = snd_pcm_writei(pcm, buf, PERIOD);
    if (n < 0)
      n = snd_pcm_recover(pcm, n, 0);
    if (n < 0) {
      fprintf(stderr, "tone-play: %s: %s\n", argv[1], snd_strerror(n));
      return 1;
    }
    done += n;
  }
  snd_pcm_drain(pcm);
  snd_pcm_close(pcm);
  return 0;
}
