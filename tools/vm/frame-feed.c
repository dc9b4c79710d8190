/* frame-feed: plays frames into a v4l2loopback output device as a camera
 * would, so the box's real V4L2 capture path has something to take: one
 * JPEG over and over (an MJPEG camera), or H.264 access units in turn (an
 * encoding camera). Runs inside the VM test (tools/vm-test); stops on
 * SIGTERM.
 *
 *   frame-feed DEVICE FOURCC WIDTH HEIGHT FPS FRAME-FILE...
 *
 * v4l2loopback 0.12 takes whole frames through write() once the output
 * format is set with VIDIOC_S_FMT (each write is one buffer, its length the
 * buffer's bytesused); there is no userspace tool for that in busybox,
 * hence this. Built statically on the host. */
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct frame {
  char *data;
  size_t len;
};

static int load(const char *path, struct frame *f) {
  int in = open(path, O_RDONLY);
  struct stat st;
  if (in < 0 || fstat(in, &st) < 0) {
    fprintf(stderr, "frame-feed: %s: %s\n", path, strerror(errno));
    return -1;
  }
  f->len = st.st_size;
  f->data = malloc(f->len);
  if (!f->data || read(in, f->data, f->len) != (ssize_t)f->len) {
    fprintf(stderr, "frame-feed: cannot read %s\n", path);
    return -1;
  }
  close(in);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 7 || strlen(argv[2]) != 4) {
    fprintf(stderr, "usage: frame-feed DEVICE FOURCC WIDTH HEIGHT FPS FRAME-FILE...\n");
    return 2;
  }
  int count = argc - 6;
  struct frame *frames = calloc(count, sizeof *frames);
  size_t largest = 0;
  for (int i = 0; i < count; i++) {
    if (load(argv[6 + i], &frames[i]) < 0) return 1;
    if (frames[i].len > largest) largest = frames[i].len;
  }
  int fd = open(argv[1], O_RDWR);
  if (fd < 0) {
    fprintf(stderr, "frame-feed: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  const char *cc = argv[2];
  __u32 fourcc = v4l2_fourcc(cc[0], cc[1], cc[2], cc[3]);
  struct v4l2_format fmt;
  memset(&fmt, 0, sizeof fmt);
  fmt.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
  fmt.fmt.pix.width = atoi(argv[3]);
  fmt.fmt.pix.height = atoi(argv[4]);
  fmt.fmt.pix.pixelformat = fourcc;
  fmt.fmt.pix.field = V4L2_FIELD_NONE;
  fmt.fmt.pix.sizeimage = largest;
  if (ioctl(fd, VIDIOC_S_FMT, &fmt) < 0) {
    fprintf(stderr, "frame-feed: %s: VIDIOC_S_FMT: %s\n", argv[1], strerror(errno));
    return 1;
  }
  if (fmt.fmt.pix.pixelformat != fourcc || fmt.fmt.pix.sizeimage < largest) {
    fprintf(stderr, "frame-feed: %s: driver chose %.4s with %u-byte frames\n", argv[1],
            (char *)&fmt.fmt.pix.pixelformat, fmt.fmt.pix.sizeimage);
    return 1;
  }
  long fps = atol(argv[5]);
  struct timespec period = {0, 1000000000L / (fps > 0 ? fps : 10)};
  fprintf(stderr, "frame-feed: %s: %ux%u %s, %d frame(s) of up to %zu bytes at %ld fps\n", argv[1],
          fmt.fmt.pix.width, fmt.fmt.pix.height, cc, count, largest, fps);
  for (int i = 0;; i = (i + 1) % count) {
    ssize_t n = write(fd, frames[i].data, frames[i].len);
    if (n != (ssize_t)frames[i].len) {
      fprintf(stderr, "frame-feed: %s: write: %s\n", argv[1], n < 0 ? strerror(errno) : "short");
      return 1;
    }
    nanosleep(&period, NULL);
  }
}
