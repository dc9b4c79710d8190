/* mjpeg-feed: plays a JPEG picture into a v4l2loopback output device as an
 * MJPEG camera would, so the box's real V4L2 capture path has something to
 * decode. Runs inside the VM test (tools/vm-test); stops on SIGTERM.
 *
 *   mjpeg-feed DEVICE PICTURE.jpg WIDTH HEIGHT FPS
 *
 * v4l2loopback 0.12 takes whole frames through write() once the output
 * format is set with VIDIOC_S_FMT; there is no userspace tool for that in
 * busybox, hence this. Built statically on the host. */
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

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: mjpeg-feed DEVICE PICTURE.jpg WIDTH HEIGHT FPS\n");
    return 2;
  }
  int in = open(argv[2], O_RDONLY);
  struct stat st;
  if (in < 0 || fstat(in, &st) < 0) {
    fprintf(stderr, "mjpeg-feed: %s: %s\n", argv[2], strerror(errno));
    return 1;
  }
  char *jpeg = malloc(st.st_size);
  if (!jpeg || read(in, jpeg, st.st_size) != st.st_size) {
    fprintf(stderr, "mjpeg-feed: cannot read %s\n", argv[2]);
    return 1;
  }
  close(in);
  int fd = open(argv[1], O_RDWR);
  if (fd < 0) {
    fprintf(stderr, "mjpeg-feed: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  struct v4l2_format fmt;
  memset(&fmt, 0, sizeof fmt);
  fmt.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
  fmt.fmt.pix.width = atoi(argv[3]);
  fmt.fmt.pix.height = atoi(argv[4]);
  fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_MJPEG;
  fmt.fmt.pix.field = V4L2_FIELD_NONE;
  fmt.fmt.pix.sizeimage = st.st_size;
  if (ioctl(fd, VIDIOC_S_FMT, &fmt) < 0) {
    fprintf(stderr, "mjpeg-feed: %s: VIDIOC_S_FMT: %s\n", argv[1], strerror(errno));
    return 1;
  }
  if (fmt.fmt.pix.pixelformat != V4L2_PIX_FMT_MJPEG || fmt.fmt.pix.sizeimage < (unsigned)st.st_size) {
    fprintf(stderr, "mjpeg-feed: %s: driver chose %.4s with %u-byte frames\n", argv[1],
            (char *)&fmt.fmt.pix.pixelformat, fmt.fmt.pix.sizeimage);
    return 1;
  }
  long fps = atol(argv[5]);
  struct timespec period = {0, 1000000000L / (fps > 0 ? fps : 10)};
  fprintf(stderr, "mjpeg-feed: %s: %ux%u MJPG, %ld-byte frames at %ld fps\n", argv[1], fmt.fmt.pix.width,
          fmt.fmt.pix.height, (long)st.st_size, fps);
  for (;;) {
    ssize_t n = write(fd, jpeg, st.st_size);
    if (n != st.st_size) {
      fprintf(stderr, "mjpeg-feed: %s: write: %s\n", argv[1], n < 0 ? strerror(errno) : "short");
      return 1;
    }
    nanosleep(&period, NULL);
  }
}
